// The public posting (公示) page: no login needed to read it. Names are masked by the server.
// A logged-in member of the community may lodge an appeal while the posting is open and sees
// the answers to their appeals; after the period the page says the posting has ended.
import { api, ApiError, clearErrors, requireLogin, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";
import { fmtDay, quarterLabel } from "./rankings-parts.js";

initPage({ nav: false }); // a public page: most readers are not logged in

const $ = (id) => document.getElementById(id);
const postingId = new URLSearchParams(location.search).get("id");
let posting = null;

function amountText(amount) {
  return posting.unit === "minutes" ? fmtMinutes(amount) : t("unit.points", { n: fmtPoints(amount) });
}

function entry(item) {
  return h("li", { class: ["posting-entry", item.rank <= 3 ? `top-${item.rank}` : null] },
    h("span", { class: "entry-rank", "aria-label": t("posting.rank_aria", { n: item.rank }) }, item.rank),
    h("span", { class: "entry-name" }, item.closed ? t("account.closed") : withClosedNames(item.name),
      item.party_household ? h("span", { class: "badge badge-accent" }, t("posting.party_household")) : null,
      ...(item.medals || []).map((m) => h("span", { class: "badge badge-info medal" }, m))),
    posting.scope === "selection" ? null : h("span", { class: "entry-points" }, amountText(item.amount)));
}

function myAppeal(a) {
  return h("li", { class: "appeal" },
    h("div", { class: "appeal-head" }, h("strong", {}, t("posting.my_appeal")),
      h("span", { class: "muted small" }, fmtTime(a.created_at))),
    h("p", { class: "appeal-reason" }, a.reason),
    a.answer
      ? h("p", { class: "appeal-answer" }, h("span", { class: "badge badge-ok" }, t("posting.answered")), " ", a.answer)
      : h("p", { class: "muted small" }, h("span", { class: "badge badge-warn" }, t("posting.waiting")), " ",
        t("posting.waiting_text")));
}

async function loadMyAppeals() {
  const { items } = await api("GET", `/api/postings/${posting.id}/appeals`);
  $("my-appeals").replaceChildren(...items.map(myAppeal));
}

function render() {
  const ended = posting.status === "ended";
  document.title = `${quarterLabel(posting.quarter)} ${t(posting.scope === "selection" ? "posting.heading_selection" : "posting.heading")} · ${t("app.name")}`;
  $("posting-org").textContent = [posting.street_name, posting.community_name].filter(Boolean).join(" · ");
  $("posting-title").replaceChildren(h("span", { class: "posting-quarter" }, quarterLabel(posting.quarter)),
    h("span", {}, t(posting.scope === "selection" ? "posting.heading_selection" : "posting.heading")));
  $("posting-kind").textContent = posting.scope === "selection"  // a quarter's selection result
    ? t("posting.kind_selection", { title: posting.title })
    : t(posting.scope === "household" ? "posting.kind_household" : "posting.kind_people",
      { what: t(posting.unit === "minutes" ? "posting.by_minutes" : "posting.by_points") });
  $("posting-period").textContent = t("posting.period", { from: fmtDay(posting.starts_at), to: fmtDay(posting.ends_at) });
  const tone = { open: "badge-ok", ended: "badge-muted", upcoming: "badge-info" }[posting.status];
  $("posting-status").replaceChildren(h("span", { class: ["badge", tone] }, t(`posting.status_${posting.status}`)));
  $("ended").hidden = !ended;
  $("entries").replaceChildren(...posting.items.map(entry));
  $("entries-empty").hidden = posting.items.length > 0;
  $("status").hidden = true;
  $("posting").hidden = false;
}

async function setUpAppeals() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
    me = null;
  }
  const open = posting.status === "open";
  if (!me) {
    if (!open) return; // nothing to offer a visitor after the period
    $("appeal-card").hidden = false;
    $("appeal-login").hidden = false;
    $("appeal-login").href = `/login.html?next=${encodeURIComponent(location.pathname + location.search)}`;
    return;
  }
  const member = (me.memberships ?? []).some((m) => m.community_id === posting.community_id);
  await loadMyAppeals();
  const hasAppeals = $("my-appeals").children.length > 0;
  if (!open && !hasAppeals) return;
  $("appeal-card").hidden = false;
  $("appeal-hint").hidden = !open;
  $("appeal-form").hidden = !(open && member);
  $("appeal-not-member").hidden = !open || member;
}

$("appeal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  const reason = $("reason").value.trim();
  clearErrors(form);
  if (!reason) {
    showError({ message: t("error.required") }, form, "reason");
    return;
  }
  setBusy(button, true);
  try {
    await api("POST", `/api/postings/${posting.id}/appeals`, { reason });
    $("reason").value = "";
    toast(t("posting.submitted"), "success");
    await loadMyAppeals();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else if (err instanceof ApiError && err.details?.why === "appeal_pending") showError({ message: t("posting.pending_exists") }, form);
    else if (err instanceof ApiError && err.details?.why === "posting_ended") {
      showError({ message: t("posting.ended_text") }, form);
      posting = await api("GET", `/api/public/postings/${posting.id}`);
      render();
    } else showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

async function load() {
  $("status").hidden = false;
  $("status").textContent = t("common.loading");
  if (!/^\d{1,18}$/.test(postingId ?? "")) {
    $("status").textContent = t("posting.not_found");
    return;
  }
  try {
    posting = await api("GET", `/api/public/postings/${postingId}`);
  } catch (err) {
    $("status").replaceChildren(
      h("p", { role: "alert" }, err instanceof ApiError && err.status === 404 ? t("posting.not_found") : err.message),
      h("button", { type: "button", class: "btn btn-secondary", onclick: load }, t("common.retry")));
    return;
  }
  render();
  try {
    await setUpAppeals();
  } catch {
    // the list is what matters on this page; appeals can be tried again after a reload
  }
}

load();

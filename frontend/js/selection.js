// 评选: a quarter's selection of 道德模范 or 最美家庭. Residents nominate (one per household)
// and vote (one ballot per household); the committee (two managers or more) decides with a reason per
// choice; the result is posted as 公示 (appeals there), then made final. Managers also award and revoke
// medals here. ?id=<selection> opens one; without it, the community's list.
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";
import { recentQuarters, quarterLabel } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const selectionId = Number(new URLSearchParams(location.search).get("id")) || null;
let me = null;
let sel = null;

async function submitting(form, work) {
  clearErrors(form);
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    await work();
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
}

// ---- one selection ---------------------------------------------------------------------------

function candidateRow(c) {
  const box = sel.voting && sel.my_household_id && !sel.my_vote
    ? h("input", { type: "checkbox", name: "candidate", value: c.id, id: `c-${c.id}`, class: "check" }) : null;
  const label = h(box ? "label" : "span", box ? { for: `c-${c.id}` } : {}, h("strong", {}, withClosedNames(c.name)));
  return h("li", { class: "held-item", id: `cand-${c.id}` },
    h("div", { class: "check-row" }, box, label,
      c.party_household ? h("span", { class: "badge badge-accent" }, t("recog.party_household")) : null,
      c.chosen === true ? h("span", { class: "badge badge-ok" }, t("sel.chosen")) : null),
    c.members ? h("div", { class: "muted small" }, c.members.join("、")) : null,
    h("div", { class: "muted small" }, [
      c.from_ranking ? t("sel.from_ranking", { rank: c.rank, score: fmtPoints(c.score) }) : null,
      c.nominated ? t("sel.nominated") : null,
      c.votes != null ? t("sel.votes", { n: c.votes }) : null].filter(Boolean).join(" · ")),
    c.reason ? h("div", { class: "small" }, t("sel.nomination_reason", { text: c.reason })) : null,
    c.choice_reason ? h("div", { class: "small" }, t("sel.choice_reason", { text: c.choice_reason })) : null);
}

async function renderDetail() {
  sel = await api("GET", `/api/selections/${selectionId}`);
  $("heading").textContent = t("sel.title", { quarter: quarterLabel(sel.quarter), title: sel.title });
  $("sel-meta").textContent = `${sel.community_name} · ${t("sel.until", { at: fmtTime(sel.votes_until) })} · ${t("sel.voted", { n: sel.households_voted })}`;
  $("sel-state").replaceChildren(h("span", { class: "badge badge-info" }, t(`recog.state_${sel.state}`)),
    sel.my_vote ? h("span", { class: "muted small" }, " ", t("sel.my_vote_done")) : "");
  $("sel-posting").hidden = !sel.posting_id;
  $("posting-link").href = `/posting.html?id=${sel.posting_id}`;
  $("candidates").replaceChildren(...sel.candidates.map(candidateRow));
  const canVote = sel.voting && sel.my_household_id && !sel.my_vote && sel.candidates.length > 0;
  $("vote-submit").hidden = !canVote;
  $("vote-hint").hidden = !canVote;
  $("vote-hint").textContent = t("sel.vote_hint", { n: sel.max_votes });
  const canNominate = sel.voting && sel.my_household_id && !sel.my_household_nominated;
  $("nominate-card").hidden = !canNominate;  // a household is named by one of its members
  if (canNominate) {
    const people = await api("GET", `/api/communities/${sel.community_id}/members?limit=100`);
    $("nominee").replaceChildren(...people.items.filter((p) => p.id !== me.id)
      .map((p) => h("option", { value: p.id }, withClosedNames(p.name))));
  }
  const closed = sel.state === "open" && !sel.voting;
  $("decide-card").hidden = !(sel.can_manage && closed);
  $("decide-list").replaceChildren(...sel.candidates.map((c) => h("li", { class: "decide-row" },
    h("div", { class: "check-row" }, h("input", { type: "checkbox", id: `pick-${c.id}`, name: "pick", value: c.id, class: "check" }),
      h("label", { for: `pick-${c.id}` }, `${withClosedNames(c.name)} · ${t("sel.votes", { n: c.votes ?? 0 })} · ${fmtPoints(c.score)}`)),
    h("div", { class: "field" }, h("label", { for: `why-${c.id}` }, t("sel.reason")),
      h("input", { id: `why-${c.id}`, name: `why-${c.id}`, maxlength: "500" })))));
  $("manage-card").hidden = !sel.can_manage;
  $("csv-link").href = `/api/selections/${sel.id}/export.csv`;
  $("final").hidden = sel.state !== "posted";
  $("detail-view").hidden = false;
  $("status").hidden = true;
}

$("vote-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const ids = [...document.querySelectorAll("input[name=candidate]:checked")].map((el) => Number(el.value));
  submitting(event.currentTarget, async () => {
    await api("POST", `/api/selections/${selectionId}/votes`, { candidate_ids: ids });
    toast(t("sel.voted_ok"), "success");
    await renderDetail();
  });
});
$("nominate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitting(event.currentTarget, async () => {
    await api("POST", `/api/selections/${selectionId}/nominations`,
      { user_id: Number($("nominee").value), reason: $("nominate-reason").value.trim() });
    toast(t("sel.nominated_ok"), "success");
    await renderDetail();
  });
});
$("decide-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const choices = [...document.querySelectorAll("input[name=pick]:checked")].map((el) => ({
    candidate_id: Number(el.value), reason: $(`why-${el.value}`).value.trim() }));
  submitting(event.currentTarget, async () => {
    await api("POST", `/api/selections/${selectionId}/decision`, { choices });
    toast(t("sel.decided_ok"), "success");
    await renderDetail();
  });
});
$("final").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    await api("POST", `/api/selections/${selectionId}/final`);
    toast(t("sel.final_ok"), "success");
    await renderDetail();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
});

// ---- the community's list, opening one, medals -------------------------------------------------

function medalRow(m) {
  const reason = h("input", { class: "input", name: "reason", maxlength: "500", "aria-label": t("sel.revoke_reason"),
    placeholder: t("sel.revoke_reason") });
  const revoke = async (button) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/medals/${m.id}/revoke`, { reason: reason.value.trim() });
      toast(t("sel.revoked_ok"), "success");
      await loadMedals();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  return h("li", { class: "held-item" }, h("strong", {}, m.name), " ", h("span", { class: "muted small" }, fmtTime(m.awarded_at)),
    m.revoked_at ? h("div", { class: "muted small" }, t("recog.revoked", { reason: m.revoke_reason }))
      : h("div", { class: "held-actions" }, reason, h("button", { type: "button", class: "btn btn-secondary",
        onclick: (e) => revoke(e.currentTarget) }, t("sel.revoke"))));
}

async function loadMedals() {
  const { items } = await api("GET", `/api/communities/${$("community").value}/medals`);
  $("medal-list").replaceChildren(...items.map(medalRow));
}

async function loadList() {
  const community = $("community").value;
  const { items } = await api("GET", `/api/communities/${community}/selections`);
  $("selections").replaceChildren(...items.map((s) => h("li", {},
    h("a", { href: `/selection.html?id=${s.id}` }, t("sel.title", { quarter: quarterLabel(s.quarter), title: s.title })),
    " ", h("span", { class: "badge badge-info" }, t(`recog.state_${s.state}`)))));
  $("selections-empty").hidden = items.length > 0;
  const manages = me.manages.some((o) => String(o.id) === community) || me.is_admin;
  $("open-card").hidden = !manages;
  $("medals-card").hidden = !manages;
  if (manages) await loadMedals();
}

async function renderList() {
  const levels = new Set((me.levels || []).map((o) => o.id));
  const communities = [...new Map([...me.memberships.map((m) => [m.community_id, m.org_name]),
    ...me.manages.filter((o) => !levels.has(o.id)).map((o) => [o.id, o.name])]).entries()];
  if (!communities.length) {
    $("status").textContent = t("sel.no_community");
    return;
  }
  $("community").replaceChildren(...communities.map(([id, name]) => h("option", { value: id }, name)));
  $("community-field").hidden = communities.length < 2;
  $("community").onchange = () => loadList().catch((err) => handlePageError(err));
  $("quarter").replaceChildren(...recentQuarters(4).map((q) => h("option", { value: q }, quarterLabel(q))));
  await loadList();
  $("list-view").hidden = false;
  $("status").hidden = true;
}

$("open-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitting(form, async () => {
    const opened = await api("POST", "/api/selections", { community_id: Number($("community").value),
      kind: $("kind").value, quarter: $("quarter").value, top_n: Number($("top_n").value),
      max_votes: Number($("max_votes").value), days: Number($("days").value) });
    location.assign(`/selection.html?id=${opened.id}`);
  });
});
$("sweep").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    const done = await api("POST", `/api/communities/${$("community").value}/medals/sweep`);
    toast(t("sel.swept", { n: done.awarded }), "success");
    await loadMedals();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
});

async function start() {
  try {
    me = await api("GET", "/api/me");
    await (selectionId ? renderDetail() : renderList());
  } catch (err) {
    handlePageError(err, $("status"), start);
  }
}

start();

// Rankings for managers: choose community, scope, quarter and unit; see the table; download the
// CSV; publish the top list as a public posting (公示) and answer appeals; export the ledger.
import { renderNotices } from "./recognition-parts.js";
import { joinHint } from "./join-hint.js";
import { api, clearErrors, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";
import {
  fillCommunitySelect, fmtDay, managedCommunities, period, quarterLabel, recentQuarters, remember,
} from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { community: null, street: null, generation: 0 };

function amountText(amount, unit) {
  return unit === "minutes" ? fmtMinutes(amount) : fmtPoints(amount);
}

// ---- the ranking ----------------------------------------------------------------------------

function query() {
  const scope = $("scope").value;
  const orgId = scope === "street" ? state.street : scope === "team" ? $("team").value : state.community;
  return { scope, org_id: orgId, quarter: $("quarter").value, unit: $("unit").value };
}

function rankCell(rank) {
  return h("td", { class: "num rank-cell" }, h("span", { class: ["rank", rank <= 3 ? `rank-${rank}` : null] }, rank));
}

function renderRanking(r) {
  const household = r.scope === "household";
  $("ranking-title").textContent = t("rank.table_title", { org: r.org_name, quarter: quarterLabel(r.quarter) });
  $("ranking-note").textContent = t(r.unit === "minutes" ? "rank.note_minutes" : "rank.note_points");
  $("ranking-head").replaceChildren(
    h("th", { scope: "col", class: "num" }, t("rank.col_rank")),
    h("th", { scope: "col" }, t(household ? "rank.col_household" : "rank.col_name")),
    h("th", { scope: "col" }, t(household ? "rank.col_members" : "rank.col_phone")),
    h("th", { scope: "col", class: "num" }, t(r.unit === "minutes" ? "rank.col_minutes" : "rank.col_points")));
  $("ranking-rows").replaceChildren(...r.items.map((item) => h("tr", {},
    rankCell(item.rank),
    h("td", { class: "name-cell" }, withClosedNames(item.name)),
    household ? h("td", { class: "wrap muted" }, (item.members ?? []).join("、") || "–")
      : h("td", { class: "num muted" }, item.phone || "–"),
    h("td", { class: "num amount-cell" }, amountText(item.amount, r.unit)))));
  const empty = r.items.length === 0;
  $("ranking-status").hidden = !empty && r.total <= r.items.length;
  $("ranking-status").textContent = empty ? t("rank.empty")
    : t("rank.truncated", { shown: r.items.length, total: r.total });
}

async function loadRanking() {
  const generation = ++state.generation;
  const q = query();
  const params = new URLSearchParams(q);
  $("csv").href = `/api/rankings?${params}&format=csv`;
  $("team-field").hidden = q.scope !== "team";
  // A posting is of this community's residents or households, never a street or a team.
  $("publish-card").hidden = !["community", "household"].includes(q.scope);
  if (!q.org_id) {
    $("ranking-rows").replaceChildren();
    $("ranking-status").hidden = false;
    $("ranking-status").textContent = t(q.scope === "team" ? "rank.no_teams" : "rank.empty");
    $("csv").hidden = true;
    return;
  }
  $("csv").hidden = false;
  $("ranking-status").hidden = false;
  $("ranking-status").textContent = t("common.loading");
  try {
    const r = await api("GET", `/api/rankings?${params}&limit=500`);
    if (generation === state.generation) renderRanking(r);
  } catch (err) {
    if (generation === state.generation) handlePageError(err, $("ranking-status"), loadRanking);
  }
}

// ---- postings and appeals -------------------------------------------------------------------

function statusBadge(status) {
  const tone = { open: "badge-ok", ended: "badge-muted", upcoming: "badge-info" }[status] ?? "badge-muted";
  return h("span", { class: ["badge", tone] }, t(`posting.status_${status}`));
}

function answerForm(appeal, onDone) {
  const input = h("textarea", { name: "answer", required: true, maxlength: 1000, rows: 2,
    "aria-label": t("rank.answer_label"), placeholder: t("rank.answer_ph") });
  const button = h("button", { type: "submit", class: "btn btn-primary btn-small" }, t("rank.answer"));
  const form = h("form", { class: "answer-form", novalidate: true }, h("div", { class: "field" }, input), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!input.value.trim()) {
      showError({ message: t("error.required") }, form, "answer");
      return;
    }
    setBusy(button, true);
    try {
      await api("POST", `/api/appeals/${appeal.id}/answer`, { answer: input.value.trim() });
      toast(t("rank.answered"), "success");
      onDone();
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
  return form;
}

function appealItem(appeal, reload) {
  return h("li", { class: "appeal" },
    h("div", { class: "appeal-head" }, h("strong", {}, appeal.name), h("span", { class: "muted small" }, fmtTime(appeal.created_at))),
    h("p", { class: "appeal-reason" }, appeal.reason),
    appeal.answer
      ? h("p", { class: "appeal-answer" }, h("span", { class: "badge badge-ok" }, t("posting.answered")), " ", appeal.answer,
        h("span", { class: "muted small" }, ` — ${appeal.answered_by ?? ""} ${fmtTime(appeal.answered_at)}`))
      : answerForm(appeal, reload));
}

async function showAppeals(posting, holder) {
  const reload = () => showAppeals(posting, holder);
  holder.replaceChildren(h("p", { class: "muted small" }, t("common.loading")));
  try {
    const { items } = await api("GET", `/api/postings/${posting.id}/appeals`);
    holder.replaceChildren(items.length
      ? h("ul", { class: "appeals" }, items.map((a) => appealItem(a, reload)))
      : h("p", { class: "muted small" }, t("rank.no_appeals")));
  } catch (err) {
    handlePageError(err, holder, reload);
  }
}

function postingItem(p) {
  const appealsBox = h("div", { class: "appeals-box" });
  const toggle = h("button", { type: "button", class: "btn btn-ghost btn-small", "aria-expanded": "false" },
    t("rank.appeals", { n: p.appeals }));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    if (open) showAppeals(p, appealsBox);
    else appealsBox.replaceChildren();
  });
  return h("li", { class: "posting-row" },
    h("div", { class: "posting-main" },
      h("div", {}, h("strong", {}, quarterLabel(p.quarter)), " ",
        h("span", { class: "muted small" }, p.title ? t("recog.posting_selection", { quarter: "", title: p.title })
          : t(p.scope === "household" ? "rank.scope_household" : "rank.scope_community")),
        " ", statusBadge(p.status)),
      h("div", { class: "muted small" },
        h("span", { class: "nowrap" }, t("posting.period", { from: fmtDay(p.starts_at), to: fmtDay(p.ends_at) })),
        " · ", h("span", { class: "nowrap" }, t("rank.top_shown", { n: p.items.length })))),
    h("div", { class: "posting-actions" },
      h("a", { class: "btn btn-secondary btn-small", href: `/posting.html?id=${p.id}`, target: "_blank", rel: "noopener" },
        t("rank.open_public")),
      toggle),
    appealsBox);
}

async function loadPostings() {
  try {
    const { items } = await api("GET", `/api/communities/${state.community}/postings`);
    $("postings").replaceChildren(...(items.length ? items.map(postingItem)
      : [h("li", { class: "muted" }, t("rank.no_postings"))]));
  } catch (err) {
    handlePageError(err);
  }
}

$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  clearErrors(form);
  const q = query();
  const body = { community_id: state.community, quarter: q.quarter, scope: q.scope, unit: q.unit,
    top_n: Number($("top-n").value), days: Number($("days").value) };
  if (!confirm(t("rank.publish_confirm", { quarter: quarterLabel(q.quarter), n: body.top_n, days: body.days }))) return;
  setBusy(button, true);
  try {
    const posting = await api("POST", "/api/postings", body);
    toast(t("rank.published"), "success");
    await loadPostings();
    window.open(`/posting.html?id=${posting.id}`, "_blank", "noopener");
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

// ---- ledger export --------------------------------------------------------------------------

function updateExportLink() {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  $("ledger-csv").href = `/api/communities/${state.community}/ledger.csv?${params}`;
}

// ---- start ----------------------------------------------------------------------------------

async function loadCommunity() {
  const [org, teams] = await Promise.all([
    api("GET", `/api/orgs/${state.community}`),
    api("GET", `/api/communities/${state.community}/teams`),
  ]);
  state.street = org.parent_id;
  $("team").replaceChildren(...teams.items.map((team) =>
    h("option", { value: team.id }, t("rank.team_option", { name: team.name, n: team.members }))));
  $("to-dashboard").href = `/dashboard.html?community_id=${state.community}`;
  updateExportLink();
  await Promise.all([loadRanking(), loadPostings()]);
}

async function showMyRanks() {
  const ranks = await api("GET", "/api/me/rank");
  $("my-ranks").replaceChildren(...(ranks.length ? ranks.map((r) => h("section", { class: "card" },
    h("h2", {}, `${r.community_name} · ${quarterLabel(r.quarter)}`),
    h("p", { class: "my-rank-line" }, r.rank ? t("home.rank_value", { rank: r.rank, of: r.of, amount: r.amount })
      : t("home.rank_none")),
    h("ol", { class: "list" }, ...r.top.map((i) => h("li", { class: "rank-line" },
      h("span", {}, `${i.rank}. ${i.name}`), h("span", {}, String(i.amount)))))))
    : [joinHint()]));
}

async function start() {
  try {
    const { list, current } = await managedCommunities();
    $("status").hidden = true;
    if (!current) {  // a volunteer: their own rank and the masked top of each of their communities
      await showMyRanks();
      $("not-manager").hidden = false;
      const me = await api("GET", "/api/me");  // 公示 and selections of my community
      if (me.memberships.length) await renderNotices($("notices"), me.memberships[0].community_id);
      return;
    }
    state.community = current;
    fillCommunitySelect($("community"), list, current);
    $("quarter").replaceChildren(...recentQuarters(8).map((q) => h("option", { value: q }, quarterLabel(q))));
    // The server's quarter and day (LINLI_TZ), not the phone's: they differ for hours at a boundary.
    $("from").value = period?.quarter_starts_at.slice(0, 10) ?? "";
    $("to").value = period?.today ?? "";
    $("page").hidden = false;
    await loadCommunity();
  } catch (err) {
    handlePageError(err, $("status"), start);
  }
}

$("community").addEventListener("change", (event) => {
  state.community = Number(event.target.value);
  remember(state.community);
  history.replaceState(null, "", `?community_id=${state.community}`);
  loadCommunity().catch((err) => handlePageError(err));
});
for (const id of ["scope", "team", "quarter", "unit"]) $(id).addEventListener("change", loadRanking);
for (const id of ["from", "to"]) $(id).addEventListener("change", updateExportLink);
$("filters").addEventListener("submit", (event) => event.preventDefault());

start();

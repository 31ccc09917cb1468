// A work unit's administrator: their confirmed members' service this quarter in any community,
// 报到率 and 完成率, the unit's rank among units of the same street or district, and the tools to
// confirm members and upload the member list.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, hoursNumber, initPage, setBusy, toast } from "./ui.js";
import { quarterLabel, recentQuarters } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { unit: null };
const percent = (n) => `${n.toFixed(1)}%`;

function reportText(member) {
  if (member.report_state === "approved") return member.community_name;
  if (member.report_state === "pending") return `${member.community_name}（${t("units.pending")}）`;
  return t("units.not_reported");
}

function memberRow(m) {
  return h("tr", {},
    h("td", {}, m.name),
    h("td", {}, m.party_member ? t("units.yes") : t("units.no")),
    h("td", {}, reportText(m)),
    h("td", { class: "num" }, fmtMinutes(m.minutes)),
    h("td", { class: "num" }, fmtPoints(m.points)),
    h("td", {}, h("span", { class: ["badge", m.card_confirmed ? "badge-ok" : "badge-muted"] },
      m.card_confirmed ? t("units.card_yes") : t("units.card_no"))));
}

function claimRow(m) {
  const button = h("button", { type: "button", class: "btn btn-secondary btn-small" }, t("units.confirm"));
  button.addEventListener("click", async () => {
    setBusy(button, true);
    try {
      await api("POST", `/api/units/${state.unit}/members/${m.user_id}/confirm`);
      toast(t("units.confirmed"));
      await load();
    } catch (err) {
      handlePageError(err);
      setBusy(button, false);
    }
  });
  return h("li", { class: "claim" }, h("span", {}, `${m.name} ${m.phone ?? ""}`), button);
}

async function load() {
  const view = await api("GET", `/api/units/${state.unit}/view?quarter=${$("quarter").value}`);
  $("f-members").textContent = String(view.members.length);
  $("f-hours").textContent = fmtMinutes(view.minutes);
  $("f-points").textContent = fmtPoints(view.points);
  $("f-reported").textContent = percent(view.reported_rate);
  $("f-completion").textContent = percent(view.completion_rate);
  $("f-target").textContent = view.target_minutes == null ? t("units.no_target")
    : t("units.target", { hours: hoursNumber(view.target_minutes) });
  $("f-rank-label").textContent = t("units.rank", { parent: view.unit.parent_name });
  $("f-rank").textContent = view.rank ? t("units.rank_value", { rank: view.rank, of: view.units_ranked }) : "–";
  $("members").replaceChildren(...view.members.map(memberRow));
  $("claims").replaceChildren(...(view.pending_claims.length ? view.pending_claims.map(claimRow)
    : [h("li", { class: "muted" }, t("units.claims_empty"))]));
  $("ranking").replaceChildren(...view.ranking.map((u) => h("li", { class: u.unit_id === view.unit.id ? "is-mine" : null },
    h("span", { class: "rank-no" }, String(u.rank)), h("span", { class: "rank-name" }, u.name),
    h("span", { class: "rank-amount" }, fmtMinutes(u.minutes)))));
  $("csv").href = `/api/units/${state.unit}/view?quarter=${$("quarter").value}&format=csv`;
}

$("roster-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("roster-file").files[0];
  if (!file) return;
  const button = event.submitter;
  setBusy(button, true);
  try {
    const form = new FormData();
    form.append("file", file);
    const result = await api("POST", `/api/units/${state.unit}/roster`, form);
    $("roster-result").replaceChildren(
      h("p", {}, t("units.roster_done", { rows: result.rows, added: result.added, problems: result.problems.length })),
      ...result.problems.slice(0, 20).map((p) => h("p", { class: "field-error" },
        t("units.problem_line", { line: p.line, problem: t(`units.problem.${p.problem}`) }))));
    await load();
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
});

for (const id of ["unit", "quarter"]) {
  $(id).addEventListener("change", () => {
    state.unit = Number($("unit").value);
    load().catch((err) => handlePageError(err));
  });
}

try {
  const mine = await api("GET", "/api/units?mine=true");
  $("status").hidden = true;
  if (!mine.length) {
    $("none").hidden = false;
  } else {
    $("unit").replaceChildren(...mine.map((u) => h("option", { value: u.id }, u.name)));
    $("quarter").replaceChildren(...recentQuarters(8).map((q) => h("option", { value: q }, quarterLabel(q))));
    state.unit = mine[0].id;
    $("page").hidden = false;
    await load();
  }
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

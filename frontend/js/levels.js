// A street's or district's manager: its communities side by side for a quarter, its work units
// ranked by service hours, and the yearly target. Read-only inside the communities.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, initPage, setBusy, toast } from "./ui.js";
import { quarterLabel, recentQuarters } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const num = (text) => h("td", { class: "num" }, text);

async function load() {
  const level = $("level").value;
  const quarter = $("quarter").value;
  $("settlement-link").href = `/settlement.html?org=${level}`;  // the level's 通兑 settlement (issue 19)
  const [overview, units] = await Promise.all([
    api("GET", `/api/levels/${level}/overview?quarter=${quarter}`),
    api("GET", `/api/levels/${level}/units-ranking?quarter=${quarter}`)]);
  $("communities").replaceChildren(...overview.communities.map((c) => h("tr", {},
    h("td", {}, c.name), num(String(c.active_volunteers)), num(fmtMinutes(c.minutes)),
    num(fmtPoints(c.points_issued)), num(fmtPoints(c.points_redeemed)),
    num(c.redemption_wait_hours == null ? "–" : String(c.redemption_wait_hours)),
    num(String(c.reports_verified)), num(String(c.reported_members)))));
  $("units").replaceChildren(...(units.length ? units.map((u) => h("li", {},
    h("span", { class: "rank-no" }, String(u.rank)), h("span", { class: "rank-name" }, u.name),
    h("span", { class: "rank-amount" }, fmtMinutes(u.minutes))))
    : [h("li", { class: "muted" }, t("levels.units_empty"))]));
}

$("target-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter;
  setBusy(button, true);
  try {
    const year = Number($("quarter").value.slice(0, 4));
    await api("PUT", `/api/levels/${$("level").value}/service-target`,
      { year, minutes: Math.round(Number($("target-hours").value) * 60) });
    toast(t("levels.target_saved"));
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
});

for (const id of ["level", "quarter"]) $(id).addEventListener("change", () => load().catch((e) => handlePageError(e)));

try {
  const levels = await api("GET", "/api/me/levels");
  $("status").hidden = true;
  if (!levels.length) {
    $("none").hidden = false;
  } else {
    $("level").replaceChildren(...levels.map((l) => h("option", { value: l.id }, l.name)));
    $("quarter").replaceChildren(...recentQuarters(8).map((q) => h("option", { value: q }, quarterLabel(q))));
    $("page").hidden = false;
    await load();
  }
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

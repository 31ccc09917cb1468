// A street's or district's manager: its communities side by side for a quarter, its work units
// ranked by service hours, and the yearly target. Read-only inside the communities.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, fmtMinutes, fmtPoints, h, initPage, setBusy, showError, toast } from "./ui.js";
import { quarterLabel, recentQuarters } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const num = (text) => h("td", { class: "num" }, text);

async function load() {
  const level = $("level").value;
  const quarter = $("quarter").value;
  $("settlement-link").href = `/settlement.html?org=${level}`;  // the level's 通兑 settlement
  $("merchants-link").href = `/merchants.html?org=${level}`;  // the street's partner merchants
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

/** The level's units (and who was invited to administer each) and the orgs below it that take managers. */
async function loadUnits() {
  const level = $("level").value;
  const list = await api("GET", `/api/units?under=${level}`);
  $("admin-unit").replaceChildren(...list.map((u) => h("option", { value: u.id }, u.name)));
  const invited = new Map();  // unit id -> the invitations to administer it (one request for the level)
  for (const x of await api("GET", `/api/role-invites?level_id=${level}`)) {
    invited.set(x.unit_id, [...(invited.get(x.unit_id) ?? []), x]);
  }
  $("unit-list").replaceChildren(...(list.length ? list.map((u) => h("li", { class: "need" },
    h("strong", {}, u.name),
    h("span", { class: "muted" }, (invited.get(u.id) ?? []).length
      ? invited.get(u.id).map((x) => `${x.name}（${t(`levels.invite_state.${x.state}`)}）`).join("、")
      : t("levels.no_admin"))))
    : [h("li", { class: "muted" }, t("levels.units_empty"))]));
  const below = [];
  for (const street of await childOrgs(level)) {
    if (street.kind === "street") below.push(street, ...(await childOrgs(street.id)));
    else if (street.kind === "community") below.push(street);
  }
  $("manager-org").replaceChildren(...below.map((o) => h("option", { value: o.id }, o.name)));
}

async function childOrgs(parentId) {
  const items = [];
  let cursor = "";
  do {
    const page = await api("GET", `/api/orgs?${new URLSearchParams({ parent_id: parentId, limit: "100", cursor })}`);
    items.push(...page.items);
    cursor = page.next_cursor ?? "";
  } while (cursor);
  return items;
}

function invitePerson(formId, send) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    const button = event.submitter;
    setBusy(button, true);
    try {
      await send(form);
      form.reset();
      toast(t("levels.invited"));
      await loadUnits();
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
}

invitePerson("unit-admin-form", () => api("POST", `/api/units/${$("admin-unit").value}/admins`,
  { phone: $("admin-phone").value.trim(), name: $("admin-name").value.trim() }));
invitePerson("manager-form", async () => {
  const invite = await api("POST", `/api/orgs/${$("manager-org").value}/managers`,
    { phone: $("manager-phone").value.trim(), name: $("manager-name").value.trim() });
  $("manager-invites").prepend(h("li", {}, `${invite.org_name} · ${invite.name}（${t("levels.invite_state.open")}）`));
});

$("unit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const button = event.submitter;
  setBusy(button, true);
  try {
    await api("POST", "/api/units", { name: $("unit-name").value.trim(), kind: $("unit-kind").value,
      parent_id: Number($("level").value) });
    form.reset();
    toast(t("levels.unit_created"));
    await loadUnits();
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

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
$("level").addEventListener("change", () => loadUnits().catch((e) => handlePageError(e)));

try {
  const levels = await api("GET", "/api/me/levels");
  $("status").hidden = true;
  if (!levels.length) {
    $("none").hidden = false;
  } else {
    $("level").replaceChildren(...levels.map((l) => h("option", { value: l.id }, l.name)));
    $("quarter").replaceChildren(...recentQuarters(8).map((q) => h("option", { value: q }, quarterLabel(q))));
    $("page").hidden = false;
    await Promise.all([load(), loadUnits()]);
  }
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

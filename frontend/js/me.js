// The "me" page: greeting, balances, feature links, communities, logout.
import { renderNotices } from "./recognition-parts.js";
import { api, ApiError, handlePageError, showError } from "./api.js";
import { t } from "./i18n.js";
import { clearPersonalCache, fmtHours, fmtPoints, fmtTime, h, icon, initPage, setBusy } from "./ui.js";
import { renderExpiring } from "./expiring.js";
import { joinHint } from "./join-hint.js";

initPage();

const $ = (id) => document.getElementById(id);

function maskPhone(phone) {
  return /^\d{11}$/.test(phone) ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone;
}

function isManager(me) {
  const roles = new Set(me.roles ?? []);
  return roles.has("manager") || roles.has("admin") || me.is_admin;
}

/** Tools for a community manager's work, then (in their own entry for managers) a volunteer's. */
function features(me) {
  const roles = new Set(me.roles ?? []);
  const manager = isManager(me);
  const managing = manager ? [
    { href: "/console.html", key: "feature.console", icon: "users" },
    { href: "/activities.html", key: "feature.activities_manage", icon: "list" },
    { href: "/station.html", key: "feature.station", icon: "scan" },
    { href: "/redemptions.html", key: "feature.redemptions", icon: "bag" },
    { href: "/reports.html", key: "feature.reports", icon: "flag" },
    { href: "/dashboard.html", key: "feature.dashboard", icon: "grid" },
    { href: "/rankings.html", key: "feature.rankings", icon: "users" },
  ] : [];
  // Roles above or beside a community: a street's or district's manager, a work unit's administrator.
  if ((me.levels ?? []).length) managing.push({ href: "/levels.html", key: "feature.levels", icon: "grid" });
  if ((me.levels ?? []).length || me.is_admin) managing.push({ href: "/city.html", key: "feature.city", icon: "list" });
  if (me.administers_units) managing.push({ href: "/units.html", key: "feature.units", icon: "users" });
  const volunteering = [
    roles.has("courier") && { href: "/courier.html", key: "feature.courier", icon: "flag" },
    { href: "/card.html", key: "feature.card", icon: "qr" },
    { href: "/scan.html", key: "feature.scan", icon: "scan" },
    { href: "/activities.html", key: "feature.activities", icon: "list" },
    { href: "/shop.html", key: "feature.shop", icon: "bag" },
    { href: "/timebank.html", key: "feature.timebank", icon: "clock" },
    !manager && { href: "/rankings.html", key: "feature.rankings", icon: "users" },
    { href: "/baodao.html", key: "feature.baodao", icon: "flag" },
    { href: "/micro.html", key: "feature.micro", icon: "grid" },
    { href: "/tools.html", key: "feature.tools", icon: "list" },
    { href: "/cases.html", key: "feature.cases", icon: "list" },
    { href: "/statement.html", key: "feature.statement", icon: "receipt" },
    { href: "/rulebook.html", key: "feature.rulebook", icon: "list" },
    { href: "/deductions.html", key: "feature.deductions", icon: "flag" },
    { href: "/selection.html", key: "feature.selection", icon: "users" },
    { href: "/privacy.html", key: "feature.privacy", icon: "users" },
  ];
  const tile = (item) => h("li", {}, h("a", { class: "feature", href: item.href },
    h("span", { class: "feature-icon" }, icon(item.icon)), h("span", {}, t(item.key))));
  return { managing: managing.map(tile), volunteering: volunteering.filter(Boolean).map(tile) };
}

// Each tile opens its queue itself (入社申请 and 党员报到 opened an overview, one tap short).
const QUEUE_PAGES = {
  redemptions: (id) => `/redemptions.html?community_id=${id}`, reports: (id) => `/reports.html?community_id=${id}`,
  services: (id) => `/timebank.html?community_id=${id}`, appeals: (id) => `/rankings.html?community_id=${id}`,
  join_requests: (id) => `/joining.html?community=${id}`, unit_reports: (id) => `/baodao.html?community_id=${id}#queue-card`,
  adjustments: (id) => `/console.html?community_id=${id}`,
};

function timeOfDay(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit",
    hourCycle: "h23" });
}

/** A manager's home leads with today's work: what waits, per community, and the week's activities. */
async function renderWorkbench() {
  const bench = await api("GET", "/api/me/workbench");
  if (!bench.communities.length) return;
  $("workbench-list").replaceChildren(...bench.communities.map((c) => h("div", { class: "card work-card" },
    h("h3", {}, c.name),
    h("ul", { class: "queue-grid" }, ...Object.entries(c.queues).map(([name, count]) =>
      h("li", {}, h("a", { class: ["queue-tile", count ? "has-work" : null], href: (QUEUE_PAGES[name] ?? (() => "/"))(c.community_id) },
        h("span", { class: "queue-count" }, String(count)), h("span", { class: "queue-name" }, t(`home.queue.${name}`)))))),
    c.activities.length ? h("ul", { class: "list today-list" }, ...c.activities.map((a) =>
      h("li", {}, h("a", { class: "today-activity", href: `/activities.html?id=${a.id}` },
        h("span", { class: "today-title" }, a.title),
        h("span", { class: "muted" }, `${fmtTime(a.starts_at)} – ${timeOfDay(a.ends_at)}`),
        h("span", { class: "badge badge-info" }, t("home.inside_now", { n: a.inside })),
        a.capacity ? h("span", { class: "badge badge-muted" }, t("home.signed_up", { n: a.signed_up, of: a.capacity })) : null))))
      : h("p", { class: "muted" }, t("home.no_activities")))));
  $("workbench").hidden = false;
}

/** A volunteer's own rank in each of their communities this quarter. */
async function renderMyRank() {
  const ranks = await api("GET", "/api/me/rank");
  if (!ranks.length) return;
  $("my-rank-list").replaceChildren(...ranks.map((r) => h("li", { class: "rank-line" },
    h("span", { class: "membership-name" }, r.community_name),
    h("span", {}, r.rank ? t("home.rank_value", { rank: r.rank, of: r.of, amount: fmtPoints(r.amount) })
      : t("home.rank_none")))));
  $("my-rank").hidden = false;
}

function badge(tone, text) {
  return h("span", { class: ["badge", tone] }, text);
}

/** One row per organisation, even when the person both manages it and volunteers in it. */
function memberships(me) {
  const rows = new Map();
  const row = (id, name) => rows.get(id) ?? rows.set(id, { name, badges: [] }).get(id);
  for (const org of me.manages ?? []) row(org.id, org.name).badges.push(badge("badge-accent", t("role.manager")));
  for (const m of me.memberships ?? []) {
    row(m.org_id, m.org_name).badges.push(badge("badge-muted", t(`kind.${m.kind}`)), badge("badge-info", t(`role.${m.role}`)));
  }
  if (rows.size === 0) return [h("li", { class: "muted" }, t("me.no_memberships")), h("li", {}, joinHint())];
  return [...rows.values()].map(({ name, badges }) =>
    h("li", { class: "membership" }, h("span", { class: "membership-name" }, name), h("span", { class: "badges" }, badges)));
}

function render(me) {
  $("greeting").textContent = t("me.hello", { name: me.name });
  $("phone").textContent = maskPhone(me.phone ?? "");
  // Community roles show under "my communities"; only the global admin role shows here.
  const isAdmin = me.is_admin || (me.roles ?? []).includes("admin");
  $("role-badges").replaceChildren(isAdmin ? badge("badge-accent", t("role.admin")) : "");

  const { points, minutes } = me.balances;
  $("points-available").textContent = fmtPoints(points.available);
  $("points-held").textContent = points.held ? t("me.held", { v: fmtPoints(points.held) }) : "";
  $("hours-available").textContent = fmtHours(minutes.available);  // "3分钟", "28小时48分": one format
  $("minutes-held").textContent = minutes.held ? t("me.held", { v: fmtHours(minutes.held) }) : "";

  const tools = features(me);
  const manager = isManager(me);
  const hasRoleTools = tools.managing.length > 0;  // a manager's, a street's or a unit's tools come first
  $("features").replaceChildren(...(hasRoleTools ? tools.managing : tools.volunteering));
  $("volunteer-features").replaceChildren(...(hasRoleTools ? tools.volunteering : []));
  $("volunteer-tools").hidden = !hasRoleTools;
  // A manager's own balance matters less than today's work: shown only when there is something in it.
  $("balance-card").hidden = manager && !points.balance && !minutes.balance;
  if (manager) renderWorkbench().catch((err) => handlePageError(err));
  if ((me.memberships ?? []).length) renderMyRank().catch((err) => handlePageError(err));
  if ((me.memberships ?? []).length) {
    renderNotices($("notices"), me.memberships[0].community_id).catch((err) => handlePageError(err));
  }
  renderExpiring($("expiring"));
  $("memberships").replaceChildren(...memberships(me));
  $("loading").hidden = true;
  $("me").hidden = false;
}

$("logout").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    await api("POST", "/api/auth/logout");
  } catch (err) {
    // Already logged out is as good as logged out; anything else means the session still lives.
    if (!(err instanceof ApiError && err.status === 401)) {
      showError(err);
      setBusy(button, false);
      return;
    }
  }
  await clearPersonalCache();  // nobody else on this phone opens my card or vouchers offline
  location.replace("/login.html");
});

// ---- invitations: a community asks; I accept or decline ----------------------------

function invitationRow(inv) {
  const answer = async (button, action) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/me/invitations/${inv.id}/${action}`);
      if (action === "accept") load();
      else loadInvitations();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  return h("li", { class: "invitation-row" },
    h("div", {}, h("strong", {}, inv.community_name), " · ", t(`role.${inv.role}`)),
    h("div", { class: "muted small" }, t("me.invited_by", { name: inv.invited_by })),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn btn-primary btn-small",
        onclick: (e) => answer(e.currentTarget, "accept") }, t("me.invitation_accept")),
      h("button", { type: "button", class: "btn btn-secondary btn-small",
        onclick: (e) => answer(e.currentTarget, "decline") }, t("me.invitation_decline"))));
}

/** A role someone above named me for: a manager, a unit's administrator, a party member
 * reporting to my community, a 邻里长 or 微网格员. Mine only when I accept. */
function roleInviteRow(inv) {
  const answer = async (button, action) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/me/role-invites/${inv.id}/${action}`);
      load();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  const where = inv.kind === "manager" ? inv.org_name
    : inv.kind === "unit_admin" ? inv.unit_name
    : inv.kind === "party_member" ? `${inv.unit_name} · ${[inv.org_name, inv.grid_name].filter(Boolean).join(" · ")}`
    : inv.micro_grid_name;
  return h("li", { class: "invitation-row", "data-kind": inv.kind },
    h("div", {}, h("strong", {}, where ?? ""), " · ", t(`me.role_invite.${inv.kind}`)),
    h("div", { class: "muted small" }, t("me.invited_by", { name: inv.invited_by })),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn btn-primary btn-small",
        onclick: (e) => answer(e.currentTarget, "accept") }, t("me.invitation_accept")),
      h("button", { type: "button", class: "btn btn-secondary btn-small",
        onclick: (e) => answer(e.currentTarget, "decline") }, t("me.invitation_decline"))));
}

async function loadInvitations() {
  try {
    const [{ items }, roles] = await Promise.all([api("GET", "/api/me/invitations"), api("GET", "/api/me/role-invites")]);
    $("invitations").replaceChildren(...items.map(invitationRow), ...roles.map(roleInviteRow));
    $("invitations-card").hidden = items.length + roles.length === 0;
  } catch {
    $("invitations-card").hidden = true; // the rest of the page works without it
  }
}

function load() {
  $("loading").textContent = t("common.loading");
  api("GET", "/api/me").then(render, (err) => handlePageError(err, $("loading"), load));
  loadInvitations();
}

load();

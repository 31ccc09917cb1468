// The managers' review queue of courier reports: photo, text, map link, the courier's recent
// history and likely-farming flags; verify (points by kind) or reject with a reason.
import { api, handlePageError, newIdempotencyKey, showError, clearErrors, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";
import { kindTag, reportIcon, reviewNote, stateBadge } from "./report-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const QUICK_REASONS = ["reports.reason_unclear", "reports.reason_duplicate", "reports.reason_mismatch"];
const state = { state: "pending", community: "", grid: "", cursor: null, generation: 0, settings: null };

// ---- one report ---------------------------------------------------------------------------

function flagLine(flag) {
  if (flag.code === "duplicate") {
    return h("p", { class: "flag" }, reportIcon("alert"),
      t("reports.flag_duplicate", { ids: flag.report_ids.map((id) => `#${id}`).join("、") }));
  }
  return h("p", { class: "flag" }, reportIcon("alert"),
    flag.points_left ? t("reports.flag_cap_partial", { n: flag.points_left }) : t("reports.flag_cap_zero"));
}

function historyLine(report) {
  const history = report.history;
  if (!history) return null;
  const recent = h("ul", { class: "list history-list", hidden: true });
  const toggle = h("button", { type: "button", class: "link-button small", "aria-expanded": "false" },
    t("reports.history_show"));
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    recent.hidden = !open;
    if (!open || recent.dataset.loaded) return;
    recent.replaceChildren(h("li", { class: "muted small" }, t("common.loading")));
    try {
      const query = new URLSearchParams({ courier_id: report.courier.id, community_id: report.community_id, limit: "6" });
      const page = await api("GET", `/api/reports?${query}`);
      const others = page.items.filter((r) => r.id !== report.id).slice(0, 5);
      recent.dataset.loaded = "1";
      recent.replaceChildren(...(others.length ? others.map((r) =>
        h("li", { class: "history-item" },
          h("span", { class: "history-when" }, `#${r.id} · ${fmtTime(r.created_at)}`),
          h("span", { class: "history-what" }, t(`report.kind.${r.kind}`), " · ",
            h("span", { translate: "no" }, r.text)),  // what the courier wrote: content, not interface text
          stateBadge(r))) : [h("li", { class: "muted small" }, t("reports.history_none"))]));
    } catch (err) {
      recent.replaceChildren(h("li", { class: "muted small" }, err.message));
    }
  });
  return h("div", { class: "review-history" },
    h("p", { class: "small muted" }, t("reports.history", {
      verified: history.verified, rejected: history.rejected, pending: history.pending, points: fmtPoints(history.points),
    }), " ", toggle),
    recent);
}

function kindPoints(report) {
  const full = state.settings?.paid?.[report.kind] ?? state.settings?.points?.[report.kind];
  const cap = report.flags.find((f) => f.code === "over_cap");
  return cap ? cap.points_left : full;
}

function actions(report, card) {
  if (report.state !== "pending") {
    return h("div", { class: "review-result" }, reviewNote(report),
      report.reviewed_by && h("p", { class: "small muted" },
        t("reports.reviewed_by", { name: report.reviewed_by.name, when: fmtTime(report.reviewed_at) })));
  }
  const keys = { verify: newIdempotencyKey(), reject: newIdempotencyKey(), reason: null };
  const points = kindPoints(report);
  const verify = h("button", { type: "button", class: "btn btn-primary", "data-action": "verify" },
    reportIcon("check"), points == null ? t("reports.verify") : t("reports.verify_points", { n: points }));
  const rejectOpen = h("button", { type: "button", class: "btn btn-danger", "data-action": "reject" },
    t("reports.reject"));
  const reason = h("textarea", { name: "reason", rows: 2, maxlength: 200, required: true,
    placeholder: t("reports.reason_ph"), id: `reason-${report.id}` });
  const chips = QUICK_REASONS.map((key) => h("button", { type: "button", class: "chip",
    onclick: () => { reason.value = t(key); reason.focus(); } }, t(key)));
  const rejectForm = h("form", { class: "reject-form", hidden: true, novalidate: true },
    h("div", { class: "field" },
      h("label", { for: reason.id }, t("reports.reason")), reason,
      h("div", { class: "chips" }, chips)),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "btn btn-danger" }, t("reports.reject_confirm")),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => { rejectForm.hidden = true; buttons.hidden = false; } },
        t("courier.cancel"))));
  const buttons = h("div", { class: "review-actions" }, verify, rejectOpen);

  verify.addEventListener("click", async () => {
    setBusy(verify, true);
    try {
      const done = await api("POST", `/api/reports/${report.id}/verify`, undefined, { idempotencyKey: keys.verify });
      toast(done.points_withheld
        ? t("reports.verified_capped", { n: done.points, withheld: done.points_withheld })
        : t("reports.verified", { n: done.points }), done.points ? "success" : "info");
      card.replaceWith(reportCard(done));
    } catch (err) {
      showError(err);
      setBusy(verify, false);
    }
  });
  rejectOpen.addEventListener("click", () => {
    buttons.hidden = true;
    rejectForm.hidden = false;
    reason.focus();
  });
  rejectForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(rejectForm);
    const text = reason.value.trim();
    if (!text) {
      showError({ message: t("reports.reason_needed"), details: { field: "reason" } }, rejectForm);
      return;
    }
    if (keys.reason !== text) keys.reject = newIdempotencyKey(); // another reason is another request
    keys.reason = text;
    const submit = rejectForm.querySelector("[type=submit]");
    setBusy(submit, true);
    try {
      const done = await api("POST", `/api/reports/${report.id}/reject`, { reason: text }, { idempotencyKey: keys.reject });
      toast(t("reports.rejected"));
      card.replaceWith(reportCard(done));
    } catch (err) {
      showError(err, rejectForm);
      setBusy(submit, false);
    }
  });
  return h("div", {}, buttons, rejectForm);
}

function reportCard(report) {
  const card = h("article", { class: ["card", "review-card", report.flags.length && "is-flagged"],
    dataset: { id: report.id, state: report.state } });
  const place = report.place || (report.map_url ? t("reports.no_place") : "");
  const parts = [
    h("div", { class: "review-head" },
      h("div", { class: "review-tags" }, kindTag(report.kind), stateBadge(report)),
      h("span", { class: "small muted num" }, `#${report.id}`)),
    h("p", { class: "review-who" },
      h("strong", { translate: "no" }, report.courier.name),
      h("span", { class: "muted" }, " · ", h("span", { translate: "no" }, report.grid.name), ` · ${fmtTime(report.created_at)}`)),
    report.flags.length > 0 && h("div", { class: "flags" }, report.flags.map(flagLine)),
    report.photo_url && h("a", { class: "review-photo", href: report.photo_url, target: "_blank", rel: "noopener" },
      h("img", { src: report.photo_url, alt: t("report.photo_alt"), loading: "lazy" })),
    h("p", { class: "review-text", translate: "no" }, report.text),  // the courier's own words
    (place || report.map_url) && h("p", { class: "review-place" }, reportIcon("pin"), h("span", { translate: "no" }, place),
      report.map_url && h("a", { href: report.map_url, target: "_blank", rel: "noopener noreferrer", class: "map-link" },
        t("reports.map"))),
    historyLine(report),
    actions(report, card),
  ];
  card.append(...parts.filter((part) => part != null && part !== false && part !== ""));
  return card;
}

// ---- the queue ----------------------------------------------------------------------------

async function loadPage() {
  const generation = state.generation;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (state.state) query.set("state", state.state);
  if (state.grid) query.set("grid_id", state.grid);
  else if (state.community) query.set("community_id", state.community);
  if (state.cursor) query.set("cursor", state.cursor);
  setBusy($("more"), true);
  try {
    const page = await api("GET", `/api/reports?${query}`);
    if (generation !== state.generation) return;
    $("queue").append(...page.items.map(reportCard));
    state.cursor = page.next_cursor;
    const empty = $("queue").children.length === 0;
    $("status").hidden = !empty;
    $("status").textContent = state.state === "pending" ? t("reports.empty_pending") : t("reports.empty");
    $("more").hidden = !state.cursor;
  } catch (err) {
    if (generation === state.generation) handlePageError(err, $("status"), reload);
  } finally {
    setBusy($("more"), false);
  }
}

async function loadSettings() {
  state.settings = null;
  $("rules").textContent = "";
  if (!state.community) return;
  try {
    const settings = await api("GET", `/api/communities/${state.community}/report-settings`);
    state.settings = settings;
    // What verifying pays now: the rulebook's (积分细则) item for a kind where it lists one.
    const paid = { ...settings.points, ...settings.paid };
    const ruled = Object.values(settings.rule_labels || {});
    $("rules").textContent = t("reports.rules", {
      hazard: paid.hazard, civility: paid.civility, service: paid.service, cap: settings.daily_cap,
    }) + (ruled.length ? ` ${t("reports.by_rulebook", { rules: ruled.join("；") })}` : "");
  } catch {
    // The queue still works; the buttons just do not show the points.
  }
}

function reload() {
  state.generation += 1;
  state.cursor = null;
  $("queue").replaceChildren();
  $("status").hidden = true;
  $("more").hidden = true;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.state === state.state));
  }
  const query = new URLSearchParams();
  if (state.state !== "pending") query.set("state", state.state || "all");
  if (state.community) query.set("community_id", state.community);
  if (state.grid) query.set("grid_id", state.grid);
  history.replaceState(null, "", `?${query}`);
  return loadPage();
}

async function loadGrids() {
  const select = $("grid");
  select.replaceChildren(h("option", { value: "" }, t("reports.all_grids")));
  select.disabled = !state.community;
  if (!state.community) return;
  try {
    const page = await api("GET", `/api/orgs?parent_id=${state.community}&limit=100`);
    for (const grid of page.items.filter((o) => o.kind === "grid")) {
      select.append(h("option", { value: grid.id, selected: String(grid.id) === state.grid }, grid.name));
    }
  } catch {
    select.disabled = true;
  }
  if (select.value !== state.grid) state.grid = "";
}

async function start() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    handlePageError(err, $("loading"), start);
    return;
  }
  $("loading").hidden = true;
  const manages = me.manages ?? [];
  if (!manages.length && !me.is_admin) {
    $("not-manager").hidden = false;
    return;
  }
  const params = new URLSearchParams(location.search);
  const wanted = params.get("state");
  state.state = wanted === "all" ? "" : ["verified", "rejected"].includes(wanted) ? wanted : "pending";
  const community = $("community");
  if (me.is_admin || manages.length > 1) community.append(h("option", { value: "" }, t("reports.all_communities")));
  for (const org of manages) community.append(h("option", { value: org.id }, org.name));
  const requested = params.get("community_id");
  community.value = [...community.options].some((o) => o.value === requested) ? requested
    : manages.length === 1 ? String(manages[0].id) : community.options[0].value;
  state.community = community.value;
  state.grid = params.get("grid_id") ?? "";
  $("review").hidden = false;
  await Promise.all([loadGrids(), loadSettings()]);
  reload();
}

$("community").addEventListener("change", async (event) => {
  state.community = event.target.value;
  state.grid = "";
  await Promise.all([loadGrids(), loadSettings()]);
  reload();
});
$("grid").addEventListener("change", (event) => {
  state.grid = event.target.value;
  reload();
});
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => {
    state.state = tab.dataset.state;
    reload();
  });
}
$("more").addEventListener("click", loadPage);

start();

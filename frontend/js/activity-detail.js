// One activity for its managers (activities.html?id=): publish or close it, its poster, screen and
// station links, the attendance table with annulment, manual marks, and the refused scans.
import { api, clearErrors, newIdempotencyKey, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, setBusy } from "./ui.js";
import { showScanning } from "./activity-scanning.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const state = { activity: null, cursor: null, annulling: null, picked: new Set(), searchTimer: null };

// ---- shared with the list -------------------------------------------------------------------

export function stateBadge(activityState) {
  const tone = { draft: "badge-warn", published: "badge-ok", closed: "badge-muted" }[activityState];
  return h("span", { class: ["badge", tone] }, t(`act.state_${activityState}`));
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit",
    hourCycle: "h23" });
}

export function activityMeta(activity) {
  const sameDay = new Date(activity.starts_at).toDateString() === new Date(activity.ends_at).toDateString();
  const when = `${fmtTime(activity.starts_at)} – ${sameDay ? clock(activity.ends_at) : fmtTime(activity.ends_at)}`;
  return h("div", { class: "activity-meta" },
    h("span", {}, when),
    h("span", {}, [activity.community_name, activity.place].filter(Boolean).join(" · ")));
}

export function rulesBadges(activity) {
  return [
    activity.points > 0 && h("span", { class: "badge badge-accent" }, t("act.rule_points", { n: activity.points })),
    activity.points_per_hour > 0 &&
      h("span", { class: "badge badge-accent" }, t("act.rule_pph", { n: activity.points_per_hour })),
    activity.capacity && h("span", { class: "badge badge-muted" }, t("act.rule_capacity", { n: activity.capacity })),
    activity.rotating_only && h("span", { class: "badge badge-muted" }, t("act.rule_rotating_only")),
    activity.one_step_checkout && h("span", { class: "badge badge-muted" }, t("act.rule_one_step")),
  ];
}

// ---- header and tools ----------------------------------------------------------------------

function action(key, tone, onclick) {
  return h("button", { type: "button", class: ["btn", tone], onclick }, t(key));
}

function link(key, href, { newTab = false, download = false } = {}) {
  return h("a", { class: "btn btn-secondary", href, target: newTab ? "_blank" : null,
    rel: newTab ? "noopener" : null, download: download || null }, t(key));
}

async function run(button, work) {
  setBusy(button, true);
  try {
    await work();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
}

function tools(activity) {
  const id = activity.id;
  if (activity.state === "draft") {
    return [
      action("act.publish", "btn-primary", (e) => run(e.currentTarget, async () => {
        await api("POST", `/api/activities/${id}/publish`);
        toast(t("act.published"), "success");
        await refreshHeader();
        await searchMembers();
      })),
      action("act.delete", "btn-danger", (e) => run(e.currentTarget, async () => {
        if (!window.confirm(t("act.delete_confirm"))) return;
        await api("DELETE", `/api/activities/${id}`);
        location.assign("/activities.html");
      })),
    ];
  }
  const open = activity.state === "published";
  return [
    open && link("act.kiosk", `/kiosk/${id}`, { newTab: true }),
    open && link("act.station", `/station.html?activity=${id}`),
    link("act.poster", `/api/activities/${id}/poster.svg`, { newTab: true }),
    link("act.poster_png", `/api/activities/${id}/poster.png`, { download: `poster-${id}.png` }),
    link("act.poster_print", `/poster-print.html?ids=${id}`, { newTab: true }),
    open && action("act.close", "btn-danger", (e) => run(e.currentTarget, async () => {
      if (!window.confirm(t("act.close_confirm"))) return;
      await api("POST", `/api/activities/${id}/close`);
      toast(t("act.closed"), "success");
      await refreshHeader();
      await loadAttendance(true);
    })),
  ];
}

function renderHeader(activity) {
  state.activity = activity;
  document.title = `${activity.title} · ${t("title.activities")}`;
  $("d-title").textContent = activity.title;
  $("d-state").replaceChildren(stateBadge(activity.state));
  $("d-meta").replaceWith(Object.assign(activityMeta(activity), { id: "d-meta" }));
  $("d-rules").replaceChildren(...rulesBadges(activity).filter(Boolean));
  $("d-description").textContent = activity.description;
  $("d-description").hidden = !activity.description;
  $("d-tools").replaceChildren(...tools(activity).filter(Boolean));
  $("mark-card").hidden = activity.state === "draft";
  $("csv-link").href = `/api/activities/${activity.id}/attendance?format=csv`;
}

async function refreshHeader() {
  renderHeader(await api("GET", `/api/activities/${state.activity.id}`));
}

// ---- attendance -----------------------------------------------------------------------------

function attendanceState(row) {
  const tone = { inside: "badge-accent", done: "badge-ok", annulled: "badge-muted" }[row.state];
  return h("span", { class: ["badge", tone] }, t(`act.att_${row.state}`));
}

function attendanceRow(row) {
  const source = row.source !== "self" && h("span", { class: "badge badge-info" }, t(`act.source_${row.source}`));
  const late = row.in_received_at && h("span", { class: "badge badge-muted" },
    t("act.late", { time: clock(row.in_received_at) })); // scanned offline, uploaded then
  const span = row.checked_out_at
    ? `${clock(row.checked_in_at)}–${clock(row.checked_out_at)}${row.auto_checkout ? ` ${t("act.auto")}` : ""}`
    : t("act.since", { time: clock(row.checked_in_at) });
  const credit = [row.points ? t("unit.points", { n: fmtPoints(row.points) }) : null,
    row.minutes ? fmtMinutes(row.minutes) : null].filter(Boolean).join(" · ");
  const note = row.state === "annulled" ? t("act.annul_reason", { reason: row.annul_reason })
    : row.note ? t("act.mark_reason", { reason: row.note }) : null;
  return h("li", { class: ["att-row", `is-${row.state}`] },
    h("div", { class: "att-main" },
      h("div", { class: "att-name" }, row.name, source, late),
      h("div", { class: "att-meta num" }, [row.phone, span].filter(Boolean).join(" · ")),
      credit && h("div", { class: "att-credit" }, credit),
      note && h("div", { class: "att-note" }, note)),
    h("div", { class: "att-side" }, attendanceState(row),
      row.state !== "annulled" && h("button", { type: "button", class: "btn btn-danger btn-small",
        onclick: () => askAnnul(row) }, t("act.annul"))));
}

async function loadAttendance(reset = false) {
  if (reset) {
    state.cursor = null;
    $("att-rows").replaceChildren();
  }
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (state.cursor) query.set("cursor", state.cursor);
  const page = await api("GET", `/api/activities/${state.activity.id}/attendance?${query}`);
  $("att-rows").append(...page.items.map(attendanceRow));
  state.cursor = page.next_cursor;
  $("s-inside").textContent = String(page.inside);
  $("s-done").textContent = String(page.attended);
  $("s-annulled").textContent = String(page.annulled);
  $("att-empty").hidden = $("att-rows").children.length > 0;
  $("att-more").hidden = !state.cursor;
}

function askAnnul(row) {
  state.annulling = row;
  clearErrors($("annul-form"));
  $("annul-reason").value = "";
  const credit = [t("unit.points", { n: fmtPoints(row.points) }), row.minutes ? fmtMinutes(row.minutes) : null];
  $("annul-who").textContent = t("act.annul_who", { name: row.name, credit: credit.filter(Boolean).join(" · ") });
  $("annul-dialog").showModal();
  $("annul-reason").focus();
}

async function confirmAnnul(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const reason = $("annul-reason").value.trim();
  if (!reason) {
    showError({ message: t("error.required") }, form, "reason");
    return;
  }
  const button = $("annul-confirm");
  setBusy(button, true);
  try {
    await api("POST", `/api/checkins/${state.annulling.id}/annul`, { reason },
      { idempotencyKey: newIdempotencyKey() });
    $("annul-dialog").close();
    toast(t("act.annulled_toast", { name: state.annulling.name }), "success");
    await loadAttendance(true);
    loadFailed().catch(() => {});
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
}

// ---- manual marks ---------------------------------------------------------------------------

function memberOption(member) {
  const box = h("input", { type: "checkbox", value: member.id, checked: state.picked.has(member.id) });
  box.addEventListener("change", () => (box.checked ? state.picked.add(member.id) : state.picked.delete(member.id)));
  return h("li", {}, h("label", {}, box, h("span", {}, member.name),
    h("span", { class: "muted small num" }, member.phone ?? "")));
}

async function searchMembers() {
  const query = new URLSearchParams({ q: $("mark-q").value.trim(), limit: "50" });
  const { items } = await api("GET", `/api/activities/${state.activity.id}/members?${query}`);
  $("mark-members").replaceChildren(...(items.length ? items.map(memberOption)
    : [h("li", { class: "muted small" }, t("act.mark_none"))]));
}

function defaultMinutes(activity) {
  const window = Math.floor((new Date(activity.ends_at) - new Date(activity.starts_at)) / 60000);
  return activity.max_minutes ? Math.min(window, activity.max_minutes) : window;
}

async function submitMark(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  if (!state.picked.size) {
    showError({ message: t("act.mark_pick") }, form);
    return;
  }
  const reason = $("mark-reason").value.trim();
  if (!reason) {
    showError({ message: t("error.required") }, form, "reason");
    return;
  }
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    const result = await api("POST", `/api/activities/${state.activity.id}/attendance/mark`,
      { user_ids: [...state.picked], reason, minutes: Number($("mark-minutes").value || 0) },
      { idempotencyKey: newIdempotencyKey() });
    toast(t("act.marked", { n: result.marked.length, skipped: result.skipped.length }), "success");
    state.picked.clear();
    $("mark-reason").value = "";
    await Promise.all([loadAttendance(true), searchMembers()]);
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
}

// ---- refused scans --------------------------------------------------------------------------

async function loadFailed() {
  const { items } = await api("GET", `/api/activities/${state.activity.id}/failed-scans?limit=50`);
  $("failed").replaceChildren(...items.map((f) => h("li", {},
    h("span", { class: "failed-reason" }, f.message),
    h("span", { class: "muted small" }, [f.user_name, fmtTime(f.created_at)].filter(Boolean).join(" · ")))));
  $("failed-empty").hidden = items.length > 0;
}

/** 申请补录: people checked out with nothing credited, and why they ask; the message to
 * the managers links here (#corrections). Crediting stays the review list's act. */
async function loadCorrections(id) {
  const { items } = await api("GET", `/api/activities/${id}/correction-requests`);
  $("correction-list").replaceChildren(...items.map((c) => h("li", { class: "correction-row" },
    h("strong", {}, c.user_name), " · ", t("act.corrections_credited", { v: fmtMinutes(c.minutes) }),
    h("p", { class: "correction-reason" }, c.reason), h("span", { class: "muted" }, fmtTime(c.created_at)))));
  $("corrections").hidden = items.length === 0;
  if (items.length && location.hash === "#corrections") $("corrections").scrollIntoView({ block: "start" });
}

// ---- start ----------------------------------------------------------------------------------

export async function showDetail(id) {
  renderHeader(await api("GET", `/api/activities/${id}`));
  $("mark-minutes").value = String(defaultMinutes(state.activity));
  $("att-more").addEventListener("click", () => loadAttendance().catch((err) => showError(err)));
  $("annul-form").addEventListener("submit", confirmAnnul);
  $("annul-cancel").addEventListener("click", () => $("annul-dialog").close());
  $("mark-form").addEventListener("submit", submitMark);
  $("mark-q").addEventListener("input", () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => searchMembers().catch((err) => showError(err)), 300);
  });
  await Promise.all([loadAttendance(true), loadFailed(), loadCorrections(id), state.activity.state !== "draft" && searchMembers(),
    showScanning(state.activity, () => loadAttendance(true))]);
}

// The manager's check-in station: pick a running activity, scan (camera) or type members' card
// codes; each scan checks that member in; a later scan asks before checking out (or checks out at
// once when the activity says so). For residents without phones. Without network the scans wait in
// IndexedDB (scan-queue.js, "N 条待上传") and go up, with their scan times, when it returns.
import { api, handlePageError, newIdempotencyKey, toast } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, initPage, setBusy } from "./ui.js";
import { codeFromText } from "./scan-code.js";
import { cameraElements, setUpCamera as wireCamera, warmUp } from "./camera.js";
import { enqueue, keepFlushing, pending } from "./scan-queue.js";

initPage();

const $ = (id) => document.getElementById(id);
const HOUR = 3600 * 1000;
const wanted = new URLSearchParams(location.search).get("activity");
let activityId = null;

function counts(activity) {
  $("count-inside").textContent = t("station.inside", { n: activity.inside });
  $("count-done").textContent = t("station.done", { n: activity.attended });
}

async function refreshCounts() {
  if (activityId) counts(await api("GET", `/api/activities/${activityId}`));
}

function describe(result) {
  const parts = [tOr(`station.action.${result.action}`, result.action)];
  if (result.points) parts.push(t("scan.plus_points", { n: fmtPoints(result.points) }));
  if (result.minutes) parts.push(fmtMinutes(result.minutes, { signed: true }));
  if (result.details?.capped) parts.push(t("station.capped"));
  if (result.details?.held) parts.push(t("station.held"));  // waits on the review list
  return parts.join(" · ");
}

const clock = (iso) => new Date(iso).toLocaleTimeString(document.documentElement.lang,
  { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

function logLine(tone, name, what, { at = null, actions = [] } = {}) {
  const line = h("li", { class: `is-${tone}` },
    h("span", { class: "scan-log-dot", "aria-hidden": "true" }),
    h("div", { class: "scan-log-main" }, h("div", { class: "scan-log-name" }, name),
      h("div", { class: "scan-log-what" }, what),
      actions.length ? h("div", { class: "scan-log-actions" }, ...actions) : null),
    h("span", { class: "scan-log-time" }, clock(at ?? new Date().toISOString())));
  $("log").prepend(line);
  $("log-empty").hidden = true;
  return line;
}

async function showPending() {
  const n = (await pending("station").catch(() => [])).length;
  $("pending").hidden = n === 0;
  $("pending").textContent = t("queue.pending", { n });
}

/** What the server answered for a scan (live, or uploaded from the queue). */
function showResult(result, { code, body, late = false }) {
  const name = result.details?.user_name ?? code;
  const at = late ? body.scanned_at : null;
  if (result.action === "confirm_check_out") {
    // A later scan asks first: one tap checks out, counted at the scan's own time.
    const line = logLine("info", name, t("checkout.question", { n: result.details.served_minutes }), { at,
      actions: [
        h("button", { type: "button", class: "btn btn-primary btn-small", onclick: () => {
          line.remove();
          send({ ...body, nonce: newIdempotencyKey(), intent: "check_out" }, code);
        } }, t("checkout.confirm")),
        h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => line.remove() },
          t("checkout.cancel")),
      ] });
    return;
  }
  const tone = result.action.startsWith("already") ? "info" : "ok";
  const what = describe(result) + (late ? ` · ${t("queue.scanned_offline")}` : "");
  logLine(tone, name, what, { at });
  if (!late) toast(`${result.details?.user_name ?? ""} ${tOr(`station.action.${result.action}`, "")}`.trim(), "success");
  refreshCounts().catch(() => {});
}

async function queue(body, code, scannedAt) {
  body = { ...body, scanned_at: body.scanned_at ?? scannedAt }; // only queued scans carry their time
  try {
    await enqueue({ nonce: body.nonce, scope: "station", path: `/api/activities/${activityId}/station-scans`,
      body, label: code });
  } catch {
    logLine("error", code, t("error.network")); // no IndexedDB here (private mode): scan again when online
    return;
  }
  // Marked with its nonce: the upload's answer replaces this row (both used to stay).
  logLine("info", code, t("queue.saved"), { at: body.scanned_at }).dataset.nonce = body.nonce;
  showPending();
}

/** Send one scan; without network it waits in the queue with its nonce and scan time. */
async function send(body, code) {
  const scannedAt = new Date().toISOString();
  if (navigator.onLine === false) return queue(body, code, scannedAt);
  try {
    const result = await api("POST", `/api/activities/${activityId}/station-scans`, body);
    showResult(result, { code, body });
  } catch (err) {
    if (err.code === "network") await queue(body, code, scannedAt);
    else logLine("error", code, err.message);
  }
}

async function submit(text) {
  const code = codeFromText(text);
  if (!code || !activityId) return;
  const button = $("code-submit");
  setBusy(button, true);
  try {
    await send({ code, nonce: newIdempotencyKey() }, code);
    $("member-code").value = "";
  } finally {
    setBusy(button, false);
    $("member-code").focus();
  }
}

function setUpCamera() {
  // The same card held up longer answers once every 10 s, not every 3 s (each answer is a log line).
  wireCamera(cameraElements(), (value) => submit(value), { repeatMs: 10000 });
  setTimeout(warmUp, 3000); // the decoder is here before the hall's network may drop
}

function setUpQueue() {
  keepFlushing("station", (item, result, error) => {
    for (const line of $("log").querySelectorAll("li[data-nonce]")) if (line.dataset.nonce === item.body.nonce) line.remove();
    if (result) showResult(result, { code: item.label, body: item.body, late: true });
    else logLine("error", item.label, error.message, { at: item.body.scanned_at });
  }, showPending);
}

function choose(items) {
  const select = $("activity");
  select.replaceChildren(...items.map((a) => h("option", { value: a.id }, a.title)));
  const pick = items.find((a) => String(a.id) === wanted) ?? items[0];
  select.value = String(pick.id);
  activityId = pick.id;
  counts(pick);
  select.addEventListener("change", () => {
    activityId = Number(select.value);
    counts(items.find((a) => a.id === activityId));
  });
}

function none(key) {
  $("loading").hidden = true;
  $("none").hidden = false;
  $("none-text").textContent = t(key);
}

async function load() {
  try {
    const me = await api("GET", "/api/me");
    const manages = new Set((me.manages ?? []).map((o) => o.id));
    if (!manages.size && !me.is_admin) return none("station.not_manager");
    const now = Date.now();
    const query = new URLSearchParams({ state: "published", limit: "100",
      from: new Date(now - 12 * HOUR).toISOString(), to: new Date(now + 12 * HOUR).toISOString() });
    const page = await api("GET", `/api/activities?${query}`);
    const items = page.items.filter((a) => me.is_admin || manages.has(a.community_id));
    if (!items.length) return none("station.no_activity");
    choose(items);
    $("loading").hidden = true;
    $("station").hidden = false;
    setUpCamera();
    setUpQueue();
  } catch (err) {
    handlePageError(err, $("loading"), load);
  }
}

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit($("member-code").value);
});

load();

// The manager's check-in station: pick a running activity, scan (camera) or type members' card
// codes; each scan checks that member in, or out on the second scan. For residents without phones.
import { api, handlePageError, newIdempotencyKey, toast } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, initPage, setBusy } from "./ui.js";
import { cameraScanSupported, startCamera } from "./qr-camera.js";
import { codeFromText } from "./scan-code.js";

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
  return parts.join(" · ");
}

function logLine(tone, name, what) {
  const time = new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" });
  $("log").prepend(h("li", { class: `is-${tone}` },
    h("span", { class: "scan-log-dot", "aria-hidden": "true" }),
    h("div", { class: "scan-log-main" }, h("div", { class: "scan-log-name" }, name),
      h("div", { class: "scan-log-what" }, what)),
    h("span", { class: "scan-log-time" }, time)));
  $("log-empty").hidden = true;
}

async function submit(text) {
  const code = codeFromText(text);
  if (!code || !activityId) return;
  const button = $("code-submit");
  setBusy(button, true);
  try {
    const result = await api("POST", `/api/activities/${activityId}/station-scans`,
      { code, nonce: newIdempotencyKey() });
    const tone = result.action.startsWith("already") ? "info" : "ok";
    logLine(tone, result.details?.user_name ?? code, describe(result));
    toast(`${result.details?.user_name ?? ""} ${tOr(`station.action.${result.action}`, "")}`.trim(), "success");
    $("member-code").value = "";
    refreshCounts().catch(() => {});
  } catch (err) {
    if (err.code === "network") {
      toast(err.message, "error"); // the code stays in the box: tap again to retry
    } else {
      logLine("error", code, err.message);
      $("member-code").value = "";
    }
  } finally {
    setBusy(button, false);
    $("member-code").focus();
  }
}

function setUpCamera() {
  if (!cameraScanSupported()) return;
  let stop = null;
  const start = $("camera-start");
  start.hidden = false;
  start.addEventListener("click", async () => {
    try {
      stop = await startCamera($("camera"), (value) => submit(value));
      $("camera-box").hidden = false;
      start.hidden = true;
      $("camera-stop").hidden = false;
    } catch {
      start.textContent = t("scan.camera_denied");
      start.disabled = true;
    }
  });
  $("camera-stop").addEventListener("click", () => {
    stop?.();
    $("camera-box").hidden = true;
    $("camera-stop").hidden = true;
    start.hidden = false;
  });
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
  } catch (err) {
    handlePageError(err, $("loading"), load);
  }
}

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit($("member-code").value);
});

load();

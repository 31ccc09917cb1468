// The page any phone camera opens (/s/<code>), and the in-page scanner (/scan.html).
// Flow: preview the code (works logged out) → POST /api/scans (401: log in, then come back here)
// → a big, friendly result, or the refusal in words. A nonce per page load makes a reload of this
// page replay its own scan instead of checking the person out. A later scan asks before checking out
//. Without network a scan waits in IndexedDB (scan-queue.js) with its nonce and time, and
// goes up when the network returns; the camera decodes in the page on every phone (camera.js, loaded
// with its decoder only when the camera button is pressed: this page stays under 50 KB).
import { api, ApiError, newIdempotencyKey, requireLogin, toast } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage } from "./ui.js";
import { enqueue, keepFlushing, pending } from "./scan-queue.js";
import { codeFromText } from "./scan-code.js";

initPage();

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const MARKS = { ok: "M6 12.5l4 4 8-9", error: "M7 7l10 10M17 7L7 17", info: "M12 7v6M12 17v.5" };
const pathCode = location.pathname.match(/^\/s\/([^/?#]+)/);
const code = pathCode ? codeFromText(decodeURIComponent(pathCode[1])) : null;

/** The same nonce when this page is reloaded or restored; a fresh one for every new visit. */
function nonceFor(value) {
  const key = `linli.scan.${value}`;
  const nav = performance.getEntriesByType?.("navigation")?.[0]?.type;
  let nonce = null;
  try {
    if (nav === "reload" || nav === "back_forward") nonce = sessionStorage.getItem(key);
    if (!nonce) {
      nonce = newIdempotencyKey();
      sessionStorage.setItem(key, nonce);
    }
  } catch {
    nonce = nonce || newIdempotencyKey(); // storage blocked: still one nonce for this page's retries
  }
  return nonce;
}

function mark(tone) {
  const box = $("result-mark");
  box.className = `scan-mark is-${tone}`;
  if (tone === "loading") {
    box.replaceChildren(h("span", { class: "spinner" }));
    return;
  }
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", MARKS[tone]);
  svg.append(path);
  box.replaceChildren(svg);
}

function show({ tone, title, amounts = "", note = "", actions = [] }) {
  $("result").hidden = false;
  $("result").className = `scan-result card tone-${tone}`;
  mark(tone);
  $("result-title").textContent = title;
  $("result-amounts").textContent = amounts;
  $("result-amounts").hidden = !amounts;
  $("result-note").textContent = note;
  $("result-note").hidden = !note;
  $("result-actions").replaceChildren(...actions);
}

function timeRange(startIso, endIso) {
  const end = new Date(endIso);
  const endText = new Date(startIso).toDateString() === end.toDateString()
    ? end.toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    : fmtTime(endIso);
  return `${fmtTime(startIso)} – ${endText}`;
}

function showActivity(preview) {
  const d = preview?.details ?? {};
  if (!preview?.title) return;
  $("result-activity").hidden = false;
  $("activity-title").textContent = preview.title;
  $("activity-when").textContent = d.starts_at ? timeRange(d.starts_at, d.ends_at) : "";
  $("activity-place").textContent = [d.community, d.place].filter(Boolean).join(" · ");
}

const link = (href, key, primary = false) =>
  h("a", { class: ["btn", primary ? "btn-primary" : "btn-secondary", "btn-block"], href }, t(key));

const doneActions = () => [link("/statement.html", "scan.see_statement", true), link("/scan.html", "scan.scan_another")];

function amountsText(points, minutes) {
  const parts = [];
  if (points) parts.push(t("scan.plus_points", { n: fmtPoints(points) }));
  if (minutes) parts.push(fmtMinutes(minutes, { signed: true }));
  return parts.join(" · ");
}

function capNote(details) {
  if (details?.held) return t("scan.held_note");  // a late scan's credit waits for review
  return details?.capped ? t("scan.capped", { cap: details.daily_cap }) : "";
}

/** A random id of this browser, sent with scans: one phone checking in many people is flagged. */
function deviceId() {
  try {
    let id = localStorage.getItem("linli.device");
    if (!id) {
      id = newIdempotencyKey();
      localStorage.setItem("linli.device", id);
    }
    return id;
  } catch {
    return undefined;
  }
}

function showConfirm(result, preview) {
  const d = result.details ?? {};
  show({ tone: "info", title: t("checkout.question", { n: d.served_minutes ?? 0 }), note: t("checkout.note"),
    actions: [
      h("button", { type: "button", id: "checkout-confirm", class: "btn btn-primary btn-block",
        onclick: () => submit(preview, newIdempotencyKey(), { intent: "check_out" }) }, t("checkout.confirm")),
      h("button", { type: "button", id: "checkout-cancel", class: "btn btn-secondary btn-block",
        onclick: () => show({ tone: "info", title: t("scan.checked_in"), note: t("checkout.kept"),
          actions: doneActions() }) }, t("checkout.cancel")),
    ] });
}

function showSuccess(result) {
  const d = result.details ?? {};
  const views = {
    checked_in: { title: t("scan.checked_in"), note: capNote(d) || t("scan.checked_in_note") },
    checked_out: { title: t("scan.checked_out"), note: capNote(d) || t("scan.checked_out_note") },
    already_checked_in: { title: t("scan.checked_in"), note: t("scan.already_in_note") },
    already_checked_out: {
      title: t("scan.checked_out"),
      note: t("scan.already_out_note", { points: fmtPoints(d.total_points ?? 0), time: fmtMinutes(d.total_minutes ?? 0) }),
    },
  };
  const view = views[result.action] ?? { title: tOr(`scan.action.${result.action}`, t("scan.done")) };
  const tone = result.action.startsWith("already") ? "info" : "ok";
  show({ tone, title: view.title, amounts: amountsText(result.points, result.minutes), note: view.note,
    actions: doneActions() });
}

/** Extra words for a refusal, from its details. */
function refusalNote(err) {
  const d = err.details ?? {};
  if (d.opens_at) return t("scan.opens_at", { time: fmtTime(d.opens_at) });
  if (d.closed_at) return t("scan.closed_at", { time: fmtTime(d.closed_at) });
  if (err.code === "too_far") return t("scan.too_far", { d: d.distance_m, r: d.radius_m });
  if (err.code === "capacity_full" && d.held_for_signups) return t("scan.capacity_held");
  if (err.code === "capacity_full" && d.capacity) return t("scan.capacity", { n: d.capacity });
  if (d.annulled) return t("scan.annulled", { reason: d.reason ?? "" });
  if (err.code === "location_required") return t("scan.location_note");
  return tOr(`scan.hint.${err.code}`, "");
}

function showRefusal(err, nonce = null, retry = null) {
  if (err.code === "not_member" && err.details?.join_request_id) {
    showPendingJoin(err.details.join_request_id);  // asked already: it shows as pending, not as a new ask
    return;
  }
  if (err.code === "not_member" && err.details?.community) {
    // not a dead end any more — ask to join; approval completes this very check-in,
    // phrased as the way in, not as a failure.
    const community = err.details.community;
    show({ tone: "info", title: t("join.way_in_title", { community }), note: t("join.refused_note", { community }),
      actions: [
        h("button", { type: "button", class: "btn btn-primary btn-block", id: "join-button",
          onclick: () => requestToJoin(nonce) }, t("join.button", { community })),
        link("/", "common.back_home"),
      ] });
    return;
  }
  const again = retry && h("button", { type: "button", class: "btn btn-primary btn-block", onclick: retry },
    t("common.retry"));
  show({ tone: "error", title: err.message || t("error.generic"), note: refusalNote(err),
    actions: [again, link("/scan.html", "scan.scan_another"), link("/", "common.back_home")].filter(Boolean) });
}

// join-request.js loads only when someone asks to join: the first load stays <= 50 KB.
const joining = () => import("./join-request.js");

function showJoinRequest(request, describe) {
  const view = describe(request);
  show({ tone: view.tone, title: view.title, note: view.note,
    amounts: view.checkedIn ? amountsText(view.points ?? 0, 0) : "",
    actions: view.checkedIn ? doneActions() : [link("/", "common.back_home")] });
}

async function showPendingJoin(requestId) {
  try {
    const { describe, watch } = await joining();
    const request = await api("GET", `/api/join-requests/${requestId}`);
    showJoinRequest(request, describe);
    watch(request, (changed) => showJoinRequest(changed, describe));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else showRefusal(err);
  }
}

async function requestToJoin(nonce) {
  const button = $("join-button");
  if (button) button.disabled = true;
  try {
    const { askToJoin, describe, watch } = await joining();
    const request = await askToJoin({ scan_code: code, nonce });
    showJoinRequest(request, describe);
    watch(request, (changed) => showJoinRequest(changed, describe));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else if (err.code === "already_member") location.reload();
    else showRefusal(err);
  }
}

function showNetworkProblem(retry, saved = false) {
  show({ tone: "error", title: t("error.network"), note: t(saved ? "queue.saved_scan" : "scan.retry_note"), actions: [
    h("button", { type: "button", class: "btn btn-primary btn-block", onclick: retry }, t("common.retry")),
  ] });
}

/** Keep this scan for later (same nonce: a retry and the upload never both count). */
async function keep(body) {
  try {
    await enqueue({ nonce: body.nonce, scope: "scan", path: "/api/scans", body, label: body.code });
    showPending();
    return true;
  } catch {
    return false; // no IndexedDB (private mode): the retry button is all there is
  }
}

async function showPending() {
  const badge = $("pending");
  const n = (await pending("scan").catch(() => [])).length;
  badge.hidden = n === 0;
  badge.textContent = t("queue.pending", { n });
}

function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition((p) => resolve(p.coords), () => resolve(null),
      { enableHighAccuracy: true, timeout: 6000, maximumAge: 60000 });
  });
}

async function submit(preview, nonce, extra = {}) {
  show({ tone: "loading", title: t("scan.working") });
  const scannedAt = new Date().toISOString();
  const body = { code, nonce, device: deviceId(), ...extra };
  if (preview.details?.geofence) {
    const coords = await position(); // without a fix the server refuses: a fenced activity needs a location
    if (coords) Object.assign(body, { lat: coords.latitude, lng: coords.longitude });
  }
  try {
    const result = await api("POST", "/api/scans", body);
    if (result.action === "confirm_check_out") showConfirm(result, preview);
    else showSuccess(result);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else if (err.code === "network") {
      showNetworkProblem(() => submit(preview, nonce, extra), await keep({ ...body, scanned_at: scannedAt }));
    } else if (err.code === "location_required" || err.code === "too_far") {
      showRefusal(err, nonce, () => submit(preview, nonce, extra)); // location allowed, or moved closer: try again
    } else showRefusal(err, nonce);
  }
}

async function resolve() {
  show({ tone: "loading", title: t("scan.reading") });
  let preview;
  try {
    preview = await api("GET", `/api/scans/${encodeURIComponent(code)}`);
  } catch (err) {
    if (err.code === "network") {
      const saved = await keep({ code, nonce: nonceFor(code), device: deviceId(), scanned_at: new Date().toISOString() });
      showNetworkProblem(resolve, saved);
    } else showRefusal(err);
    return;
  }
  showActivity(preview);
  if (preview.kind === "member") {
    show({ tone: "info", title: t("scan.member_card"),
      note: t(preview.details?.mine ? "scan.member_card_mine" : "scan.member_card_other"),
      actions: [link("/card.html", "scan.my_card"), link("/scan.html", "scan.scan_another")] });
    return;
  }
  await submit(preview, nonceFor(code));
}

// ---- the in-page scanner --------------------------------------------------------------------

async function go(text) {
  const join = String(text ?? "").match(/\/j\/([a-z0-9]+)/i); // a community's join QR
  if (join) {
    location.assign(`/j/${encodeURIComponent(join[1].toLowerCase())}`);
    return;
  }
  const value = codeFromText(text);
  if (!value) return;
  if (navigator.onLine === false) { // the result page would not load: keep the scan for later
    const scannedAt = new Date().toISOString();
    const coords = await position(); // a fenced activity needs it; offline, the phone's fix still works
    const saved = await keep({ code: value, nonce: newIdempotencyKey(), device: deviceId(), scanned_at: scannedAt,
      ...(coords ? { lat: coords.latitude, lng: coords.longitude } : {}) });
    toast(t(saved ? "queue.saved_scan" : "error.network"), saved ? "info" : "error");
    return;
  }
  location.assign(`/s/${encodeURIComponent(value)}`);
}

function setUpScanner() {
  $("scanner").hidden = false;
  $("scan-links").hidden = false;
  $("paste-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("paste-code");
    if (!codeFromText(input.value)) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    go(input.value);
  });
  if (!navigator.mediaDevices?.getUserMedia) return;
  const start = $("camera-start");
  start.hidden = false;
  start.addEventListener("click", async () => {
    try {
      const { cameraElements, setUpCamera } = await import("./camera.js");
      const camera = setUpCamera(cameraElements(), (value) => {
        if (navigator.onLine !== false) camera.close();
        go(value);
      });
      start.click(); // now handled by the camera module
    } catch {
      start.textContent = t("scan.camera_denied"); // offline before the camera was ever opened: type the code
    }
  }, { once: true });
}

/** Scans kept offline go up when the network returns; each answer shows as a toast. */
function uploadKept() {
  keepFlushing("scan", (item, result, error) => {
    if (error) toast(`${t("queue.uploaded")}: ${error.message}`, "error");
    else toast(`${t("queue.uploaded")}: ${result.title ?? ""} ${tOr(`station.action.${result.action}`, "")}`.trim(),
      "success");
  }, showPending);
}

if (code) {
  resolve();
} else {
  setUpScanner();
}
uploadKept();

// The page any phone camera opens (/s/<code>), and the in-page scanner (/scan.html).
// Flow: preview the code (works logged out) → POST /api/scans (401: log in, then come back here)
// → a big, friendly result, or the refusal in words. A nonce per page load makes a reload of this
// page replay its own scan instead of checking the person out.
import { api, ApiError, newIdempotencyKey, requireLogin } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage } from "./ui.js";
import { cameraScanSupported, startCamera } from "./qr-camera.js";
import { codeFromText } from "./scan-code.js";
import { askToJoin, describe, watch } from "./join-request.js";

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
  return details?.capped ? t("scan.capped", { cap: details.daily_cap }) : "";
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
  if (err.code === "capacity_full" && d.capacity) return t("scan.capacity", { n: d.capacity });
  if (d.annulled) return t("scan.annulled", { reason: d.reason ?? "" });
  return tOr(`scan.hint.${err.code}`, "");
}

function showRefusal(err, nonce) {
  if (err.code === "not_member" && err.details?.community) {
    // Issue 18: not a dead end any more — ask to join; approval completes this very check-in.
    const community = err.details.community;
    show({ tone: "error", title: err.message || t("error.generic"), note: t("join.refused_note", { community }),
      actions: [
        h("button", { type: "button", class: "btn btn-primary btn-block", id: "join-button",
          onclick: () => requestToJoin(nonce) }, t("join.button", { community })),
        link("/", "common.back_home"),
      ] });
    return;
  }
  show({ tone: "error", title: err.message || t("error.generic"), note: refusalNote(err),
    actions: [link("/scan.html", "scan.scan_another"), link("/", "common.back_home")] });
}

function showJoinRequest(request) {
  const view = describe(request);
  show({ tone: view.tone, title: view.title, note: view.note,
    amounts: view.checkedIn ? amountsText(view.points ?? 0, 0) : "",
    actions: view.checkedIn ? doneActions() : [link("/", "common.back_home")] });
}

async function requestToJoin(nonce) {
  const button = $("join-button");
  if (button) button.disabled = true;
  try {
    const request = await askToJoin({ scan_code: code, nonce });
    showJoinRequest(request);
    watch(request, showJoinRequest);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else if (err.code === "already_member") location.reload();
    else showRefusal(err);
  }
}

function showNetworkProblem(retry) {
  show({ tone: "error", title: t("error.network"), note: t("scan.retry_note"), actions: [
    h("button", { type: "button", class: "btn btn-primary btn-block", onclick: retry }, t("common.retry")),
  ] });
}

function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition((p) => resolve(p.coords), () => resolve(null),
      { enableHighAccuracy: true, timeout: 6000, maximumAge: 60000 });
  });
}

async function submit(preview, nonce) {
  show({ tone: "loading", title: t("scan.working") });
  const body = { code, nonce };
  if (preview.details?.geofence) {
    const coords = await position(); // without a fix the scan still goes; the fence only checks what it gets
    if (coords) Object.assign(body, { lat: coords.latitude, lng: coords.longitude });
  }
  try {
    showSuccess(await api("POST", "/api/scans", body));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else if (err.code === "network") showNetworkProblem(() => submit(preview, nonce));
    else showRefusal(err, nonce);
  }
}

async function resolve() {
  show({ tone: "loading", title: t("scan.reading") });
  let preview;
  try {
    preview = await api("GET", `/api/scans/${encodeURIComponent(code)}`);
  } catch (err) {
    if (err.code === "network") showNetworkProblem(resolve);
    else showRefusal(err);
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

function go(text) {
  const join = String(text ?? "").match(/\/j\/([a-z0-9]+)/i); // a community's join QR (issue 18)
  if (join) {
    location.assign(`/j/${encodeURIComponent(join[1].toLowerCase())}`);
    return;
  }
  const value = codeFromText(text);
  if (value) location.assign(`/s/${encodeURIComponent(value)}`);
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
  if (!cameraScanSupported()) return;
  let stop = null;
  const startButton = $("camera-start");
  startButton.hidden = false;
  startButton.addEventListener("click", async () => {
    try {
      stop = await startCamera($("camera"), (value) => {
        stop?.();
        go(value);
      });
      $("camera-box").hidden = false;
      startButton.hidden = true;
      $("camera-stop").hidden = false;
    } catch {
      startButton.replaceChildren(t("scan.camera_denied"));
      startButton.disabled = true;
    }
  });
  $("camera-stop").addEventListener("click", () => {
    stop?.();
    $("camera-box").hidden = true;
    $("camera-stop").hidden = true;
    startButton.hidden = false;
  });
}

if (code) {
  resolve();
} else {
  setUpScanner();
}

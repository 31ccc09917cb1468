// The venue's screen (/kiosk/<activity id>): the rotating check-in QR, full screen, swapped for a
// new one when the server says so (before the old one stops working: it keeps a grace period),
// and the live "inside now" count. Either a screen paired with a one-time code (/kiosk/pair: a device
// token that only shows this activity's code and count) or the activity's manager logged in.
import { api, ApiError } from "./api.js";
import { applyI18n, t } from "./i18n.js";
import { setQrImage } from "./qr-camera.js";
import { pageStarted } from "./ui.js";

applyI18n(document);

const $ = (id) => document.getElementById(id);
const POLL_MS = 10000;      // the inside count refreshes at least this often
const RETRY_MS = 3000;
const activityId = location.pathname.match(/^\/kiosk\/(\d+)/)?.[1];
const DEVICE_KEY = "linli.kiosk";
let shown = null;
let timer = null;

/** This screen's pairing for the activity shown, if any: { token, activity_id }. */
function device() {
  try {
    const saved = JSON.parse(localStorage.getItem(DEVICE_KEY) ?? "null");
    return saved && String(saved.activity_id) === activityId ? saved : null;
  } catch {
    return null;
  }
}

function showPairing(message = "") {
  clearTimeout(timer);
  $("screen").hidden = true;
  $("pair").hidden = false;
  $("pair-error").textContent = message;
  $("pair-login").href = `/login.html?next=${encodeURIComponent(location.pathname)}`;
  $("pair-code").focus();
}

$("pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = $("pair-code").value.trim();
  if (!code) return;
  try {
    const paired = await api("POST", "/api/kiosk/pair", { code });
    localStorage.setItem(DEVICE_KEY, JSON.stringify(paired));
    location.replace(`/kiosk/${paired.activity_id}`);
  } catch (err) {
    $("pair-error").textContent = err instanceof ApiError && err.status === 404 ? t("kiosks.pair_wrong") : err.message;
  }
});

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("is-error", isError);
}

function countdown(seconds) {
  const bar = $("progress");
  bar.getAnimations?.().forEach((a) => a.cancel());
  bar.animate?.([{ transform: "scaleX(1)" }, { transform: "scaleX(0)" }],
    { duration: seconds * 1000, easing: "linear", fill: "forwards" });
}

function render(data) {
  $("title").textContent = data.title;
  document.title = `${data.title} · ${t("title.kiosk")}`;
  $("inside").textContent = String(data.inside);
  if (data.code !== shown) {
    shown = data.code;
    setQrImage($("qr-image"), data.svg);
    $("qr-image").alt = t("kiosk.qr_alt", { title: data.title });
    $("qr").dataset.code = data.code;
    $("qr").hidden = false;
    countdown(data.refresh_after_seconds);
  }
  const notes = { draft: t("kiosk.draft"), closed: t("kiosk.closed") };
  setStatus(notes[data.state] ?? t("kiosk.rotates", { n: data.rotation_seconds }), data.state !== "published");
}

async function refresh() {
  clearTimeout(timer);
  try {
    const paired = device();
    const data = paired
      ? await api("GET", "/api/kiosk/code", undefined, { headers: { "X-Kiosk-Token": paired.token } })
      : await api("GET", `/api/activities/${activityId}/rotating-code`);
    render(data);
    timer = setTimeout(refresh, Math.min(data.refresh_after_seconds * 1000, POLL_MS));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const wasPaired = !!device();
      if (wasPaired) localStorage.removeItem(DEVICE_KEY); // revoked from the activity page
      showPairing(wasPaired ? t("kiosks.revoked_here") : "");
    } else if (err instanceof ApiError && (err.status === 403 || err.status === 404)) {
      $("title").textContent = err.message;
      $("qr").hidden = true;
      setStatus(t("kiosk.not_allowed"), true);
    } else {
      setStatus(t("kiosk.reconnecting"), true); // the last code stays up: it is still good for a while
      timer = setTimeout(refresh, RETRY_MS);
    }
  }
}

function setUpFullscreen() {
  const button = $("fullscreen");
  if (!document.fullscreenEnabled) return;
  button.hidden = false;
  button.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
  document.addEventListener("fullscreenchange", () => { button.hidden = !!document.fullscreenElement; });
}

async function keepScreenOn() {
  try {
    await navigator.wakeLock?.request("screen");
  } catch {
    // not granted (battery saver, no user gesture): the screen's own settings apply
  }
}

if (!activityId) {
  showPairing();
} else {
  setUpFullscreen();
  keepScreenOn();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      keepScreenOn();
      refresh();
    }
  });
  refresh();
}
pageStarted();

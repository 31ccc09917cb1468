// The venue's screen (/kiosk/<activity id>): the rotating check-in QR, full screen, swapped for a
// new one when the server says so (before the old one stops working: it keeps a grace period),
// and the live "inside now" count. Needs the activity's manager logged in on this screen.
import { api, ApiError, requireLogin } from "./api.js";
import { applyI18n, t } from "./i18n.js";
import { setQrImage } from "./qr-camera.js";

applyI18n(document);

const $ = (id) => document.getElementById(id);
const POLL_MS = 10000;      // the inside count refreshes at least this often
const RETRY_MS = 3000;
const activityId = location.pathname.match(/^\/kiosk\/(\d+)/)?.[1];
let shown = null;
let timer = null;

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
    const data = await api("GET", `/api/activities/${activityId}/rotating-code`);
    render(data);
    timer = setTimeout(refresh, Math.min(data.refresh_after_seconds * 1000, POLL_MS));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      requireLogin();
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
  $("title").textContent = t("kiosk.not_allowed");
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

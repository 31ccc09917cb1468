// The in-page QR camera for every page that scans (scan page, station, voucher fulfilment, on-the-spot
// redemption), on every phone: the browser's own BarcodeDetector where it has one, otherwise jsQR
// (frontend/vendor/jsqr/, Apache-2.0, a pure-JS decoder) decoding frames drawn on a canvas. jsQR is
// fetched only when the camera opens, so pages stay light on first load. Torch and zoom are offered
// where the camera has them; typed entry stays the fallback on every page.
import { t } from "./i18n.js";

// Typed entry, on whichever page the camera is: the scan page, the station, voucher hand-over.
const TYPED_INPUTS = "#paste-code, #member-code, #voucher-code";

/** The camera was refused: how to allow it in WeChat, Safari and Chrome, and typing the
 * code printed under the QR instead. Shown once, under the camera button. */
function showCameraHelp(start) {
  if (start.parentElement.querySelector(".camera-help")) return;
  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children);
    return node;
  };
  const typed = document.querySelector(TYPED_INPUTS);
  const help = el("div", { className: "camera-help" },
    el("p", { className: "camera-help-title" }, t("camera.denied_title")),
    el("ul", {}, el("li", {}, t("camera.allow_wechat")), el("li", {}, t("camera.allow_safari")),
      el("li", {}, t("camera.allow_chrome"))),
    typed ? el("button", { type: "button", className: "btn btn-secondary btn-block",
      onclick: () => { typed.scrollIntoView({ block: "center" }); typed.focus(); } }, t("camera.type_instead")) : "");
  start.after(help);
}

const DECODER_URL = "/vendor/jsqr/jsQR.js";
const STYLES = "/css/camera.css";

// The scan page leaves the camera's styles out of its first load; they come with this module.
if (!document.querySelector(`link[href="${STYLES}"]`)) {
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: STYLES }));
}
const MAX_SIDE = 720;      // frames are scaled down to this before decoding: enough for a poster at 1 m
const TICK_MS = 200;
let decoderPromise = null;

/** Fetch the decoder ahead (a station that may lose its network before opening the camera). */
export function warmUp() {
  if (!("BarcodeDetector" in window) && cameraAvailable()) {
    decoderPromise ??= import(DECODER_URL).then(() => self.jsQR);
    decoderPromise.catch(() => { decoderPromise = null; });
  }
}

/** True when the page can open a camera at all (https or localhost, a camera API). */
export function cameraAvailable() {
  return !!navigator.mediaDevices?.getUserMedia;
}

/** A decode(video) → text|null function: the native detector, or jsQR loaded now (once). */
async function makeDecoder() {
  if ("BarcodeDetector" in window) {
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
    } catch {
      // a detector without QR support: fall through to jsQR
    }
  }
  decoderPromise ??= import(DECODER_URL).then(() => self.jsQR); // the UMD file sets self.jsQR
  const jsQR = await decoderPromise;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const { videoWidth: w, videoHeight: h } = video;
    if (!w || !h) return null;
    const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })?.data || null;
  };
}

/**
 * Read QR codes from the back camera into `video`; onCode(text) for each distinct value (the same
 * one again only after `repeatMs`). Returns { stop, track, torch, zoom } (torch: boolean; zoom:
 * {min, max, step, value} or null, from what the camera reports).
 */
export async function openCamera(video, onCode, { repeatMs = 3000 } = {}) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
  let decode;
  try {
    decode = await makeDecoder();
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    throw err;
  }
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  const [track] = stream.getVideoTracks();
  const caps = track.getCapabilities?.() ?? {};
  const settings = track.getSettings?.() ?? {};
  let stopped = false;
  let last = { value: null, at: 0 };
  async function tick() {
    if (stopped) return;
    try {
      const value = await decode(video);
      const now = Date.now();
      if (value && (value !== last.value || now - last.at > repeatMs)) {
        last = { value, at: now };
        onCode(value);
      }
    } catch {
      // a frame that could not be read: try the next one
    }
    if (!stopped) setTimeout(tick, TICK_MS);
  }
  setTimeout(tick, 0); // after the caller holds the controller: a code read at once may close the camera
  return {
    track,
    torch: !!caps.torch,
    zoom: caps.zoom ? { min: caps.zoom.min, max: caps.zoom.max, step: caps.zoom.step || 0.1,
      value: settings.zoom ?? caps.zoom.min } : null,
    stop() {
      stopped = true;
      for (const t of stream.getTracks()) t.stop();
      video.srcObject = null;
    },
  };
}

/**
 * Wire a page's camera controls. `els`: { start, stop, box, video, torch?, zoom?, hint? } elements;
 * onCode(text) gets each decoded value. Hidden entirely where no camera can be opened.
 * `options` go to openCamera (repeatMs). Returns { close() } to stop the camera (e.g. after a scan).
 */
export function setUpCamera(els, onCode, options = {}) {
  let camera = null;
  const { start, stop, box, video, torch, zoom, hint } = els;
  const close = () => {
    camera?.stop();
    camera = null;
    box.hidden = true;
    stop.hidden = true;
    if (torch) torch.hidden = true;
    if (zoom) zoom.hidden = true;
    if (hint) hint.hidden = true;
    start.hidden = false;
  };
  if (!cameraAvailable()) return { close };
  start.hidden = false;
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      camera = await openCamera(video, onCode, options);
      box.hidden = false;
      start.hidden = true;
      stop.hidden = false;
      if (torch && camera.torch) {
        torch.hidden = false;
        torch.setAttribute("aria-pressed", "false");
      }
      if (zoom && camera.zoom) {
        Object.assign(zoom, { min: camera.zoom.min, max: camera.zoom.max, step: camera.zoom.step,
          value: camera.zoom.value });
        zoom.hidden = false;
      }
      if (hint) {
        hint.textContent = t(camera.zoom ? "camera.zoom_hint" : "camera.distance_hint");
        hint.hidden = false;
      }
    } catch {
      start.textContent = t("scan.camera_denied");
      start.hidden = false;
      showCameraHelp(start);
      return;
    } finally {
      start.disabled = false;
    }
  });
  stop.addEventListener("click", close);
  torch?.addEventListener("click", async () => {
    const on = torch.getAttribute("aria-pressed") !== "true";
    try {
      await camera?.track.applyConstraints({ advanced: [{ torch: on }] });
      torch.setAttribute("aria-pressed", String(on));
    } catch {
      torch.hidden = true; // the camera said it could, then could not
    }
  });
  zoom?.addEventListener("input", () => {
    camera?.track.applyConstraints({ advanced: [{ zoom: Number(zoom.value) }] }).catch(() => {});
  });
  return { close };
}

/** The elements of a page's camera controls, by their ids: <prefix>, <prefix>-start, -stop, -box, -torch,
 * -zoom and -hint (the same markup on every page that scans). */
export function cameraElements(prefix = "camera") {
  const $ = (suffix) => document.getElementById(prefix + suffix);
  return { video: $(""), start: $("-start"), stop: $("-stop"), box: $("-box"), torch: $("-torch"), zoom: $("-zoom"),
    hint: $("-hint") };
}

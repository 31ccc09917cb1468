// QR helpers shared by the scan page and the manager's station: the camera scanner (where the
// browser has BarcodeDetector) and showing a QR SVG from the API as an inert image.

/** True when this browser can read QR codes from the camera by itself. */
export function cameraScanSupported() {
  return "BarcodeDetector" in window && !!navigator.mediaDevices?.getUserMedia;
}

/**
 * Show the API's QR SVG as an <img> (a data URL): the markup is never parsed into the page.
 * `img` is updated in place so a rotating code swaps without the layout jumping.
 */
export function setQrImage(img, svg) {
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/**
 * Start reading QR codes from the back camera into `video`. Calls onCode(rawValue) for each
 * distinct value (the same one again only after `repeatMs`). Returns stop().
 */
export async function startCamera(video, onCode, { repeatMs = 3000 } = {}) {
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  let stopped = false;
  let last = { value: null, at: 0 };
  async function tick() {
    if (stopped) return;
    try {
      const found = await detector.detect(video);
      const value = found[0]?.rawValue;
      const now = Date.now();
      if (value && (value !== last.value || now - last.at > repeatMs)) {
        last = { value, at: now };
        onCode(value);
      }
    } catch {
      // a frame the detector could not read: try the next one
    }
    setTimeout(tick, 250);
  }
  tick();
  return function stop() {
    stopped = true;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
}

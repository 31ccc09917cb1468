// QR helpers shared by the scan page and the manager's station: reading a code out of scanned or
// typed text, and showing a QR SVG from the API as an inert image. The camera is js/camera.js.

/** The code inside whatever was scanned, typed or pasted: a bare code or its ".../s/<code>" URL. */
export function codeFromText(text) {
  let value = String(text ?? "").trim();
  const at = value.lastIndexOf("/s/");
  if (at >= 0) value = value.slice(at + 3);
  value = value.split(/[?#/\s]/)[0];
  return value.toLowerCase();
}

/**
 * Show the API's QR SVG as an <img> (a data URL): the markup is never parsed into the page.
 * `img` is updated in place so a rotating code swaps without the layout jumping.
 */
export function setQrImage(img, svg) {
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

// Showing a QR SVG from the API as an inert image, shared by the card, kiosk and poster pages. Reading a
// code out of text is js/scan-code.js; the camera is js/camera.js.

/**
 * Show the API's QR SVG as an <img> (a data URL): the markup is never parsed into the page.
 * `img` is updated in place so a rotating code swaps without the layout jumping.
 */
export function setQrImage(img, svg) {
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

// The camera.* messages: English.
// ../zh-CN/camera.js has the same keys (tests/app/test_catalogues.py).
export default {
  "camera.torch": "Torch",
  "camera.zoom": "Zoom",
  "camera.zoom_hint": "If the code is small, drag the slider to zoom in",
  "camera.distance_hint": "Fit the code in the frame, 20–40 cm away",
  "camera.denied_title": "The camera did not open. It may not be allowed:",
  "camera.allow_wechat": "WeChat: tap “…” at the top right, then Settings or Permissions, and turn on Camera; or in the phone’s Settings → WeChat → Camera.",
  "camera.allow_safari": "Safari on iPhone: tap the “aA” icon left of the address, Website Settings → Camera → Allow; or Settings → Safari → Camera → Allow.",
  "camera.allow_chrome": "Chrome: tap the icon left of the address, Permissions or Site settings, set Camera to Allow, then reload this page.",
  "camera.type_instead": "Type the code printed under the QR instead",
};

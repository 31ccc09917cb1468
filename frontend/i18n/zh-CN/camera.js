// The camera.* messages: Simplified Chinese, the default language.
// ../en/camera.js has the same keys (tests/app/test_catalogues.py).
export default {
  "camera.torch": "手电筒",
  "camera.zoom": "缩放",
  "camera.zoom_hint": "二维码太小时，拖动滑块放大",
  "camera.distance_hint": "把二维码放进框里，距离 20–40 厘米",
};

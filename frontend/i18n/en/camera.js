// The camera.* messages: English.
// ../zh-CN/camera.js has the same keys (tests/app/test_catalogues.py).
export default {
  "camera.torch": "Torch",
  "camera.zoom": "Zoom",
  "camera.zoom_hint": "If the code is small, drag the slider to zoom in",
  "camera.distance_hint": "Fit the code in the frame, 20–40 cm away",
};

// The camera.* messages: Simplified Chinese, the default language.
// ../en/camera.js has the same keys (tests/app/test_catalogues.py).
export default {
  "camera.torch": "手电筒",
  "camera.zoom": "缩放",
  "camera.zoom_hint": "二维码太小时，拖动滑块放大",
  "camera.distance_hint": "把二维码放进框里，距离 20–40 厘米",
  "camera.denied_title": "相机没有打开。可能是没有允许使用相机：",
  "camera.allow_wechat": "微信：点右上角“…”，选“设置”或“权限”，打开“相机”；也可以在手机“设置 → 微信 → 相机”中打开。",
  "camera.allow_safari": "苹果手机 Safari：点地址栏左侧的“大小”图标，选“网站设置 → 相机 → 允许”；或在“设置 → Safari 浏览器 → 相机”中选“允许”。",
  "camera.allow_chrome": "Chrome：点地址栏左侧的图标，选“权限”或“网站设置”，把“相机”改为“允许”，然后刷新本页。",
  "camera.type_instead": "改为输入二维码下方的编号",
};

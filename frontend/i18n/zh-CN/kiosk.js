// The kiosk.* messages: Simplified Chinese, the default language.
// ../en/kiosk.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kiosk.instructions": "用手机相机扫码签到，活动结束时再扫一次签退",
  "kiosk.inside": "现场人数",
  "kiosk.qr_alt": "{title} 签到二维码",
  "kiosk.rotates": "二维码每 {n} 秒自动更新，截图转发无效",
  "kiosk.draft": "活动尚未发布，暂时无法签到",
  "kiosk.closed": "活动已结束",
  "kiosk.reconnecting": "网络中断，正在重新连接…",
  "kiosk.not_allowed": "请用该活动所在社区的管理员账号打开大屏",
  "kiosk.fullscreen": "全屏",
};

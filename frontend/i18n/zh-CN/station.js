// The station.* messages: Simplified Chinese, the default language.
// ../en/station.js has the same keys (tests/app/test_catalogues.py).
export default {
  "station.title": "签到台",
  "station.activity": "活动",
  "station.hint": "扫描居民的会员码为其签到；活动结束时再扫一次，确认后签退（离线时扫码会保存，联网后自动上传）。",
  "station.scan_title": "扫会员码",
  "station.code_label": "会员码（可粘贴链接）",
  "station.code_ph": "16 位编码",
  "station.submit": "签到/签退",
  "station.log_title": "本次记录",
  "station.log_empty": "还没有扫码记录",
  "station.inside": "现场 {n} 人",
  "station.done": "已签退 {n} 人",
  "station.capped": "已达当日积分上限",
  "station.held": "迟到上传，待管理员审核后发放",
  "station.not_manager": "只有社区管理员可以使用签到台。",
  "station.no_activity": "今天没有进行中的已发布活动。",
  "station.to_activities": "活动管理",
  "station.action.checked_in": "已签到",
  "station.action.checked_out": "已签退",
  "station.action.already_checked_in": "刚刚已签到",
  "station.action.already_checked_out": "已签退过",
};

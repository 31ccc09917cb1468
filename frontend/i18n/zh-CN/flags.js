// The flags.* messages: Simplified Chinese, the default language.
// ../en/flags.js has the same keys (tests/app/test_catalogues.py).
export default {
  "flags.title": "需要核查的扫码",
  "flags.empty": "没有需要核查的扫码",
  "flags.hint": "系统发现的可疑或需要确认的签到，不会自动拦截；请核实后作废、忽略或补记。",
  "flags.reason": "处理原因",
  "flags.annul": "作废签到",
  "flags.dismiss": "忽略",
  "flags.credit": "确认在场，补记时长",
  "flags.done_annul": "已作废，积分和时长已退回",
  "flags.done_dismiss": "已忽略",
  "flags.done_credit": "已补记时长",
  "flags.resolution_annulled": "已作废",
  "flags.resolution_dismissed": "已忽略",
  "flags.resolution_credited": "已补记",
  "flags.auto_facts": "已计 {credited}，整场 {full}",
  "flags.travel_facts": "{minutes} 分钟内相距 {km} 公里",
  "flags.burst_facts": "{minutes} 分钟内 {n} 人",
  "flags.late": "离线上传",
  "flags.late_facts": "扫码 {scanned}，上传 {received}",
};

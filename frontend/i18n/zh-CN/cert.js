// The cert.* messages: Simplified Chinese, the default language.
// ../en/cert.js has the same keys (tests/app/test_catalogues.py).
export default {
  "cert.back": "‹ 时间银行",
  "cert.print": "打印 / 保存 PDF",
  "cert.org": "邻里 · 社区时间银行",
  "cert.title": "志愿服务时长证明",
  "cert.honours": "曾获表彰：{list}",
  "cert.body": "兹证明 {name} 参加社区志愿活动和时间银行服务共 {n} 次，经签到签退和服务对象确认，累计志愿时长 {h}。特发此证，以资鼓励。",
  "cert.stars_note": "累计获得时间 {h} 小时",
  "cert.col_date": "日期",
  "cert.col_service": "服务内容",
  "cert.service_meta": "服务对象 {who} · {where}",
  "cert.col_hours": "时长",
  "cert.total": "合计",
  "cert.empty": "暂无已确认的时间银行服务记录。",
  "cert.issued": "开具日期：{date}",
  "cert.seal": "邻里时间银行",

  "cert.activity_meta": "志愿活动 · {where}",
  "cert.adjustments": "管理员核定调整",
  "cert.other": "其他记录（导入的历史时长等）",

  "cert.verify_hint": "扫码或访问链接可核验本证明",
  "cert.id_number": "身份证号：{id}",
  "cert.volunteer_number": "志愿者编号：{number}",
};

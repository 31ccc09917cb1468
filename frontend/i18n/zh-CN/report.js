// The report.* messages: Simplified Chinese, the default language.
// ../en/report.js has the same keys (tests/app/test_catalogues.py).
export default {
  "report.kind.civility": "文明劝导",
  "report.kind.hazard": "隐患排查",
  "report.kind.service": "志愿服务",
  "report.kind_hint.civility": "劝导不文明行为",
  "report.kind_hint.hazard": "发现安全隐患，需拍照",
  "report.kind_hint.service": "顺路帮助居民",
  "report.state.pending": "待审核",
  "report.state.verified": "已核实",
  "report.state.rejected": "未通过",
  "report.awarded": "已获得 {points} 分",
  "report.capped": "今日积分已达上限，本次得 {points} 分（少得 {withheld} 分）",
  "report.reject_reason": "未通过原因：{reason}",
  "report.waiting_review": "等待社区审核",
  "report.photo_alt": "现场照片",
};

// The statement.* messages: Simplified Chinese, the default language.
// ../en/statement.js has the same keys (tests/app/test_catalogues.py).
export default {
  "statement.title": "明细",
  "statement.tabs": "单位",
  "statement.tab_points": "积分",
  "statement.tab_minutes": "时间",
  "statement.available": "可用",
  "statement.empty": "暂无记录。参加志愿活动即可获得积分和时间。",
  "statement.balance_after": "余额 {v}",
  "statement.by": "经办人：{name}",
  "statement.reason": "原因：{reason}",
  "statement.rule": "依据：{rule}",

  "statement.balance_after_in": "{where}余额 {v}",
  "statement.part": "{where}发放：可用 {v}",
};

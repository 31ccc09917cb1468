// The settlement.* messages: Simplified Chinese, the default language.
// ../en/settlement.js has the same keys (tests/app/test_catalogues.py).
export default {
  "settlement.heading": "通兑结算",
  "settlement.intro": "本街道（区）开通通存通兑后，居民可在范围内任一社区使用积分和时长。下表按月列出每对社区之间：一个社区发放、在另一个社区使用的数额。",
  "settlement.policy": "通兑范围",
  "settlement.policy_on": "{unit}：已开通，自 {from} 起",
  "settlement.policy_off": "{unit}：未开通（只能在发放社区使用）",
  "settlement.unit": "单位",
  "settlement.unit_points": "积分",
  "settlement.unit_minutes": "时长",
  "settlement.starts_on": "生效日期",
  "settlement.open": "开通",
  "settlement.close": "关闭",
  "settlement.saved": "已保存",
  "settlement.report": "月度结算",
  "settlement.month": "月份",
  "settlement.issuer": "发放社区",
  "settlement.spender": "使用社区",
  "settlement.amount": "数额",
  "settlement.empty": "本月没有跨社区使用。",
  "settlement.csv": "下载 CSV",
};

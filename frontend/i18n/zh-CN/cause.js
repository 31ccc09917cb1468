// The cause.* messages: Simplified Chinese, the default language.
// ../en/cause.js has the same keys (tests/app/test_catalogues.py).
export default {
  "cause.activity": "志愿活动",
  "cause.report": "网格上报",
  "cause.redemption": "道德超市兑换",
  "cause.service": "时间银行服务",
  "cause.adjustment": "人工调整",
  "cause.gift": "亲情赠与",
  "cause.reversal": "冲正",
  "cause.other": "其他",

  "cause.donation": "捐赠时间池",

  "cause.checkin": "活动签到",

  "cause.award": "志愿奖励",
  "cause.expiry": "积分到期",
  "cause.deduction": "扣分",
};

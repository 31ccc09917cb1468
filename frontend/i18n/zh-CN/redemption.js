// The redemption.* messages: Simplified Chinese, the default language.
// ../en/redemption.js has the same keys (tests/app/test_catalogues.py).
export default {
  "redemption.state.requested": "待审批",
  "redemption.state.approved": "待领取",
  "redemption.state.fulfilled": "已领取",
  "redemption.state.rejected": "未通过",
  "redemption.state.cancelled": "已取消",
  "redemption.state.expired": "已过期",
};

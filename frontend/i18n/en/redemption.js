// The redemption.* messages: English.
// ../zh-CN/redemption.js has the same keys (tests/app/test_catalogues.py).
export default {
  "redemption.state.requested": "Waiting",
  "redemption.state.approved": "To collect",
  "redemption.state.fulfilled": "Collected",
  "redemption.state.rejected": "Declined",
  "redemption.state.cancelled": "Cancelled",
  "redemption.state.expired": "Expired",
};

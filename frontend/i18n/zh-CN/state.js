// The state.* messages: Simplified Chinese, the default language.
// ../en/state.js has the same keys (tests/app/test_catalogues.py).
export default {
  "state.posted": "已入账",
  "state.pending": "处理中",
  "state.voided": "已撤销",
  "state.reversed": "已冲正",
  "state.expired": "已过期",
};

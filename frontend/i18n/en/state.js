// The state.* messages: English.
// ../zh-CN/state.js has the same keys (tests/app/test_catalogues.py).
export default {
  "state.posted": "Posted",
  "state.pending": "Pending",
  "state.voided": "Voided",
  "state.reversed": "Reversed",
  "state.expired": "Expired",
};

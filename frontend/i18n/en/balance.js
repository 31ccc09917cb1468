// The balance.* messages: English.
// ../zh-CN/balance.js has the same keys (tests/app/test_catalogues.py).
export default {
  "balance.total": "Total",
  "balance.available": "Available",
  "balance.held": "Held",
  "balance.held_explained": "Held: reserved for a redemption waiting for approval or a time-bank service in progress; released when it is decided or cancelled.",
  "balance.held_link": "See what holds it",
  "balance.by_community": "By issuing community",
};

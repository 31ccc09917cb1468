// The statement.* messages: English.
// ../zh-CN/statement.js has the same keys (tests/app/test_catalogues.py).
export default {
  "statement.title": "History",
  "statement.tabs": "Unit",
  "statement.tab_points": "Points",
  "statement.tab_minutes": "Time",
  "statement.available": "Available",
  "statement.empty": "Nothing here yet. Join a volunteer activity to earn points and time.",
  "statement.balance_after": "Balance {v}",
  "statement.by": "By {name}",
  "statement.reason": "Reason: {reason}",
  "statement.rule": "Under: {rule}",

  "statement.balance_after_in": "{where} balance {v}",
  "statement.part": "Issued by {where}: {v} available",
};

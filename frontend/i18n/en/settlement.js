// The settlement.* messages: English.
// ../zh-CN/settlement.js has the same keys (tests/app/test_catalogues.py).
export default {
  "settlement.heading": "Cross-community settlement",
  "settlement.intro": "Once a street (or district) opens cross-community spending, residents spend points and time in any of its communities. The table lists, per month and pair of communities, what one issued and the other took in.",
  "settlement.policy": "Spending area",
  "settlement.policy_on": "{unit}: open since {from}",
  "settlement.policy_off": "{unit}: not open (spent only where issued)",
  "settlement.unit": "Unit",
  "settlement.unit_points": "Points",
  "settlement.unit_minutes": "Time",
  "settlement.starts_on": "Starts on",
  "settlement.open": "Open",
  "settlement.close": "Close",
  "settlement.saved": "Saved",
  "settlement.report": "Monthly settlement",
  "settlement.month": "Month",
  "settlement.issuer": "Issued by",
  "settlement.spender": "Spent in",
  "settlement.amount": "Amount",
  "settlement.empty": "Nothing crossed communities this month.",
  "settlement.csv": "Download CSV",
};

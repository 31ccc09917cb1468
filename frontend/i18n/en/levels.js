// The levels.* messages: English.
// ../zh-CN/levels.js has the same keys (tests/app/test_catalogues.py).
export default {
  "levels.title": "Street and district overview",
  "levels.pick": "Area",
  "levels.none": "You do not manage a street or a district.",
  "levels.compare": "Communities this quarter",
  "levels.col_community": "Community",
  "levels.col_active": "Active volunteers",
  "levels.col_hours": "Service hours",
  "levels.col_issued": "Points issued",
  "levels.col_redeemed": "Points redeemed",
  "levels.col_wait": "Avg. redemption wait (h)",
  "levels.col_reports": "Reports verified",
  "levels.col_reported": "Members reported",
  "levels.readonly": "You can read every community below you but change nothing inside one.",
  "levels.units": "Units by service hours",
  "levels.units_empty": "No units yet.",
  "levels.target": "Yearly service target",
  "levels.target_hours": "Per reported member (hours)",
  "levels.target_save": "Save target",
  "levels.target_saved": "Target saved",

  "levels.settlement": "Cross-community settlement",
  "levels.settlement_hint": "Each month, what the communities of this area spent of each other's points and minutes.",
  "levels.settlement_open": "Open the settlement",
};

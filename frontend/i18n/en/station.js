// The station.* messages: English.
// ../zh-CN/station.js has the same keys (tests/app/test_catalogues.py).
export default {
  "station.title": "Check-in station",
  "station.activity": "Activity",
  "station.hint": "Scan a resident's member card to check them in; scan again at the end and confirm to check them out (offline scans are kept and uploaded when back online).",
  "station.scan_title": "Scan member cards",
  "station.code_label": "Member code (or its link)",
  "station.code_ph": "16-character code",
  "station.submit": "Check in/out",
  "station.log_title": "This session",
  "station.log_empty": "No scans yet",
  "station.inside": "{n} inside",
  "station.done": "{n} checked out",
  "station.capped": "daily points cap reached",
  "station.held": "arrived late: paid after review",
  "station.not_manager": "Only community managers can run a check-in station.",
  "station.no_activity": "No published activity is running today.",
  "station.to_activities": "Activities",
  "station.action.checked_in": "Checked in",
  "station.action.checked_out": "Checked out",
  "station.action.already_checked_in": "Already checked in",
  "station.action.already_checked_out": "Already checked out",
};

// The report.* messages: English.
// ../zh-CN/report.js has the same keys (tests/app/test_catalogues.py).
export default {
  "report.kind.civility": "Civility",
  "report.kind.hazard": "Hazard",
  "report.kind.service": "Service",
  "report.kind_hint.civility": "Talked someone out of uncivil behaviour",
  "report.kind_hint.hazard": "Found a safety hazard; photo needed",
  "report.kind_hint.service": "Helped a resident on the way",
  "report.state.pending": "Pending",
  "report.state.verified": "Verified",
  "report.state.rejected": "Rejected",
  "report.awarded": "Earned {points} points",
  "report.capped": "Daily cap reached: earned {points} points ({withheld} withheld)",
  "report.reject_reason": "Rejected: {reason}",
  "report.waiting_review": "Waiting for the community to review",
  "report.photo_alt": "Photo of the scene",
};

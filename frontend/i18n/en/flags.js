// The flags.* messages: English.
// ../zh-CN/flags.js has the same keys (tests/app/test_catalogues.py).
export default {
  "flags.title": "Scans to review",
  "flags.empty": "Nothing to review",
  "flags.hint": "Check-ins that look wrong or need a decision; nothing was blocked. Annul, dismiss or credit after checking.",
  "flags.reason": "Reason",
  "flags.annul": "Annul check-in",
  "flags.dismiss": "Dismiss",
  "flags.credit": "Was there: credit the time",
  "flags.done_annul": "Annulled; points and time returned",
  "flags.done_dismiss": "Dismissed",
  "flags.done_credit": "Time credited",
  "flags.resolution_annulled": "Annulled",
  "flags.resolution_dismissed": "Dismissed",
  "flags.resolution_credited": "Credited",
  "flags.auto_facts": "{credited} credited of {full}",
  "flags.travel_facts": "{km} km apart in {minutes} minutes",
  "flags.burst_facts": "{n} people in {minutes} minutes",
  "flags.late": "uploaded offline",
  "flags.late_facts": "scanned {scanned}, arrived {received}",
};

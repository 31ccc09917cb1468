// The cause.* messages: English.
// ../zh-CN/cause.js has the same keys (tests/app/test_catalogues.py).
export default {
  "cause.activity": "Volunteer activity",
  "cause.report": "Grid report",
  "cause.redemption": "Supermarket redemption",
  "cause.service": "Time bank service",
  "cause.adjustment": "Adjustment",
  "cause.gift": "Family gift",
  "cause.reversal": "Reversal",
  "cause.other": "Other",

  "cause.donation": "Donation to the time pool",

  "cause.checkin": "Activity check-in",

  "cause.award": "Volunteer award",
  "cause.expiry": "Points expired",
  "cause.deduction": "Deduction",
};

// The home.* messages: English.
// ../zh-CN/home.js has the same keys (tests/app/test_catalogues.py).
export default {
  "home.today": "Today's work",
  "home.new_activity": "New activity",
  "home.open_station": "Open check-in station",
  "home.my_volunteering": "My volunteering",
  "home.my_rank": "My rank",
  "home.all_rankings": "Rankings",
  "home.rank_value": "No. {rank} of {of} this quarter, {amount} points",
  "home.rank_none": "No points yet this quarter: join an activity to be ranked",
  "home.no_activities": "No activities in the next 7 days",
  "home.inside_now": "{n} there now",
  "home.signed_up": "{n} of {of} signed up",
  "home.queue.redemptions": "Redemptions to approve",
  "home.queue.reports": "Reports to verify",
  "home.queue.services": "Services to confirm",
  "home.queue.appeals": "Appeals to answer",
  "home.queue.join_requests": "Join requests",
  "home.queue.unit_reports": "Party member reports",
  "home.queue.adjustments": "Adjustments to check",
};

// The join.* messages: English.
// ../zh-CN/join.js has the same keys (tests/app/test_catalogues.py).
export default {
  "join.button": "Ask to join {community}",
  "join.invite": "Welcome to",
  "join.intro": "The community staff review your request.",
  "join.intro_logged_out": "Log in or sign up first, then send your request.",
  "join.refused_note": "You can ask to join {community}; once the staff approve, this check-in completes by itself.",
  "join.pending_title": "Request sent",
  "join.pending_note": "Waiting for the staff of {community} to review it.",
  "join.pending_note_checkin": "Waiting for the staff of {community}. Once approved, your check-in completes by itself and the answer arrives in your messages: you may close this page.",
  "join.way_in_title": "Join {community} to check in",
  "join.rejected_title": "Request declined",
  "join.rejected_note": "Reason: {reason}",
  "join.approved_title": "You have joined {community}",
  "join.approved_note": "You can now take part in the community's activities.",
  "join.approved_checked_in": "Joined and checked in",
  "join.approved_checked_in_note": "Welcome to {community}! Your check-in at {title} is done.",
  "join.checkin_error.outside_window": "The check-in time is over; this check-in did not happen.",
  "join.checkin_error.capacity_full": "The activity is full; this check-in did not happen.",
  "join.checkin_error.other": "This check-in did not happen.",
  "join.scan_again": "If the activity is still on, scan its code once more.",
  "join.already_member": "You are a member of {community}.",
};

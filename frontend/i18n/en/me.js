// The me.* messages: English.
// ../zh-CN/me.js has the same keys (tests/app/test_catalogues.py).
export default {
  "me.hello": "Hello, {name}",
  "me.points": "Points",
  "me.points_available": "Available points",
  "me.minutes": "Time",
  "me.minutes_available": "Time bank",
  "me.hours_unit": "h",
  "me.held": "{v} on hold",
  "me.memberships": "My communities",
  "me.no_memberships": "You have not joined a community yet. Please ask your community staff.",
  "me.manages": "I manage",
  "me.features": "Features",
  "me.logout": "Log out",

  "me.invitations": "Invitations to join a community",
  "me.invited_by": "Invited by {name}",
  "me.invitation_accept": "Accept and join",
  "me.invitation_decline": "Decline",
};

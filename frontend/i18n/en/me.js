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
  "me.no_memberships": "You have not joined a community yet.",
  "me.manages": "I manage",
  "me.features": "Features",
  "me.logout": "Log out",

  "me.invitations": "Invitations for me",
  "me.invited_by": "Invited by {name}",
  "me.role_invite.manager": "asks you to be a manager",
  "me.role_invite.unit_admin": "asks you to administer the unit",
  "me.role_invite.party_member": "asks you to report as a party member",
  "me.role_invite.micro_leader": "asks you to be the neighbourhood head (邻里长)",
  "me.role_invite.micro_worker": "asks you to be a micro-grid worker",
  "me.invitation_accept": "Accept and join",
  "me.invitation_decline": "Decline",
};

// The role.* messages: English.
// ../zh-CN/role.js has the same keys (tests/app/test_catalogues.py).
export default {
  "role.volunteer": "Volunteer",
  "role.courier": "Grid courier",
  "role.manager": "Manager",
  "role.admin": "Administrator",
  "role.micro_leader": "Neighbourhood head",
  "role.micro_worker": "Micro-grid worker",
  "role.street_manager": "Street manager",
  "role.district_manager": "District manager",
  "role.unit_admin": "Unit administrator",
  "role.party_member": "Party member",
  "role.handler": "Handler",
  "role.merchant_owner": "Merchant owner",
  "role.merchant_staff": "Merchant staff",
  "role.owner": "Owner",
  "role.staff": "Staff",
};

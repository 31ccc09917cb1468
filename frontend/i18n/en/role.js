// The role.* messages: English.
// ../zh-CN/role.js has the same keys (tests/app/test_catalogues.py).
export default {
  "role.volunteer": "Volunteer",
  "role.courier": "Grid courier",
  "role.manager": "Manager",
  "role.admin": "Administrator",
};

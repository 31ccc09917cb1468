// The role.* messages: Simplified Chinese, the default language.
// ../en/role.js has the same keys (tests/app/test_catalogues.py).
export default {
  "role.volunteer": "志愿者",
  "role.courier": "网格员",
  "role.manager": "管理员",
  "role.admin": "系统管理员",
};

// The role.* messages: Simplified Chinese, the default language.
// ../en/role.js has the same keys (tests/app/test_catalogues.py).
export default {
  "role.volunteer": "志愿者",
  "role.courier": "网格员",
  "role.manager": "管理员",
  "role.admin": "系统管理员",
  "role.micro_leader": "邻里长",
  "role.micro_worker": "微网格员",
  "role.street_manager": "街道管理员",
  "role.district_manager": "区管理员",
  "role.unit_admin": "单位管理员",
  "role.party_member": "在职党员",
  "role.handler": "处置人员",
  "role.merchant_owner": "商家店主",
  "role.merchant_staff": "商家店员",
  "role.owner": "负责人",
  "role.staff": "工作人员",
};

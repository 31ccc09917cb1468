// The me.* messages: Simplified Chinese, the default language.
// ../en/me.js has the same keys (tests/app/test_catalogues.py).
export default {
  "me.hello": "您好，{name}",
  "me.points": "积分",
  "me.points_available": "可用积分",
  "me.minutes": "时间",
  "me.minutes_available": "时间银行",
  "me.hours_unit": "小时",
  "me.held": "冻结中 {v}",
  "me.memberships": "我的社区",
  "me.no_memberships": "您还没有加入社区。",
  "me.manages": "我管理的",
  "me.features": "常用功能",
  "me.logout": "退出登录",

  "me.invitations": "给我的邀请",
  "me.invited_by": "邀请人：{name}",
  "me.role_invite.manager": "邀请您担任管理员",
  "me.role_invite.unit_admin": "邀请您担任单位管理员",
  "me.role_invite.party_member": "邀请您作为在职党员报到",
  "me.role_invite.micro_leader": "邀请您担任邻里长",
  "me.role_invite.micro_worker": "邀请您担任微网格员",
  "me.invitation_accept": "接受并加入",
  "me.invitation_decline": "婉拒",
};

// The audit.* messages: Simplified Chinese, the default language.
// ../en/audit.js has the same keys (tests/app/test_catalogues.py).
export default {
  "audit.points": "{n} 积分",
  "audit.sentence_adjustment": "{actor} 给 {target} 调整 {amount}",
  "audit.sentence_reversal": "{actor} 冲正了 {target} 的 {amount}",
  "audit.with_reason": "{text}：{reason}",
  "audit.sentence_role": "{actor} 将 {target} 设为{role}",
  "audit.sentence_role_revoke": "{actor} 解除了 {target} 的{role}身份",
  "audit.sentence": "{actor} {act}：{target}",
  "audit.role_other": "其他身份",
  "audit.act_other": "进行了操作",

  "audit.field_value": "{field}：{value}",
  "audit.change": "{before} → {after}",
  "audit.field_amount": "数量",
  "audit.field_minutes": "时长",
  "audit.field_role": "身份",
  "audit.field_kind": "类型",
  "audit.field_name": "名称",
  "audit.field_title": "标题",
  "audit.field_state": "状态",
  "audit.field_active": "账号",
  "audit.field_attendances": "签到人数",
  "audit.field_checked_out": "签退人数",
  "audit.field_reversed": "冲正笔数",
  "audit.active_yes": "启用",
  "audit.active_no": "停用",
};

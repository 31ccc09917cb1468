// The audit.* messages: English.
// ../zh-CN/audit.js has the same keys (tests/app/test_catalogues.py).
export default {
  "audit.points": "{n} points",
  "audit.sentence_adjustment": "{actor} adjusted {target} by {amount}",
  "audit.sentence_reversal": "{actor} reversed {amount} for {target}",
  "audit.with_reason": "{text}: {reason}",
  "audit.sentence_role": "{actor} made {target} a {role}",
  "audit.sentence_role_revoke": "{actor} removed {target} as {role}",
  "audit.sentence": "{actor} · {act} · {target}",
  "audit.role_other": "other role",
  "audit.act_other": "other action",

  "audit.field_value": "{field}: {value}",
  "audit.change": "{before} → {after}",
  "audit.field_amount": "Amount",
  "audit.field_minutes": "Duration",
  "audit.field_role": "Role",
  "audit.field_kind": "Type",
  "audit.field_name": "Name",
  "audit.field_title": "Title",
  "audit.field_state": "State",
  "audit.field_active": "Account",
  "audit.field_attendances": "Check-ins",
  "audit.field_checked_out": "Checked out",
  "audit.field_reversed": "Postings reversed",
  "audit.active_yes": "active",
  "audit.active_no": "deactivated",
};

// Audit entries in words a manager reads ("王芳 给 刘芳 调整 +15 积分：补录纸质记录"), never raw field
// names such as "transfer_id: 95" or "role: volunteer". The API keeps the raw before/after for exports.
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, withClosedNames } from "./ui.js";

const ROLE_ACTS = new Set(["role_grant", "role_revoke", "member_add", "member_edit"]);

function amount(unit, value, signed = true) {
  return unit === "minutes" ? fmtMinutes(value, { signed })
    : t("audit.points", { n: fmtPoints(value, { signed }) });
}

function targetName(e) {
  return withClosedNames(e.target_name) || `${tOr(`console.target_${e.target_type}`, t("console.target_other"))} #${e.target_id ?? ""}`;
}

/** One sentence: who did what to whom. */
export function auditSentence(e) {
  const actor = withClosedNames(e.actor_name) || t("console.system");
  const target = targetName(e);
  const after = e.after ?? {};
  const before = e.before ?? {};
  if ((e.act === "adjustment" || e.act === "reversal") && typeof after.amount === "number") {
    const text = t(`audit.sentence_${e.act}`, { actor, target, amount: amount(after.unit, after.amount) });
    return e.reason ? t("audit.with_reason", { text, reason: e.reason }) : text;
  }
  if (ROLE_ACTS.has(e.act)) {
    const role = after.role ?? before.role;
    if (role) {
      const key = e.act === "role_revoke" ? "audit.sentence_role_revoke" : "audit.sentence_role";
      return t(key, { actor, target, role: tOr(`role.${role}`, t("audit.role_other")) });
    }
  }
  return t("audit.sentence", { actor, target, act: tOr(`audit_act.${e.act}`, t("audit.act_other")) });
}

// The values worth reading, in words; ids and internal fields are left to the export.
const FIELDS = {
  amount: (v, all) => amount(all.unit, v),
  minutes: (v) => fmtMinutes(v),
  role: (v) => tOr(`role.${v}`, t("audit.role_other")),
  // An invitation's kind is a role (邻里长); never the raw value.
  kind: (v) => tOr(`kind.${v}`, tOr(`role.${v}`, t("audit.kind_other"))),
  name: (v) => String(v),
  title: (v) => String(v),
  // Never the raw value: a state this list does not know yet reads as "其他状态", not as English.
  state: (v) => tOr(`state.${v}`, tOr(`audit.state_${v}`, t("audit.state_other"))),
  active: (v) => t(v ? "audit.active_yes" : "audit.active_no"),
  attendances: (v) => String(v),
  checked_out: (v) => String(v),
  reversed: (v) => String(Array.isArray(v) ? v.length : v),
};

function describe(values) {
  return Object.entries(values ?? {})
    .filter(([key, value]) => key in FIELDS && value != null && typeof value !== "object" || key === "reversed")
    .map(([key, value]) => t("audit.field_value", { field: t(`audit.field_${key}`), value: FIELDS[key](value, values) }));
}

/** What changed, in words ("状态：已入账 → 已撤销"), or null when nothing readable is left. */
export function auditDetails(e) {
  if (e.act === "adjustment" || e.act === "reversal" || ROLE_ACTS.has(e.act)) {
    if (!e.before) return null; // the sentence already says it all
  }
  const before = describe(e.before);
  const after = describe(e.after);
  if (!before.length && !after.length) return null;
  if (!before.length) return after.join("；");
  if (!after.length) return before.join("；");
  return t("audit.change", { before: before.join("；"), after: after.join("；") });
}

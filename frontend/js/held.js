// 待复核: one queue of every act held for a second person, and the flags about managers.
// The community's other managers and the street's (or district's) managers decide; the maker sees
// their own items and may withdraw them; the maker is told of each decision (inbox).
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
let me = null;

function value(unit, n, signed = false) {
  return unit === "minutes" ? fmtMinutes(n, { signed }) : t("unit.points", { n: fmtPoints(n, { signed }) });
}

// What approving does, in words.
function summary(item) {
  const s = item.summary;
  switch (item.kind) {
    case "adjustment": return `${value(s.unit, s.amount, true)} · ${s.reason}`;
    case "mark": return t("held.sum_mark", { people: s.user_ids.length, minutes: s.minutes });
    case "activity": return t("held.sum_activity", { title: item.evidence.title || "",
      points: fmtPoints(item.evidence.each?.points ?? 0) });
    case "own_credit": return t("held.sum_own_credit", { title: item.evidence.title || "",
      points: fmtPoints(s.points), minutes: s.minutes });
    case "policy": return s.policy === "join" ? t("held.sum_policy_join")
      : t("held.sum_policy", { points: fmtPoints(s.changes.threshold_points), daily: fmtPoints(s.changes.daily_points) });
    case "redemption": return t("held.sum_redemption", { reward: s.reward, quantity: s.quantity,
      points: fmtPoints(s.points) });
    case "presence": return t("held.sum_presence", { title: s.title, minutes: s.minutes });
    case "pool_credit": return t("held.sum_pool_credit", { minutes: fmtMinutes(s.minutes), reason: s.reason });
    case "rulebook": return t("held.sum_rulebook", { title: s.title, version: s.version, items: s.items.length,
      codes: s.items.map((i) => `${i.code} ${i.title}（${i.kind === "earn" ? "+" : "−"}${i.points}）`).join("；") });
    case "deduction": return t("held.sum_deduction", { rule: s.rule, points: fmtPoints(s.amount), evidence: s.evidence });
    case "selection": return t("held.sum_selection", { quarter: s.quarter, title: s.title,
      chosen: s.chosen.map((c) => `${c.name}（${c.votes}票，${c.reason}）`).join("；") });
    default: return "";
  }
}

// Why it was held, in words.
function evidence(item) {
  const e = item.evidence;
  if (item.kind === "adjustment") {
    return e.why === "daily_limit" ? t("held.why_daily", { limit: fmtPoints(e.daily_limit) })
      : t("held.why_threshold", { threshold: fmtPoints(e.threshold) });
  }
  if (item.kind === "pool_credit") {  // minutes, with the limits in force
    return e.why === "daily_limit" ? t("held.why_daily", { limit: value("minutes", e.daily_limit) })
      : t("held.why_threshold", { threshold: value("minutes", e.threshold) });
  }
  if (e.daily_limit) {
    const [unit, d] = Object.entries(e.daily_limit)[0];
    return t("held.why_daily_made", { today: value(unit, d.today), adding: value(unit, d.adding),
      limit: value(unit, d.limit) });
  }
  if (e.above_threshold) {
    const [unit, d] = Object.entries(e.above_threshold)[0];
    return t("held.why_above", { amount: value(unit, d.amount), threshold: value(unit, d.threshold) });
  }
  if (item.kind === "own_credit") return t("held.why_own");
  if (item.kind === "policy") return t("held.why_policy");
  if (item.kind === "redemption") return t("held.why_redemption");
  if (item.kind === "presence") return t("held.why_presence");
  if (item.kind === "rulebook") return t("held.why_rulebook");
  if (item.kind === "selection") return t("held.why_selection");
  if (item.kind === "deduction") {
    return e.appeal_reason ? t("held.why_deduction_appeal", { reason: e.appeal_reason })
      : t("held.why_deduction_window", { until: fmtTime(e.appeal_until) });
  }
  return "";
}

function decideButtons(item, reload) {
  const mine = item.maker && item.maker.id === me.id;
  const reason = h("input", { class: "input", name: "reason", maxlength: "500",
    placeholder: t("held.reason"), "aria-label": t("held.reason") });
  const decide = async (button, action) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/held/${item.kind}/${item.id}/${action}`,
        action === "reject" ? { reason: reason.value.trim() } : (reason.value.trim() ? { reason: reason.value.trim() } : {}));
      toast(t(action === "approve" ? "held.approved" : "held.rejected"), "success");
      reload();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  const buttons = [];
  if (item.can_decide) {
    buttons.push(h("button", { type: "button", class: "btn btn-primary",
      onclick: (e) => decide(e.currentTarget, "approve") }, t("held.approve")));
  } else if (mine) {
    buttons.push(h("span", { class: "badge badge-warn" }, t("held.needs_other")));
  }
  if (item.can_decide || mine) {
    buttons.push(reason, h("button", { type: "button", class: "btn btn-secondary",
      onclick: (e) => decide(e.currentTarget, "reject") }, t(mine && !item.can_decide ? "held.withdraw" : "held.reject")));
  }
  return h("div", { class: "held-actions" }, ...buttons);
}

function itemRow(item) {
  return h("li", { class: "held-item" },
    h("div", { class: "held-kind" }, h("strong", {}, t(`held.kind_${item.kind}`)), " · ", item.community_name),
    h("div", {}, summary(item)),
    h("div", { class: "muted" }, evidence(item)),
    item.kind === "deduction" ? h("a", { href: `/deductions.html#d-${item.id}` }, t("held.open_deduction"))
      : item.kind === "rulebook" ? h("a", { href: `/rulebook.html?org=${item.community_id}` }, t("held.open_rulebook"))
        : item.kind === "selection" ? h("a", { href: `/selection.html?id=${item.id}` }, t("held.open_selection")) : null,
    h("div", { class: "muted small" },
      item.maker ? t("held.maker", { name: withClosedNames(item.maker.name) }) : t("held.maker_system"),
      item.subject ? ` · ${t("held.subject", { name: withClosedNames(item.subject.name) })}` : "",
      " · ", fmtTime(item.created_at)),
    decideButtons(item, load));
}

function flagRow(flag) {
  const reason = h("input", { class: "input", name: "reason", maxlength: "500",
    placeholder: t("held.flag_reason"), "aria-label": t("held.flag_reason") });
  const dismiss = async (button) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/manager-flags/${flag.id}/dismiss`, { reason: reason.value.trim() });
      toast(t("held.flag_done"), "success");
      load();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  return h("li", { class: "held-item" },
    h("div", {}, h("strong", {}, flag.message)),
    h("div", { class: "muted small" }, withClosedNames(flag.manager.name), " · ", flag.community_name, " · ",
      fmtTime(flag.created_at)),
    flag.can_dismiss ? h("div", { class: "held-actions" }, reason,
      h("button", { type: "button", class: "btn btn-secondary", onclick: (e) => dismiss(e.currentTarget) },
        t("held.flag_dismiss"))) : null);
}

async function load() {
  try {
    me = me || await api("GET", "/api/me");
    const [queue, flags] = await Promise.all([api("GET", "/api/held"), api("GET", "/api/manager-flags")]);
    $("items").replaceChildren(...queue.items.map(itemRow));
    $("items-empty").hidden = queue.items.length > 0;
    $("flag-list").replaceChildren(...flags.items.map(flagRow));
    $("flags-empty").hidden = flags.items.length > 0;
    $("status").hidden = true;
  } catch (err) {
    handlePageError(err, $("status"), load);
  }
}

load();

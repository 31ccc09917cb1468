// The manager/admin console: queues, members (invite, grid, switch off, statement), the
// organisation tree, people search (admins) and the audit log. One page, one tab per section.
import { api, ApiError, clearErrors, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtMinutes, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";
import { auditDetails, auditSentence } from "./audit-text.js";

initPage();

const $ = (id) => document.getElementById(id);
const PANELS = ["overview", "members", "orgs", "people", "audit"];
const ACTS = [
  "adjustment", "reversal", "redemption_approve", "redemption_reject", "redemption_fulfil",
  "redemption_on_the_spot", "checkin_annul", "attendance_mark", "activity_create", "activity_edit",
  "activity_publish", "activity_close", "role_grant", "role_revoke", "member_add", "member_edit",
  "member_deactivate", "member_reactivate", "team_create", "team_member_add", "household_edit",
  "stock_change", "reward_create", "reward_edit", "report_verify", "report_reject", "report_settings",
  "service_confirm", "service_cancel", "service_proxy", "family_link_approve", "org_create", "org_edit",
  "posting_publish", "appeal_answer", "expiry_policy", "account_close", "activity_delete", "station_scan",
  "phone_view", "member_invite", "adjustment_request", "adjustment_approve", "adjustment_reject",
  "adjustment_policy", "invitation_answer",
];
const PARENT_KIND = { street: "district", community: "street", grid: "community" };

const state = {
  me: null,
  summary: null,
  tree: null,
  community: null, // the selected community id
  panel: "overview",
  members: { cursor: null, generation: 0 },
  audit: { cursor: null, generation: 0, actorId: null, actorName: "" },
  detailId: null,
};

// ---- small helpers ----------------------------------------------------------------------------

function badge(tone, text) {
  return h("span", { class: ["badge", tone] }, text);
}

function fmtValue(unit, amount, signed = false) {
  return unit === "minutes" ? fmtMinutes(amount, { signed }) : t("unit.points", { n: fmtPoints(amount, { signed }) });
}

function walk(nodes, fn) {
  for (const node of nodes) {
    fn(node);
    walk(node.children ?? [], fn);
  }
}

function findNode(id) {
  let found = null;
  walk(state.tree?.roots ?? [], (n) => { if (n.id === id) found = n; });
  return found;
}

function gridsOf(communityId) {
  return (findNode(communityId)?.children ?? []).filter((n) => n.kind === "grid");
}

function communityName(id) {
  return state.summary.communities.find((c) => c.id === id)?.name ?? `#${id}`;
}

function formJson(form) {
  const data = {};
  for (const [key, value] of new FormData(form)) if (value !== "") data[key] = value;
  return data;
}

/** Run a form's action with its button busy; errors go next to the field the server names. */
async function submitting(form, action) {
  const button = form.querySelector("button[type=submit]");
  clearErrors(form);
  setBusy(button, true);
  try {
    return await action();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) handlePageError(err);
    else showError(err, form);
    return undefined;
  } finally {
    setBusy(button, false);
  }
}

function option(value, label, selected = false) {
  return h("option", { value, selected }, label);
}

function syncUrl() {
  const query = new URLSearchParams();
  if (state.community) query.set("community", String(state.community));
  query.set("tab", state.panel);
  history.replaceState(null, "", `?${query}`);
}

// ---- tabs -------------------------------------------------------------------------------------

function showPanel(name) {
  if (name !== state.panel) closeDetail();
  state.panel = PANELS.includes(name) && !$(`tab-${name}`).hidden ? name : "overview";
  for (const panel of PANELS) {
    const active = panel === state.panel;
    $(`tab-${panel}`).setAttribute("aria-selected", String(active));
    $(`tab-${panel}`).tabIndex = active ? 0 : -1;
    $(`panel-${panel}`).hidden = !active;
  }
  syncUrl();
  if (state.panel === "members" && !$("members").children.length) loadMembers(true);
  if (state.panel === "audit" && !$("audit").children.length) loadAudit(true);
}

for (const panel of PANELS) {
  $(`tab-${panel}`).addEventListener("click", () => showPanel(panel));
}

// ---- overview ---------------------------------------------------------------------------------

function renderOverview() {
  const s = state.summary;
  $("stat-members").textContent = fmtPoints(s.members);
  $("stat-audit").textContent = fmtPoints(s.audit_today);
  $("queues").replaceChildren(...s.queues.map((q) => {
    const count = q.pending == null ? null : q.pending;
    return h("li", {},
      h("a", { class: "queue", href: q.href },
        h("span", { class: "queue-label" }, t(`console.queue_${q.key}`)),
        count == null
          ? h("span", { class: "muted small" }, t("console.queue_open"))
          : h("span", { class: ["queue-count", count === 0 && "is-zero"] }, fmtPoints(count)),
        count == null ? null : h("span", { class: "muted small" }, t(`console.queue_${q.key}_hint`))));
  }));
}

// ---- adjustments waiting for a second manager (maker-checker) -----------------------

function adjustmentRow(r) {
  const mine = r.requested_by === state.me.id;
  const reason = h("input", { class: "input", name: "reason", maxlength: "500", required: true,
    placeholder: t("console.reject_reason"), "aria-label": t("console.reject_reason") });
  const decide = async (button, action) => {
    setBusy(button, true);
    try {
      await api("POST", `/api/adjustment-requests/${r.id}/${action}`,
        action === "reject" ? { reason: reason.value.trim() } : undefined,
        action === "approve" ? { idempotencyKey: newIdempotencyKey() } : undefined);
      toast(t(action === "approve" ? "console.adjustment_approved" : "console.adjustment_rejected"), "success");
      loadAdjustments();
    } catch (err) {
      showError(err);
      setBusy(button, false);
    }
  };
  return h("li", { class: "adjustment-row" },
    h("div", {},
      h("div", {}, withClosedNames(r.user_name), " · ", h("strong", { class: "num" }, fmtValue(r.unit, r.amount, true))),
      h("div", { class: "muted small" }, r.reason),
      h("div", { class: "muted small" },
        t("console.adjustment_by", { name: withClosedNames(r.requested_by_name) }), " · ", fmtTime(r.created_at))),
    h("div", { class: "adjustment-actions" },
      mine ? h("span", { class: "badge badge-warn" }, t("console.adjustment_needs_other")) : h("button", {
        type: "button", class: "btn btn-primary btn-small", onclick: (e) => decide(e.currentTarget, "approve"),
      }, t("console.adjustment_approve")),
      reason,
      h("button", { type: "button", class: "btn btn-secondary btn-small",
        onclick: (e) => decide(e.currentTarget, "reject") }, t(mine ? "console.adjustment_withdraw"
        : "console.adjustment_reject"))));
}

async function loadAdjustments() {
  const card = $("adjustments-card");
  card.hidden = !state.community;
  if (!state.community) return;
  try {
    const [page, policy] = await Promise.all([
      api("GET", `/api/adjustment-requests?community_id=${state.community}`),
      api("GET", `/api/communities/${state.community}/adjustment-policy`)]);
    $("adjustments").replaceChildren(...(page.items.length ? page.items.map(adjustmentRow)
      : [h("li", { class: "muted" }, t("console.adjustments_none"))]));
    $("policy-points").value = String(policy.threshold_points);
    $("policy-minutes").value = String(policy.threshold_minutes);
  } catch (err) {
    handlePageError(err);
  }
}

$("policy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = formJson(form);
  const done = await submitting(form, () => api("PUT", `/api/communities/${state.community}/adjustment-policy`, {
    threshold_points: Number(data.threshold_points), threshold_minutes: Number(data.threshold_minutes) }));
  if (done) toast(t("console.saved"), "success");
});

// ---- members ----------------------------------------------------------------------------------

function memberBadges(m) {
  return [
    ...m.roles.map((role) => badge("badge-info", t(`role.${role}`))),
    m.closed ? badge("badge-muted", t("console.state_closed"))
      : m.active === false ? badge("badge-danger", t("console.state_inactive")) : null,
    m.claimed === false && !m.closed ? badge("badge-warn", t("console.state_unclaimed")) : null,
  ];
}

function memberRow(m) {
  const meta = [m.phone, m.grid_name].filter(Boolean).join(" · ");
  return h("li", {},
    h("button", { type: "button", class: "member-open", onclick: () => openDetail(m.id) },
      h("div", { class: "member" },
        h("div", { class: "member-main" },
          h("div", { class: "member-name" }, m.name, " ", h("span", { class: "badges" }, memberBadges(m))),
          h("div", { class: "member-meta num" }, meta)),
        m.points == null ? null : h("div", { class: "member-side" },
          h("div", {}, t("unit.points", { n: fmtPoints(m.points) })),
          h("div", { class: "muted" }, fmtMinutes(m.minutes))))));
}

async function loadMembers(reset = false) {
  if (!state.community) return;
  if (reset) {
    state.members = { cursor: null, generation: state.members.generation + 1 };
    $("members").replaceChildren();
  }
  const generation = state.members.generation;
  const query = new URLSearchParams({ limit: "30" });
  const q = $("member-q").value.trim();
  if (q) query.set("q", q);
  if ($("member-role").value) query.set("role", $("member-role").value);
  if (state.members.cursor) query.set("cursor", state.members.cursor);
  $("members-status").hidden = false;
  $("members-status").textContent = t("common.loading");
  setBusy($("members-more"), true);
  try {
    const page = await api("GET", `/api/communities/${state.community}/members?${query}`);
    if (generation !== state.members.generation) return;
    $("members").append(...page.items.map(memberRow));
    state.members.cursor = page.next_cursor;
    const empty = !$("members").children.length;
    $("members-status").hidden = !empty;
    $("members-status").textContent = empty ? t("console.members_empty") : "";
    $("members-more").hidden = !page.next_cursor;
  } catch (err) {
    if (generation === state.members.generation) handlePageError(err, $("members-status"), () => loadMembers(true));
  } finally {
    setBusy($("members-more"), false);
  }
}

$("members-more").addEventListener("click", () => loadMembers());
$("member-role").addEventListener("change", () => loadMembers(true));
let searchTimer = null;
$("member-q").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadMembers(true), 300);
});
$("member-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadMembers(true);
});

function renderInviteGrids() {
  const grids = gridsOf(state.community);
  $("invite-grid").replaceChildren(...grids.map((g) => option(String(g.id), g.name)));
  $("invite-grid-field").hidden = $("invite-role").value !== "courier";
}

$("invite-role").addEventListener("change", renderInviteGrids);

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = formJson(form);
  if (body.role !== "courier") delete body.grid_id;
  else if (body.grid_id) body.grid_id = Number(body.grid_id);
  const result = await submitting(form, () =>
    api("POST", `/api/communities/${state.community}/invitations`, body));
  if (!result) return;
  // The same answer for any phone outside your communities (registered or not): an invitation waits
  // for the person, who is told in the app; only people you already manage join at once.
  toast(result.pending ? t("console.invite_pending", { name: body.name })
    : result.already_member ? t("console.invite_already", { name: result.member.name })
      : t("console.invite_done", { name: result.member.name }), "success");
  form.reset();
  renderInviteGrids();
  loadMembers(true);
});

// ---- one member -------------------------------------------------------------------------------

function closeDetail() {
  state.detailId = null;
  $("member-detail").hidden = true;
  $("member-detail").replaceChildren();
}

function statementList(lines, unit) {
  if (!lines.length) return [h("li", { class: "muted" }, t("console.statement_empty"))];
  return lines.map((line) => h("li", { class: "entry" },
    h("div", {},
      h("div", { class: "entry-title" }, line.cause?.label || tOr(`cause.${line.cause?.type ?? line.kind}`, t("cause.other"))),
      h("div", { class: "entry-meta" }, [fmtTime(line.created_at), line.reason].filter(Boolean).join(" · "))),
    h("div", { class: "entry-side" },
      h("div", { class: ["entry-amount", line.amount > 0 && "is-in"] }, fmtValue(unit, line.amount, true)),
      line.balance_after != null &&
        h("div", { class: "entry-after" }, t("statement.balance_after", { v: fmtValue(unit, line.balance_after) })))));
}

async function loadStatement(userId, unit, holder) {
  holder.replaceChildren(h("li", { class: "muted" }, t("common.loading")));
  try {
    const page = await api("GET", `/api/users/${userId}/statement?unit=${unit}&limit=20`);
    holder.replaceChildren(...statementList(page.items, unit));
  } catch (err) {
    holder.replaceChildren(h("li", { class: "field-error" }, err.message));
  }
}

function actionForm(titleKey, fields, submitKey, onSubmit, tone = "btn-primary") {
  const form = h("form", { novalidate: true },
    h("h3", {}, t(titleKey)), ...fields,
    h("button", { type: "submit", class: ["btn", "btn-small", tone] }, t(submitKey)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await submitting(form, () => onSubmit(formJson(form), form));
  });
  return form;
}

function field(id, labelKey, input) {
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), input);
}

async function openDetail(userId) {
  state.detailId = userId;
  const box = $("member-detail");
  box.hidden = false;
  box.replaceChildren(h("p", { class: "muted" }, t("common.loading")));
  box.scrollIntoView({ block: "start" });
  let d;
  try {
    d = await api("GET", `/api/members/${userId}`);
  } catch (err) {
    handlePageError(err, box);
    return;
  }
  if (state.detailId !== userId) return;
  const here = d.memberships.filter((m) => m.community_id === state.community);
  const courierHere = here.find((m) => m.role === "courier");
  const grids = gridsOf(state.community);
  const uid = `m${userId}`;

  const actions = [];
  if (courierHere && grids.length > 1) {
    actions.push(actionForm("console.assign_grid", [
      field(`${uid}-grid`, "kind.grid", h("select", { id: `${uid}-grid`, name: "grid_id" },
        grids.map((g) => option(String(g.id), g.name, g.id === courierHere.org_id)))),
    ], "console.save", async (data) => {
      await api("POST", `/api/members/${userId}/grid`, { grid_id: Number(data.grid_id) });
      toast(t("console.saved"), "success");
      openDetail(userId);
      loadMembers(true);
    }));
  }
  const teams = (findNode(state.community)?.teams ?? []).filter((x) => !d.teams.some((mine) => mine.id === x.id));
  if (here.length && teams.length && !d.closed) {
    actions.push(actionForm("console.team_add", [
      field(`${uid}-team`, "console.teams", h("select", { id: `${uid}-team`, name: "team_id" },
        teams.map((x) => option(String(x.id), x.name)))),
    ], "console.save", async (data) => {
      await api("POST", `/api/teams/${data.team_id}/members`, { user_id: userId });
      toast(t("console.saved"), "success");
      await reloadTree();
      openDetail(userId);
    }));
  }
  if (!d.closed) {
    const key = newIdempotencyKey(); // one key per opened form: a double submit moves points once
    actions.push(actionForm("console.adjust", [
      field(`${uid}-unit`, "console.unit", h("select", { id: `${uid}-unit`, name: "unit" },
        option("points", t("statement.tab_points")), option("minutes", t("console.unit_minutes")))),
      field(`${uid}-amount`, "console.amount", h("input", { id: `${uid}-amount`, name: "amount", type: "number",
        inputmode: "numeric", step: "1", required: true })),
      field(`${uid}-reason`, "console.reason", h("input", { id: `${uid}-reason`, name: "reason", maxlength: "500",
        required: true })),
    ], "console.adjust_submit", async (data) => {
      const amount = Number(data.amount);
      const question = t("confirm.adjust", { name: d.name, amount: Math.abs(amount),
        change: t(amount < 0 ? "confirm.remove" : "confirm.add"), unit: t(`confirm.${data.unit}`) });
      if (!window.confirm(question)) return;
      const result = await api("POST", "/api/adjustments", { user_id: userId, unit: data.unit,
        amount: Number(data.amount), reason: data.reason ?? "", community_id: state.community },
      { idempotencyKey: key });
      // Above the community's threshold the adjustment waits for another manager.
      toast(t(result.state === "pending" ? "console.adjust_pending" : "console.saved"), "success");
      if (result.state === "pending") loadAdjustments();
      openDetail(userId);
      loadMembers(true);
    }));
    const switchOff = d.active;
    actions.push(actionForm(switchOff ? "console.deactivate" : "console.reactivate", [
      field(`${uid}-why`, "console.reason", h("input", { id: `${uid}-why`, name: "reason", maxlength: "500",
        required: true })),
      switchOff ? h("p", { class: "hint" }, t("console.deactivate_hint")) : null,
    ], switchOff ? "console.deactivate_submit" : "console.reactivate_submit", async (data) => {
      await api("POST", `/api/members/${userId}/${switchOff ? "deactivate" : "reactivate"}`,
        { reason: data.reason ?? "" });
      toast(t("console.saved"), "success");
      openDetail(userId);
      loadMembers(true);
    }, switchOff ? "btn-danger" : "btn-primary"));
  }

  const statement = h("ul", { class: "list" });
  const unitTabs = ["points", "minutes"].map((unit) => h("button", {
    type: "button", class: "tab", role: "tab", "aria-selected": String(unit === "points"),
    onclick: (event) => {
      for (const tab of unitTabs) tab.setAttribute("aria-selected", String(tab === event.currentTarget));
      loadStatement(userId, unit, statement);
    },
  }, t(unit === "points" ? "statement.tab_points" : "statement.tab_minutes")));
  const history = h("ul", { class: "list" });

  const state_ = d.closed ? t("console.state_closed") : d.active ? t("console.state_active") : t("console.state_inactive");
  box.replaceChildren(
    h("div", { class: "card-title" },
      h("h2", {}, d.name, " ", h("span", { class: "badges" },
        d.claimed || d.closed ? null : badge("badge-warn", t("console.state_unclaimed")))),
      h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: closeDetail }, t("common.close"))),
    h("dl", { class: "kv" },
      h("dt", {}, t("login.phone")), h("dd", { class: "num" }, d.phone ?? "–"),
      h("dt", {}, t("console.state")), h("dd", {}, state_),
      h("dt", {}, t("console.memberships")),
      h("dd", {}, d.memberships.map((m) => `${m.community_name}${m.kind === "grid" ? ` / ${m.org_name}` : ""}`
        + ` (${t(`role.${m.role}`)})`).join("，") || "–"),
      d.teams.length ? [h("dt", {}, t("console.teams")), h("dd", {}, d.teams.map((x) => x.name).join("，"))] : null,
      h("dt", {}, t("me.points_available")), h("dd", { class: "num" }, fmtPoints(d.balances.points.available)),
      h("dt", {}, t("me.minutes_available")), h("dd", { class: "num" }, fmtMinutes(d.balances.minutes.available)),
      (d.medals ?? []).length ? [h("dt", {}, t("console.medals")), h("dd", {}, d.medals.join("，"))] : null),
    actions.length ? h("div", { class: "detail-actions" }, actions) : null,
    h("h3", {}, t("console.statement")),
    h("div", { class: "tabs", role: "tablist" }, unitTabs),
    statement,
    h("h3", { class: "history-title" }, t("console.history")),
    history);
  loadStatement(userId, "points", statement);
  try {
    const page = await api("GET", `/api/audit?target_type=user&target_id=${userId}&limit=20`);
    history.replaceChildren(...(page.items.length ? page.items.map(auditRow)
      : [h("li", { class: "muted" }, t("console.audit_empty"))]));
  } catch (err) {
    history.replaceChildren(h("li", { class: "muted" }, err.message));
  }
}

// ---- organisation tree ------------------------------------------------------------------------

function kindLabel(kind) {
  return t(`kind.${kind}`);
}

function nodesOfKind(kind) {
  const list = [];
  walk(state.tree.roots, (n) => { if (n.kind === kind) list.push(n); });
  return list;
}

async function reloadTree() {
  state.tree = await api("GET", "/api/console/tree");
  renderTree();
  renderOrgParents();
  renderInviteGrids();
}

function inlineForm(placeholderKey, submitKey, onSubmit, extra = []) {
  const input = h("input", { class: "input", name: "value", maxlength: "100", required: true,
    placeholder: t(placeholderKey), "aria-label": t(placeholderKey) });
  const form = h("form", { class: "inline-form", novalidate: true }, input, ...extra,
    h("button", { type: "submit", class: "btn btn-secondary btn-small" }, t(submitKey)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await submitting(form, async () => {
      await onSubmit(input.value.trim(), form);
      return true;
    });
    if (ok) await reloadTree();
  });
  return form;
}

/** Name a manager by phone: an invitation the person accepts on their home page; nobody is
 * made a manager without consent. The name is the account's when the phone has one. */
async function appointByPhone(orgId, phone) {
  const found = await api("POST", "/api/people/search", { q: phone, limit: 5 });
  const exact = found.items.filter((p) => !p.closed);
  const name = exact.length === 1 ? exact[0].name : t("console.default_manager_name");
  await api("POST", `/api/orgs/${orgId}/managers`, { phone, name });
  toast(t("console.invited_manager", { name }), "success");
}

function editForm(node) {
  const name = h("input", { class: "input", name: "name", value: node.name, maxlength: "100", required: true,
    "aria-label": t("console.org_name") });
  const parentKind = PARENT_KIND[node.kind];
  const movable = node.kind === "street" || node.kind === "community";
  const parent = movable ? h("select", { class: "input", name: "parent_id", "aria-label": t("console.org_parent") },
    nodesOfKind(parentKind).map((p) => option(String(p.id), p.name, p.id === node.parent_id))) : null;
  const form = h("form", { class: "inline-form", novalidate: true, hidden: true }, name, parent,
    h("button", { type: "submit", class: "btn btn-secondary btn-small" }, t("console.save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim() };
    if (parent) body.parent_id = Number(parent.value);
    const ok = await submitting(form, async () => {
      await api("PATCH", `/api/orgs/${node.id}`, body);
      return true;
    });
    if (ok) {
      toast(t("console.saved"), "success");
      await reloadTree();
    }
  });
  return form;
}

function treeNode(node) {
  const admin = state.tree.editable;
  // The edit form (with a list of every possible parent) is built on first use: built up front for
  // every node, a city-sized tree grew quadratically and took minutes to draw.
  const edit = admin ? h("div", { class: "tree-edit" }) : null;
  const toggleEdit = () => {
    if (!edit.firstChild) edit.append(editForm(node));
    edit.firstChild.hidden = !edit.firstChild.hidden;
  };
  const extra = [];
  if (node.kind !== "grid") {  // every level shows its managers
    extra.push(h("div", { class: "tree-extra" },
      h("span", { class: "muted" }, t("console.managers")),
      node.managers.length ? node.managers.map((m) => h("span", { class: "chip" }, m.name,
        admin ? h("button", { type: "button", "aria-label": t("console.remove_manager", { name: m.name }),
          onclick: async () => {
            try {
              await api("DELETE", `/api/orgs/${node.id}/managers/${m.id}`);
              await reloadTree();
            } catch (err) { showError(err); }
          } }, "×") : null)) : h("span", { class: "muted" }, "–")));
    if (admin) {
      extra.push(inlineForm("console.appoint_phone", "console.appoint", (phone) => appointByPhone(node.id, phone)));
    }
  }
  if (node.kind === "community") {
    extra.push(h("div", { class: "tree-extra" },
      h("span", { class: "muted" }, t("console.teams")),
      node.teams.length ? node.teams.map((team) => h("span", { class: "chip chip-plain" },
        `${team.name} · ${t("console.n_people", { n: team.members })}`)) : h("span", { class: "muted" }, "–")));
    extra.push(inlineForm("console.team_name", "console.team_create", async (name) => {
      await api("POST", "/api/teams", { name, community_id: node.id });
      toast(t("console.saved"), "success");
    }));
  }
  return h("li", { class: "tree-node", dataset: { org: String(node.id) } },
    h("div", { class: "tree-line" },
      badge("badge-muted", kindLabel(node.kind)),
      h("span", { class: "tree-name" }, node.name),
      node.kind === "community" || node.kind === "grid"
        ? h("span", { class: "muted small" }, t("console.n_people", { n: node.members })) : null,
      edit ? h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: toggleEdit },
        t("console.edit")) : null),
    edit, ...extra,
    node.children.length ? h("ul", {}, node.children.map(treeNode)) : null);
}

function renderTree() {
  $("tree").replaceChildren(...(state.tree.roots.length ? state.tree.roots.map(treeNode)
    : [h("li", { class: "muted" }, t("console.tree_empty"))]));
  $("org-form").hidden = !state.tree.editable;
}

function renderOrgParents() {
  const kind = $("org-kind").value;
  const parentKind = PARENT_KIND[kind];
  $("org-parent-field").hidden = !parentKind;
  $("org-parent").replaceChildren(...(parentKind ? nodesOfKind(parentKind).map((n) => option(String(n.id), n.name)) : []));
}

$("org-kind").addEventListener("change", renderOrgParents);
$("org-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = { kind: $("org-kind").value, name: $("org-name").value.trim() };
  if (PARENT_KIND[body.kind]) body.parent_id = Number($("org-parent").value) || null;
  const org = await submitting(form, () => api("POST", "/api/orgs", body));
  if (!org) return;
  toast(t("console.created", { name: org.name }), "success");
  $("org-name").value = "";
  await reloadTree();
  if (org.kind === "community") await reloadSummary(org.id);
});

// ---- people (admins) --------------------------------------------------------------------------

$("people-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const q = $("people-q").value.trim();
  if (!q) return;
  const page = await submitting(form, () => api("POST", "/api/people/search", { q, limit: 50 }));
  if (!page) return;
  $("people").replaceChildren(...(page.items.length ? page.items.map((p) => h("li", {},
    h("button", { type: "button", class: "member-open", onclick: () => openDetail(p.id) },
      h("div", { class: "member-name" }, p.name, " ", h("span", { class: "badges" },
        p.is_admin ? badge("badge-accent", t("role.admin")) : null,
        p.closed ? badge("badge-muted", t("console.state_closed"))
          : p.active ? null : badge("badge-danger", t("console.state_inactive")))),
      h("div", { class: "member-meta num" }, [p.phone, p.communities.join("、")].filter(Boolean).join(" · ")))))
    : [h("li", { class: "muted" }, t("console.people_empty"))]));
});

// ---- audit ------------------------------------------------------------------------------------

function auditRow(e) {
  const details = auditDetails(e);
  const reasonInSentence = e.act === "adjustment" || e.act === "reversal";
  return h("li", { class: "audit-entry" },
    h("div", { class: "audit-head" }, badge("badge-accent", tOr(`audit_act.${e.act}`, t("audit.act_other"))),
      h("span", {}, auditSentence(e))),
    h("div", { class: "audit-meta" },
      fmtTime(e.created_at), " · ",
      e.actor_id ? h("button", { type: "button", class: "audit-actor", title: t("console.audit_by_actor"), "data-inline": "",
        onclick: () => filterByActor(e.actor_id, e.actor_name) }, withClosedNames(e.actor_name)) : t("console.system"),
      e.community_name ? ` · ${e.community_name}` : "",
      e.ip ? ` · IP ${e.ip}` : ""),
    details ? h("div", { class: "audit-change" }, details) : null,
    e.reason && !(reasonInSentence && auditSentence(e).includes(e.reason))
      ? h("div", { class: "audit-change" }, t("statement.reason", { reason: e.reason })) : null);
}

function filterByActor(id, name) {
  state.audit.actorId = id;
  state.audit.actorName = name;
  showPanel("audit");
  loadAudit(true);
}

function renderActorFilter() {
  const line = $("audit-actor");
  line.hidden = !state.audit.actorId;
  if (!state.audit.actorId) return;
  line.replaceChildren(t("console.audit_only_actor", { name: state.audit.actorName }), " ",
    h("button", { type: "button", class: "link-button", onclick: () => {
      state.audit.actorId = null;
      loadAudit(true);
    } }, t("console.clear_filter")));
}

async function loadAudit(reset = false) {
  if (reset) {
    state.audit.cursor = null;
    state.audit.generation += 1;
    $("audit").replaceChildren();
  }
  renderActorFilter();
  const generation = state.audit.generation;
  const query = new URLSearchParams({ limit: "30" });
  for (const [name, id] of [["community_id", "audit-scope"], ["act", "audit-act"], ["from", "audit-from"],
    ["to", "audit-to"]]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  if (state.audit.actorId) query.set("actor_id", String(state.audit.actorId));
  const exported = new URLSearchParams(query);  // the export takes the list's filters, without paging
  exported.delete("limit");
  $("audit-csv").href = `/api/audit.csv${exported.size ? `?${exported}` : ""}`;
  if (state.audit.cursor) query.set("cursor", state.audit.cursor);
  $("audit-status").hidden = false;
  $("audit-status").textContent = t("common.loading");
  try {
    const page = await api("GET", `/api/audit?${query}`);
    if (generation !== state.audit.generation) return;
    $("audit").append(...page.items.map(auditRow));
    state.audit.cursor = page.next_cursor;
    const empty = !$("audit").children.length;
    $("audit-status").hidden = !empty;
    $("audit-status").textContent = empty ? t("console.audit_empty") : "";
    $("audit-more").hidden = !page.next_cursor;
  } catch (err) {
    if (generation === state.audit.generation) handlePageError(err, $("audit-status"), () => loadAudit(true));
  }
}

$("audit-more").addEventListener("click", () => loadAudit());
for (const id of ["audit-scope", "audit-act", "audit-from", "audit-to"]) {
  $(id).addEventListener("change", () => loadAudit(true));
}

function renderAuditFilters() {
  const scope = $("audit-scope").value;
  $("audit-scope").replaceChildren(
    option("", t(state.me.is_admin ? "console.audit_all" : "console.audit_all_mine")),
    ...state.summary.communities.map((c) => option(String(c.id), c.name, String(c.id) === scope)));
  if (!$("audit-act").children.length) {
    $("audit-act").replaceChildren(option("", t("console.audit_all_acts")),
      ...ACTS.map((act) => option(act, tOr(`audit_act.${act}`, act))));
  }
}

// ---- communities ------------------------------------------------------------------------------

function renderCommunities() {
  const list = state.summary.communities;
  $("community-field").hidden = list.length === 0;
  $("community").replaceChildren(...list.map((c) => option(String(c.id), c.name, c.id === state.community)));
  $("members-csv").href = state.community ? `/api/communities/${state.community}/members.csv` : "#";
  // The five §19 groups (docs/records-export.md), ID numbers masked.
  $("records-xlsx").href = state.community ? `/api/orgs/${state.community}/records-export?format=xlsx` : "#";
  $("tab-members").hidden = !state.community;
  $("policy-card").hidden = !state.community;  // the community's rules: their own page
  $("policy-link").href = state.community ? `/policy.html?community=${state.community}` : "/policy.html";
}

function selectCommunity(id) {
  const ids = state.summary.communities.map((c) => c.id);
  state.community = ids.includes(id) ? id : ids[0] ?? null;
  renderCommunities();
  renderInviteGrids();
  closeDetail();
  syncUrl();
  loadAdjustments();
  if (state.panel === "members") loadMembers(true);
  else $("members").replaceChildren();
}

$("community").addEventListener("change", () => selectCommunity(Number($("community").value)));

async function reloadSummary(selectId = state.community) {
  state.summary = await api("GET", "/api/console/summary");
  renderOverview();
  renderAuditFilters();
  selectCommunity(selectId);
}

async function start() {
  const params = new URLSearchParams(location.search);
  try {
    [state.me, state.summary, state.tree] = await Promise.all([
      api("GET", "/api/me"), api("GET", "/api/console/summary"), api("GET", "/api/console/tree")]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      $("loading").textContent = t("console.not_manager");
      return;
    }
    handlePageError(err, $("loading"), start);
    return;
  }
  $("tab-people").hidden = !state.me.is_admin;
  renderOverview();
  renderAuditFilters();
  renderTree();
  renderOrgParents();
  state.panel = params.get("tab") ?? "overview";
  selectCommunity(Number(params.get("community")));
  $("loading").hidden = true;
  $("console").hidden = false;
  showPanel(state.panel);
}

start();

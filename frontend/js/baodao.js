// 报到 (在职党员双报到): a person reports to the community they live in, sees their status and this
// quarter's service record (printable), and takes on the community's needs. A community manager
// sees the reports waiting for them and publishes needs.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, hoursNumber, initPage, setBusy, toast } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const choose = () => h("option", { value: "" }, t("baodao.choose"));
const state = { home: null, manages: [] };

async function fill(select, orgs) {
  select.replaceChildren(choose(), ...orgs.map((o) => h("option", { value: o.id }, o.name)));
}

/** The orgs under `parentId` (districts when none), every page of them. */
async function children(parentId) {
  const items = [];
  let cursor = "";
  do {
    const query = new URLSearchParams({ limit: "100", cursor });
    if (parentId) query.set("parent_id", parentId);
    const page = await api("GET", `/api/orgs?${query}`);
    items.push(...page.items);
    cursor = page.next_cursor ?? "";
  } while (cursor);
  return items;
}

function reportLine(r) {
  const where = [r.community_name, r.grid_name].filter(Boolean).join(" · ");
  return h("div", { class: "need" },
    h("div", { class: "need-head" }, h("strong", {}, where),
      h("span", { class: ["badge", r.state === "approved" ? "badge-ok" : r.state === "pending" ? "badge-warn" : "badge-muted"] },
        t(`baodao.state.${r.state}`))),
    h("span", { class: "muted" }, `${r.unit_name}${r.party_member ? ` · ${t("baodao.party")}` : ""}`),
    r.reason ? h("span", {}, r.reason) : null);
}

async function loadMine() {
  const record = await api("GET", "/api/me/service-record");
  const open = record.reports.find((r) => r.state === "pending" || r.state === "approved");
  state.home = open?.state === "approved" ? open.community_id : null;
  if (open) {
    const withdraw = h("button", { type: "button", class: "btn btn-danger btn-small" }, t("baodao.withdraw"));
    withdraw.addEventListener("click", async () => {
      if (!confirm(t("baodao.withdraw_confirm"))) return;
      await api("POST", "/api/unit-reports/withdraw");
      await refresh();
    });
    $("mine").replaceChildren(reportLine(open), withdraw);
  } else {
    $("mine").replaceChildren(h("p", { class: "muted" }, t("baodao.none")),
      ...record.reports.slice(0, 1).map(reportLine));
  }
  $("baodao-form-card").hidden = Boolean(open);
  // A declined report's message links here (#baodao-form-card): the form, ready to report again.
  if (location.hash === "#baodao-form-card" && !open && !state.formShown) {
    state.formShown = true;
    $("baodao-form-card").scrollIntoView({ block: "start" });
    $("district").focus();
  }
  $("record").replaceChildren(...record.communities.map((c) => h("li", { class: "need-head" },
    h("span", {}, c.name), h("span", {}, `${fmtMinutes(c.minutes)} · ${t("unit.points_full", { n: fmtPoints(c.points) })}`))));
  $("record-total").textContent = t("baodao.record_total", { hours: fmtMinutes(record.minutes), points: fmtPoints(record.points) });
  $("identity-line").hidden = !record.units.length;
  const claims = await api("GET", "/api/me/need-claims");
  $("my-claims").replaceChildren(...(claims.length ? claims.map((c) => h("li", { class: "need-head" },
    h("span", {}, `${c.need_title} · ${c.community_name}`), h("span", { class: "muted" }, t(`baodao.claim_state.${c.state}`))))
    : [h("li", { class: "muted" }, t("baodao.card_needs_empty"))]));
  $("record-needs").replaceChildren(...(record.needs.length ? record.needs.map((n) => h("li", { class: "need-head" },
    h("span", {}, `${n.title} · ${n.community_name}`), h("span", {}, `${fmtMinutes(n.minutes ?? 0)} · ${t("unit.points_full", { n: fmtPoints(n.points ?? 0) })}`)))
    : [h("li", { class: "muted" }, t("baodao.card_needs_empty"))]));
}

/** A need on the list; my claim of it, where it stands, and "I served it" while it is mine to say. */
function needRow(need) {
  const full = need.taken >= need.slots;
  const actions = [];
  if (!need.mine) {
    const take = h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: full }, t("baodao.claim"));
    take.addEventListener("click", () => act(take, `/api/needs/${need.id}/claim`));
    actions.push(take);
  } else {
    actions.push(h("span", { class: "badge badge-info" }, t(`baodao.claim_state.${need.my_claim_state}`)));
    if (need.my_claim_state === "claimed") {
      const note = h("input", { class: "input", type: "text", maxlength: "500", "aria-label": t("baodao.serve_note"),
        placeholder: t("baodao.serve_note") });
      const served = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("baodao.serve"));
      served.addEventListener("click", () => act(served, `/api/need-claims/${need.my_claim_id}/serve`, { note: note.value }));
      actions.push(note, served);
    }
  }
  if (state.manages.some((c) => c.id === need.community_id)) {
    const close = h("button", { type: "button", class: "btn btn-secondary btn-small" }, t("baodao.need_close"));
    close.addEventListener("click", () => act(close, `/api/needs/${need.id}/close`));
    actions.push(close);
  }
  return h("li", { class: "need", "data-need": need.id }, h("div", { class: "need-head" }, h("strong", {}, need.title)),
    need.description ? h("span", {}, need.description) : null,
    h("span", { class: "muted" }, t("baodao.slots", { taken: need.taken, slots: need.slots })),
    h("div", { class: "queue-actions" }, ...actions));
}

async function act(button, path, body) {
  setBusy(button, true);
  try {
    await api("POST", path, body);
    await refresh();
  } catch (err) {
    handlePageError(err);
    setBusy(button, false);
  }
}

/** A manager's view of a claim: confirm with hours, points and the meeting's minutes; decline; or, as
 * the second person, approve a confirmation above the community's thresholds. */
function claimRow(c) {
  const line = h("div", { class: "need-head" }, h("strong", {}, `${c.user_name} · ${c.need_title}`),
    h("span", { class: "badge badge-warn" }, t(`baodao.claim_state.${c.state}`)));
  const parts = [line, c.unit_name ? h("span", { class: "muted" }, c.unit_name) : null,
    c.served_note ? h("span", {}, c.served_note) : null];
  if (c.state === "claimed" || c.state === "served") {
    const id = (name) => `claim-${c.id}-${name}`;
    const field = (name, input) => h("div", { class: "field" }, h("label", { for: id(name) }, t(`baodao.confirm_${name}`)), input);
    const hours = h("input", { id: id("hours"), type: "number", min: "0", max: "24", step: "0.5", value: "2", required: true });
    const points = h("input", { id: id("points"), type: "number", min: "0", max: "100000", value: "10" });
    const record = h("textarea", { id: id("record"), maxlength: "1000", rows: "2", required: true });
    const confirm = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("baodao.confirm"));
    confirm.addEventListener("click", () => act(confirm, `/api/need-claims/${c.id}/confirm`, {
      minutes: Math.round(Number(hours.value) * 60), points: Number(points.value || 0), record: record.value }));
    const decline = h("button", { type: "button", class: "btn btn-danger btn-small" }, t("baodao.decline"));
    decline.addEventListener("click", () => {
      const reason = prompt(t("baodao.decline_reason"));
      if (reason) act(decline, `/api/need-claims/${c.id}/decline`, { reason, unserved: c.state === "claimed" });
    });
    parts.push(h("div", { class: "claim-form" }, field("hours", hours), field("points", points), field("record", record)),
      h("div", { class: "queue-actions" }, confirm, decline));
  } else if (c.state === "awaiting_second") {
    const approve = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("baodao.approve_second"));
    approve.addEventListener("click", () => act(approve, `/api/need-claims/${c.id}/approve`));
    parts.push(h("span", { class: "muted" }, t("baodao.awaiting_second", { hours: hoursNumber(c.minutes ?? 0),
      points: fmtPoints(c.points ?? 0) })), h("div", { class: "queue-actions" }, approve));
  }
  return h("li", { class: "need", "data-claim": c.id }, ...parts);
}

async function loadNeeds() {
  $("needs-card").hidden = !state.home;
  if (!state.home) return;
  const needs = (await api("GET", `/api/communities/${state.home}/needs`)).filter((n) => n.state === "open");
  $("needs").replaceChildren(...(needs.length ? needs.map(needRow) : [h("li", { class: "muted" }, t("baodao.needs_empty"))]));
}

function queueRow(r) {
  const approve = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("baodao.approve"));
  const reject = h("button", { type: "button", class: "btn btn-danger btn-small" }, t("baodao.reject"));
  approve.addEventListener("click", () => decide(`/api/unit-reports/${r.id}/approve`, undefined, approve));
  reject.addEventListener("click", () => {
    const reason = prompt(t("baodao.reject_reason"));
    if (reason) decide(`/api/unit-reports/${r.id}/reject`, { reason }, reject);
  });
  return h("li", { class: "need" }, h("strong", {}, `${r.user_name} ${r.phone ?? ""}`),
    h("span", { class: "muted" }, `${r.unit_name} · ${[r.community_name, r.grid_name].filter(Boolean).join(" · ")}`),
    h("div", { class: "queue-actions" }, approve, reject));
}

async function decide(path, body, button) {
  setBusy(button, true);
  try {
    await api("POST", path, body);
    await loadQueue();
  } catch (err) {
    handlePageError(err);
    setBusy(button, false);
  }
}

async function loadQueue() {
  $("queue-card").hidden = !state.manages.length;
  if (!state.manages.length) return;
  const lists = await Promise.all(state.manages.map((c) => api("GET", `/api/communities/${c.id}/unit-reports`)));
  const rows = lists.flat();
  $("queue").replaceChildren(...(rows.length ? rows.map(queueRow) : [h("li", { class: "muted" }, t("baodao.queue_empty"))]));
  const claims = (await Promise.all(state.manages.map((c) => api("GET", `/api/communities/${c.id}/need-claims`))))
    .flat().filter((c) => c.state !== "confirmed");
  $("claims").replaceChildren(...(claims.length ? claims.map(claimRow) : [h("li", { class: "muted" }, t("baodao.claims_empty"))]));
}

async function refresh() {
  await loadMine();
  await Promise.all([loadNeeds(), loadQueue()]);
  // The home page's 党员报到 tile links here (#queue-card): the queue itself, not the page's top. Once
  // everything above it has rendered: scrolled earlier, the needs list arriving after pushed it away.
  if (location.hash === "#queue-card" && !state.scrolled && !$("queue-card").hidden) {
    state.scrolled = true;
    $("queue-card").scrollIntoView({ block: "start" });
  }
}

// Lower choices are cleared before anything is fetched: cleared after, they wiped the communities a
// quick hand had already picked a street for while the district's units were still loading.
$("district").addEventListener("change", async () => {
  const district = $("district").value;
  await fill($("community"), []);
  await fill($("grid"), []);
  const [streets, units] = district
    ? await Promise.all([children(district), api("GET", `/api/units?under=${district}`)]) : [[], []];
  await fill($("unit"), units);
  await fill($("street"), streets);
});
$("street").addEventListener("change", async () => {
  await fill($("grid"), []);
  await fill($("community"), $("street").value ? await children($("street").value) : []);
});
$("community").addEventListener("change", async () => {
  await fill($("grid"), $("community").value ? await children($("community").value) : []);
});

$("baodao-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter;
  setBusy(button, true);
  try {
    await api("POST", "/api/unit-reports", {
      unit_id: Number($("unit").value), community_id: Number($("community").value),
      grid_id: $("grid").value ? Number($("grid").value) : null, party_member: $("party").checked });
    toast(t("baodao.submitted"));
    await refresh();
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
});

$("need-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter;
  setBusy(button, true);
  try {
    await api("POST", `/api/communities/${state.manages[0].id}/needs`,
      { title: $("need-title").value, slots: Number($("need-slots").value) });
    $("need-title").value = "";
    await loadNeeds();
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
});

$("print").addEventListener("click", () => window.print());
$("identity").addEventListener("change", async (event) => {
  try {
    await api("PUT", "/api/me/party-identity", { shown: event.currentTarget.checked });
    toast(t("baodao.identity_saved"));
  } catch (err) {
    handlePageError(err);
  }
});

try {
  const me = await api("GET", "/api/me");
  state.manages = me.manages ?? [];
  await fill($("district"), await children(null));
  await refresh();
  $("status").hidden = true;
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

// 报到 (在职党员双报到): a person reports to the community they live in, sees their status and this
// quarter's service record (printable), and takes on the community's needs. A community manager
// sees the reports waiting for them and publishes needs.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, initPage, setBusy, toast } from "./ui.js";

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
  $("record").replaceChildren(...record.communities.map((c) => h("li", { class: "need-head" },
    h("span", {}, c.name), h("span", {}, `${fmtMinutes(c.minutes)} · ${t("unit.points_full", { n: fmtPoints(c.points) })}`))));
  $("record-total").textContent = t("baodao.record_total", { hours: fmtMinutes(record.minutes), points: fmtPoints(record.points) });
}

function needRow(need) {
  const take = h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: need.mine || need.taken >= need.slots },
    need.mine ? t("baodao.claimed") : t("baodao.claim"));
  take.addEventListener("click", async () => {
    setBusy(take, true);
    try {
      await api("POST", `/api/needs/${need.id}/claim`);
      await loadNeeds();
    } catch (err) {
      handlePageError(err);
      setBusy(take, false);
    }
  });
  return h("li", { class: "need" }, h("div", { class: "need-head" }, h("strong", {}, need.title), take),
    need.description ? h("span", {}, need.description) : null,
    h("span", { class: "muted" }, t("baodao.slots", { taken: need.taken, slots: need.slots })));
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
  // The home page's 党员报到 tile links here (#queue-card): the queue itself, not the page's top.
  if (location.hash === "#queue-card" && !state.scrolled) {
    state.scrolled = true;
    $("queue-card").scrollIntoView({ block: "start" });
  }
}

async function refresh() {
  await loadMine();
  await Promise.all([loadNeeds(), loadQueue()]);
}

$("district").addEventListener("change", async () => {
  await fill($("street"), $("district").value ? await children($("district").value) : []);
  await fill($("unit"), $("district").value ? await api("GET", `/api/units?under=${$("district").value}`) : []);
  await fill($("community"), []);
  await fill($("grid"), []);
});
$("street").addEventListener("change", async () => {
  await fill($("community"), $("street").value ? await children($("street").value) : []);
  await fill($("grid"), []);
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

try {
  const me = await api("GET", "/api/me");
  state.manages = me.manages ?? [];
  await fill($("district"), await children(null));
  await refresh();
  $("status").hidden = true;
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

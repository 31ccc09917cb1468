// Below the grid: each grid's 微网格 with their 邻里长 and 微网格员 (party members first,
// 亮身份 shown); a role holder marks attendance for their 微网格's residents without a phone; a
// community's managers make 微网格, invite their role holders and place residents in them.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, h, initPage, setBusy, showError, toast } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { me: null, manages: new Set() };

function holderText(x) {
  return `${t(`micro.role.${x.role}`)}：${x.name}${x.party_shown ? `（${t("micro.party")}）` : ""}`;
}

function microRow(m) {
  return h("li", { class: "need", "data-micro": m.id },
    h("div", { class: "need-head" }, h("strong", {}, m.name), h("span", { class: "muted" }, t("micro.residents", { n: m.residents }))),
    m.buildings ? h("span", { class: "muted" }, m.buildings) : null,
    h("span", {}, m.holders.length ? m.holders.map(holderText).join("；") : t("micro.no_holders")));
}

/** The mark form of one 微网格 the person holds a role in. */
async function markCard(m) {
  const since = new Date(Date.now() - 14 * 86400000).toISOString();
  const page = await api("GET", `/api/activities?${new URLSearchParams({ community_id: m.community_id, state: "published",
    from: since, limit: "50" })}`);
  const id = (name) => `m${m.id}-${name}`;
  const activity = h("select", { id: id("activity") }, ...page.items.map((a) => h("option", { value: a.id }, a.title)));
  const people = m.phoneless.map((r) => h("label", { class: "check-line" },
    h("input", { type: "checkbox", value: r.user_id }), ` ${r.name}${r.household ? ` · ${r.household}` : ""}` +
      (r.party_household ? ` · ${t("micro.party_household")}` : "")));
  const minutes = h("input", { id: id("hours"), type: "number", min: "0", max: "24", step: "0.5", value: "1" });
  const reason = h("input", { id: id("reason"), maxlength: "500", value: t("micro.default_reason") });
  const form = h("form", { novalidate: true, class: "mark-form" },
    h("div", { class: "field" }, h("label", { for: id("activity") }, t("micro.activity")), activity),
    h("fieldset", {}, h("legend", {}, t("micro.who")), ...(people.length ? people : [h("p", { class: "muted" }, t("micro.nobody"))])),
    h("div", { class: "field" }, h("label", { for: id("hours") }, t("micro.hours")), minutes),
    h("div", { class: "field" }, h("label", { for: id("reason") }, t("micro.reason")), reason),
    h("button", { class: "btn btn-primary", type: "submit" }, t("micro.mark")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const userIds = [...form.querySelectorAll("input[type=checkbox]:checked")].map((b) => Number(b.value));
    if (!userIds.length || !activity.value) {
      showError({ message: t("micro.pick") }, form);
      return;
    }
    const button = event.submitter;
    setBusy(button, true);
    try {
      const result = await api("POST", `/api/micro-grids/${m.id}/attendance-marks`, { activity_id: Number(activity.value),
        user_ids: userIds, reason: reason.value, minutes: Math.round(Number(minutes.value) * 60) },
        { idempotencyKey: crypto.randomUUID() });
      toast(t("micro.marked", { n: result.marked.length, skipped: result.skipped.length }), "success");
      form.querySelectorAll("input[type=checkbox]").forEach((b) => { b.checked = false; });
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
  return h("div", { class: "micro-mine", "data-micro": m.id },
    h("h3", {}, `${m.name} · ${t(`micro.role.${m.my_role}`)}`), form);
}

async function loadGrid() {
  const grid = $("grid").value;
  if (!grid) return;
  const option = $("grid").selectedOptions[0];
  const community = Number(option.dataset.community);
  const list = await api("GET", `/api/grids/${grid}/micro-grids`);
  $("micro-list").replaceChildren(...(list.length ? list.map(microRow) : [h("li", { class: "muted" }, t("micro.empty"))]));
  const manager = state.manages.has(community);
  $("manage").hidden = !manager;
  if (manager) {
    const options = list.map((m) => h("option", { value: m.id }, m.name));
    $("role-micro").replaceChildren(...options);
    $("place-micro").replaceChildren(...options.map((o) => o.cloneNode(true)));
    const residents = await api("GET", `/api/communities/${community}/residents`);
    const items = residents.items ?? residents;
    $("place-person").replaceChildren(...items.map((r) => h("option", { value: r.id ?? r.user_id }, r.name)));
  }
}

function submitter(formId, send, message) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    const button = event.submitter;
    setBusy(button, true);
    try {
      await send();
      form.reset();
      toast(t(message), "success");
      await loadGrid();
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
}

submitter("new-form", () => api("POST", `/api/grids/${$("grid").value}/micro-grids`,
  { name: $("new-name").value.trim(), buildings: $("new-buildings").value.trim() }), "micro.created");
submitter("role-form", () => api("POST", "/api/role-invites", { kind: $("role-kind").value,
  micro_grid_id: Number($("role-micro").value), name: $("role-name").value.trim(), phone: $("role-phone").value.trim() }),
"micro.invited");
submitter("place-form", async () => {
  await api("POST", `/api/micro-grids/${$("place-micro").value}/residents`, { user_id: Number($("place-person").value) });
  const one = await api("GET", `/api/micro-grids/${$("place-micro").value}`);
  document.querySelector(`#micro-list li[data-micro='${one.id}']`)?.replaceWith(microRow(one));
}, "micro.placed");
$("grid").addEventListener("change", () => loadGrid().catch((e) => handlePageError(e)));

async function start() {
  const me = await api("GET", "/api/me");
  state.manages = new Set((me.manages ?? []).map((c) => c.id));
  const communities = new Map([...(me.manages ?? []).map((c) => [c.id, c.name])]);
  for (const m of me.memberships ?? []) {
    if (m.kind === "community" || !communities.has(m.community_id)) {
      communities.set(m.community_id, m.kind === "community" ? m.org_name : "");
    }
  }
  const mine = await api("GET", "/api/me/micro-grids");
  if (mine.length) {
    $("mine").replaceChildren(...await Promise.all(mine.map(markCard)));
    $("mine-card").hidden = false;
  }
  const grids = [];
  for (const [id, name] of communities) {
    const page = await api("GET", `/api/orgs?parent_id=${id}&limit=100`);
    grids.push(...page.items.map((g) => h("option", { value: g.id, "data-community": id }, [name, g.name].filter(Boolean).join(" · "))));
  }
  $("status").hidden = true;
  if (!grids.length && !mine.length) {
    $("none").hidden = false;
    return;
  }
  if (grids.length) {
    $("grid").replaceChildren(...grids);
    $("grids-card").hidden = false;
    await loadGrid();
  }
}

start().catch((err) => handlePageError(err, $("status"), () => location.reload()));

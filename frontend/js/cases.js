// The grid loop (闭环): my cases and 提事, the community's queue (sort, merge, send up), the street's
// dispatch (吹哨派单), a handler's queue (accept, notes and photos, done), rating, proposals (议事、
// 表决), and the figures per grid, community, street and handler. What each person may do comes from
// the case's `can` list; the server checks again.
import { api, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtTime, h, initPage, setBusy } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { me: null, queue: "mine", cursor: null, items: [], partnersOf: new Map(), categoriesOf: new Map() };
const OPEN = new Set(["reported", "sorted", "dispatched", "accepted", "returned"]);

// ---- small pieces ---------------------------------------------------------------------------

function stateBadge(c) {
  const tone = { done: "badge-ok", rated: "badge-ok", merged: "badge-muted", returned: "badge-warn" }[c.state] ?? "badge-info";
  return h("span", { class: ["badge", tone] }, t(`cases.state.${c.state}`));
}

function badges(c) {
  return h("span", { class: "badges" }, stateBadge(c),
    c.overdue ? h("span", { class: "badge badge-danger" }, t("cases.overdue")) : null,
    c.escalation ? h("span", { class: "badge badge-warn" }, t(`cases.escalation.${c.escalation}`)) : null,
    c.priority === "urgent" ? h("span", { class: "badge badge-accent" }, t("cases.urgent")) : null);
}

function caseItem(c) {
  return h("li", {}, h("a", { class: ["case-item", c.overdue ? "is-overdue" : null], href: `#case-${c.id}`,
    dataset: { caseId: String(c.id) } },
  h("span", { class: "case-head" }, h("span", { class: "case-number" }, c.number), badges(c)),
  h("span", { class: "case-title", translate: "no" }, c.title),
  h("span", { class: "small muted" }, [c.place, fmtTime(c.created_at)].filter(Boolean).join(" · "))));
}

async function act(button, call, done = "cases.saved") {
  setBusy(button, true);
  try {
    await call();
    toast(t(done));
    await Promise.all([showDetail(), loadQueue()]);
  } catch (err) {
    showError(err, button.closest("form"));
  } finally {
    setBusy(button, false);
  }
}

function formOf(title, ...children) {
  return h("form", { novalidate: true, onsubmit: (e) => e.preventDefault() }, h("h3", {}, t(title)), ...children);
}

function field(labelKey, control) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), control);
}

function button(key, onclick, kind = "btn-primary") {
  const b = h("button", { type: "submit", class: ["btn", kind] }, t(key));
  b.addEventListener("click", () => onclick(b));
  return b;
}

async function categoriesOf(streetId) {
  if (!state.categoriesOf.has(streetId)) {
    state.categoriesOf.set(streetId, await api("GET", `/api/streets/${streetId}/case-categories`));
  }
  return state.categoriesOf.get(streetId).filter((c) => c.active);
}

async function partnersOf(orgId) {
  if (!state.partnersOf.has(orgId)) state.partnersOf.set(orgId, await api("GET", `/api/partners?parent_id=${orgId}`));
  return state.partnersOf.get(orgId).filter((p) => p.kind !== "merchant");
}

function categorySelect(categories, selected) {
  return h("select", { name: "category_id" }, ...categories.map((c) => h("option", { value: String(c.id),
    selected: c.id === selected }, t("cases.category_option", { name: c.name, hours: c.deadline_hours }))));
}

// ---- one case -------------------------------------------------------------------------------

function historyLine(e) {
  const who = e.actor ? e.actor.name : t("cases.system");
  return h("li", {}, h("div", { class: "when" }, fmtTime(e.at), " · ", who),
    h("div", {}, t(`cases.act.${e.act}`), e.act === "escalated" ? ` · ${t(`cases.escalation.${e.data.level}`)}` : "",
      e.data?.rating ? ` · ${t(`cases.rating.${e.data.rating}`)}` : ""),
    e.note ? h("div", { translate: "no" }, e.note) : null,
    e.photo_ids.length ? h("div", { class: "case-photos" }, ...e.photo_ids.map((id) => photo(e, id))) : null);
}

let current = null;
function photo(_e, id) {
  return h("img", { src: `/api/cases/${current.id}/photos/${id}`, alt: t("cases.photo"), loading: "lazy" });
}

async function actions(c) {
  const can = new Set(c.can);
  const out = [];
  if (can.has("rate")) {
    out.push(formOf("cases.rate_title", h("p", { class: "muted" }, t("cases.rate_hint")),
      h("div", { class: "row" }, ...["satisfied", "fair", "unsatisfied"].map((r) =>
        button(`cases.rating.${r}`, (b) => act(b, () => api("POST", `/api/cases/${c.id}/rate`, { rating: r },
          { idempotencyKey: newIdempotencyKey() }), "cases.rated"), r === "satisfied" ? "btn-primary" : "btn-secondary")))));
  }
  if (can.has("accept")) {
    out.push(formOf("cases.accept_title", h("div", { class: "row" },
      button("cases.accept", (b) => act(b, () => api("POST", `/api/cases/${c.id}/accept`))))));
  }
  if (can.has("note")) {
    const note = h("textarea", { name: "note", maxlength: "1000" });
    const file = h("input", { type: "file", name: "photo", accept: "image/*" });
    out.push(formOf("cases.note_title", field("cases.note", note), field("cases.photo", file),
      button("cases.note_submit", (b) => act(b, () => {
        const form = new FormData();
        form.append("note", note.value);
        if (file.files[0]) form.append("photo", file.files[0]);
        return api("POST", `/api/cases/${c.id}/notes`, form);
      }))));
  }
  if (can.has("done")) {
    const note = h("textarea", { name: "note", maxlength: "1000" });
    out.push(formOf("cases.done_title", field("cases.done_note", note),
      button("cases.done", (b) => act(b, () => api("POST", `/api/cases/${c.id}/done`, { note: note.value },
        { idempotencyKey: newIdempotencyKey() })))));
  }
  if (can.has("return")) {
    const reason = h("input", { name: "reason", maxlength: "500" });
    out.push(formOf("cases.return_title", field("cases.return_reason", reason),
      button("cases.return", (b) => act(b, () => api("POST", `/api/cases/${c.id}/return`, { reason: reason.value })),
        "btn-secondary")));
  }
  if (can.has("sort")) {
    const categories = await categoriesOf(c.street_id);
    const category = categorySelect(categories, c.category?.id);
    const priority = h("select", { name: "priority" }, ...["normal", "urgent"].map((p) =>
      h("option", { value: p, selected: c.priority === p }, t(`cases.priority.${p}`))));
    const body = (up) => ({ category_id: category.value ? Number(category.value) : null, priority: priority.value, send_up: up });
    out.push(formOf("cases.sort_title", field("cases.category", category), field("cases.priority", priority),
      h("div", { class: "row" },
        button("cases.sort", (b) => act(b, () => api("POST", `/api/cases/${c.id}/sort`, body(false))), "btn-secondary"),
        button("cases.send_up", (b) => act(b, () => api("POST", `/api/cases/${c.id}/sort`, body(true)))))));
  }
  if (can.has("merge")) {
    const others = state.items.filter((o) => o.id !== c.id && OPEN.has(o.state) && o.community.id === c.community.id);
    if (others.length) {
      const into = h("select", { name: "into" }, ...others.map((o) => h("option", { value: String(o.id) }, `${o.number} ${o.title}`)));
      out.push(formOf("cases.merge_title", field("cases.merge_into", into),
        button("cases.merge", (b) => act(b, () => api("POST", `/api/cases/${c.id}/merge`, { into: Number(into.value) })),
          "btn-secondary")));
    }
  }
  const handlers = can.has("dispatch") ? await partnersOf(c.level === "street" ? c.street_id : c.community.id) : [];
  if (handlers.length) {  // a community without partners of its own sends its cases up instead
    const handler = h("select", { name: "handler_id" }, ...handlers.map((p) =>
      h("option", { value: String(p.id) }, `${p.name}（${t(`cases.partner.${p.kind}`)}）`)));
    const category = categorySelect(await categoriesOf(c.street_id), c.category?.id);
    out.push(formOf("cases.dispatch_title", field("cases.handler", handler), field("cases.category", category),
      button("cases.dispatch", (b) => act(b, () => api("POST", `/api/cases/${c.id}/dispatch`,
        { handler_id: Number(handler.value), category_id: Number(category.value) })))));
  }
  if (can.has("meeting")) {
    const note = h("textarea", { name: "text", maxlength: "2000" });
    out.push(formOf("cases.meeting_title", field("cases.meeting_note", note),
      button("cases.meeting", (b) => act(b, () => api("POST", `/api/cases/${c.id}/meeting`, { text: note.value })))));
  }
  if (can.has("vote_open")) {
    const hours = h("input", { type: "number", name: "hours", min: "1", max: "336", value: "72", inputmode: "numeric" });
    const scope = h("select", { name: "scope" }, h("option", { value: "community" }, t("cases.scope.community")),
      c.grid ? h("option", { value: "grid" }, t("cases.scope.grid")) : null);
    out.push(formOf("cases.vote_open_title", field("cases.vote_hours", hours), field("cases.vote_scope", scope),
      button("cases.vote_open", (b) => act(b, () => api("POST", `/api/cases/${c.id}/vote-open`,
        { hours: Number(hours.value), scope: scope.value })))));
  }
  if (can.has("vote")) {
    out.push(formOf("cases.vote_title", h("div", { class: "row" },
      button("cases.vote_yes", (b) => act(b, () => api("POST", `/api/cases/${c.id}/votes`, { choice: "yes" }), "cases.voted")),
      button("cases.vote_no", (b) => act(b, () => api("POST", `/api/cases/${c.id}/votes`, { choice: "no" }), "cases.voted"),
        "btn-secondary"))));
  }
  if (can.has("publish")) {
    out.push(formOf("cases.publish_title", button("cases.publish", (b) => act(b, () => api("POST", `/api/cases/${c.id}/publish`)))));
  }
  if (can.has("comment")) {
    const text = h("textarea", { name: "text", maxlength: "1000" });
    out.push(formOf("cases.comment_title", field("cases.comment", text),
      button("cases.comment_submit", (b) => act(b, () => api("POST", `/api/cases/${c.id}/comments`, { text: text.value })),
        "btn-secondary")));
  }
  if (can.has("follow")) {
    out.push(formOf("cases.follow_title", button("cases.follow", (b) => act(b, () => api("POST", `/api/cases/${c.id}/follow`)),
      "btn-secondary")));
  }
  return out;
}

function facts(c) {
  const rows = [
    ["cases.reporter", c.reporter.name],
    ["cases.where", [c.community.name, c.grid?.name].filter(Boolean).join(" · ")],
    c.place && ["cases.place", c.place],
    c.category && ["cases.category", c.category.name],
    c.handler && ["cases.handler", c.handler.name],
    c.deadline && OPEN.has(c.state) && ["cases.deadline", fmtTime(c.deadline)],
    c.rating && ["cases.rating", t(`cases.rating.${c.rating}`)],
    c.closed_in_time !== null && ["cases.in_time", t(c.closed_in_time ? "cases.yes" : "cases.no")],
  ].filter(Boolean);
  return h("dl", { class: "case-facts" }, ...rows.flatMap(([k, v]) => [h("dt", { class: "muted" }, t(k)), h("dd", { translate: "no" }, v)]));
}

function voteBox(c) {
  if (!c.vote) return null;
  const v = c.vote;
  return h("div", { class: "card-inset" },
    h("p", {}, t(v.open ? "cases.vote_open_until" : "cases.vote_closed", { at: fmtTime(v.closes_at) })),
    v.my_vote ? h("p", { class: "muted" }, t("cases.my_vote", { choice: t(`cases.choice.${v.my_vote}`) })) : null,
    v.published ? h("p", { class: "vote-result" }, t("cases.vote_result", { yes: v.yes, no: v.no })) : null);
}

async function showDetail() {
  const match = /^#case-(\d+)$/.exec(location.hash);
  const box = $("detail");
  if (!match) {
    box.hidden = true;
    current = null;
    return;
  }
  const c = await api("GET", `/api/cases/${match[1]}`);
  current = c;
  box.replaceChildren(...[
    h("a", { href: "#", class: "link-button" }, t("cases.back")),
    h("p", { class: "case-head" }, h("span", { class: "case-number" }, t("cases.number", { number: c.number })), badges(c)),
    h("h2", { translate: "no" }, c.title),
    h("p", { translate: "no" }, c.text),
    c.photo_ids.length ? h("div", { class: "case-photos" }, ...c.photo_ids.map((id) => photo(null, id))) : null,
    facts(c),
    c.meeting_note ? h("div", {}, h("h3", {}, t("cases.meeting_note")), h("p", { translate: "no" }, c.meeting_note)) : null,
    voteBox(c),
    h("h3", {}, t("cases.history")),
    h("ol", { class: "case-history" }, ...c.history.map(historyLine)),
    h("div", { class: "case-actions" }, ...(await actions(c))),
  ].filter(Boolean));  // replaceChildren, unlike h(), would write a null as the text "null"
  box.hidden = false;
}

// ---- queues ---------------------------------------------------------------------------------

function queueOptions(me, partners) {
  const options = [["mine", t("cases.q.mine")]];
  for (const p of partners) options.push([`handler:${p.id}`, t("cases.q.handler", { name: p.name })]);
  for (const l of me.levels ?? []) options.push([`street:${l.id}`, t("cases.q.street", { name: l.name })]);
  for (const m of me.manages ?? []) options.push([`community:${m.id}`, t("cases.q.community", { name: m.name })]);
  const homes = new Map((me.memberships ?? []).map((m) => [m.community_id, m]));
  for (const id of homes.keys()) options.push([`proposals:${id}`, t("cases.q.proposals")]);
  return options;
}

async function loadQueue(more = false) {
  const [view, org] = state.queue.split(":");
  const query = new URLSearchParams({ view, limit: "20" });
  if (org) query.set("org_id", org);
  if ($("which").value) query.set("state", $("which").value);
  if (more && state.cursor) query.set("cursor", state.cursor);
  const page = await api("GET", `/api/cases?${query}`);
  state.items = more ? [...state.items, ...page.items] : page.items;
  state.cursor = page.next_cursor;
  $("list").replaceChildren(...(state.items.length ? state.items.map(caseItem)
    : [h("li", { class: "empty" }, t("cases.none"))]));
  $("more").hidden = !state.cursor;
}

// ---- figures --------------------------------------------------------------------------------

async function loadFigures() {
  const org = $("figures-org").value;
  if (!org) return;
  const query = new URLSearchParams({ org_id: org });
  if ($("figures-by").value) query.set("by", $("figures-by").value);
  const table = await api("GET", `/api/cases/figures?${query}`);
  const pct = (v) => (v == null ? "–" : `${v}%`);
  const cells = (name, f) => [h("td", { translate: "no" }, name || t("cases.unassigned")), h("td", { class: "num" }, String(f.opened)),
    h("td", { class: "num" }, String(f.closed)), h("td", { class: "num" }, String(f.closed_in_time)),
    h("td", { class: "num" }, String(f.overdue_open)), h("td", { class: "num" }, f.median_hours_to_close ?? "–"),
    h("td", { class: "num" }, pct(f.satisfaction))];
  $("figures-rows").replaceChildren(...table.rows.map((r) => h("tr", {}, ...cells(r.name, r.figures))),
    h("tr", { class: "total" }, ...cells(t("cases.total"), table.total)));
  query.set("format", "csv");
  $("figures-csv").href = `/api/cases/figures?${query}`;
}

// ---- invitations to a partner's staff ------------------------------------------------------

function invitationItem(inv) {
  const answer = (accept) => async (event) => {
    setBusy(event.currentTarget, true);
    try {
      await api("POST", `/api/partner-invitations/${inv.id}/answer`, { accept });
      toast(t(accept ? "cases.joined" : "cases.declined"));
      location.reload();
    } catch (err) {
      handlePageError(err);
    }
  };
  return h("li", { class: "row" }, h("span", {}, t("cases.invited", { name: inv.partner_name, by: inv.invited_by })),
    h("button", { type: "button", class: "btn btn-primary btn-small", onclick: answer(true) }, t("cases.accept_invitation")),
    h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: answer(false) }, t("cases.decline")));
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  const [me, partners, invitations] = await Promise.all([api("GET", "/api/me"), api("GET", "/api/partners"),
    api("GET", "/api/partner-invitations")]);
  state.me = me;
  if (invitations.items.length) {
    $("invitation-list").replaceChildren(...invitations.items.map(invitationItem));
    $("invitations").hidden = false;
  }
  const options = queueOptions(me, partners);
  const wanted = new URLSearchParams(location.search).get("queue");
  // A handler, a street or a community manager opens on their work; anyone else on their own cases.
  const work = options.find(([v]) => /^(handler|street|community):/.test(v));
  state.queue = options.some(([v]) => v === wanted) ? wanted : (work ? work[0] : "mine");
  $("queue").replaceChildren(...options.map(([value, label]) => h("option", { value, selected: value === state.queue }, label)));
  // A work queue opens on what is still open; my own cases show all.
  $("which").value = state.queue === "mine" ? "" : "open";
  $("queue").addEventListener("change", () => {
    state.queue = $("queue").value;
    $("which").value = state.queue === "mine" ? "" : "open";
    loadQueue().catch(handlePageError);
  });
  $("which").addEventListener("change", () => loadQueue().catch(handlePageError));
  $("more").addEventListener("click", () => loadQueue(true).catch(handlePageError));
  $("raise").hidden = !(me.memberships ?? []).length;
  const levels = [...(me.levels ?? []), ...(me.manages ?? [])];
  if (levels.length) {
    $("figures-org").replaceChildren(...levels.map((l) => h("option", { value: String(l.id) }, l.name)));
    $("figures-org").addEventListener("change", () => loadFigures().catch(handlePageError));
    $("figures-by").addEventListener("change", () => loadFigures().catch(handlePageError));
    $("figures").hidden = false;
  }
  $("raise-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const b = event.submitter;
    setBusy(b, true);
    try {
      const c = await api("POST", "/api/cases", { kind: $("raise-kind").value, title: $("raise-title").value.trim(),
        text: $("raise-text").value.trim(), place: $("raise-place").value.trim() });
      form.reset();
      $("raise").open = false;
      toast(t("cases.raised", { number: c.number }));
      location.hash = `case-${c.id}`;
      await loadQueue();
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(b, false);
    }
  });
  window.addEventListener("hashchange", () => showDetail().then(() => $("detail").scrollIntoView?.()).catch(handlePageError));
  await Promise.all([loadQueue(), showDetail(), levels.length ? loadFigures() : null]);
  $("status").hidden = true;
  $("page").hidden = false;
}

start().catch((err) => handlePageError(err, $("status")));

// Time bank: my time and stars; post a request; the hall of open requests; my requests and my
// services with their next step (accept, complete, confirm, cancel); family links and gifts; the pool.
import { api, ApiError, clearErrors, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { getLang, t, tOr } from "./i18n.js";
import { fmtHours, fmtMinutes, fmtTime, h, hoursNumber, initPage, setBusy, withClosedNames } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;
const CHIP_MINUTES = [30, 60, 90, 120, 180];
const state = { me: null, tab: "hall", cursor: null, generation: 0, resident: null };

const STATE_TONE = {
  open: "badge-info", accepted: "badge-warn", completed: "badge-accent", confirmed: "badge-ok", cancelled: "badge-muted",
};

// ---- summary ----------------------------------------------------------------------------------

/** Whole hours stay whole: 6000 → "100", 90 → "1.5" (stars and chips read better without ".0"). */
function roundHours(minutes) {
  return new Intl.NumberFormat(getLang(), { maximumFractionDigits: 1 }).format(minutes / 60);
}

function fmtDuration(minutes) {
  return fmtMinutes(minutes);
}

function starsEl(el, count) {
  el.replaceChildren(...[1, 2, 3, 4, 5].map((n) => h("span", { class: ["star", n <= count && "is-on"] }, n <= count ? "★" : "☆")));
  el.setAttribute("aria-label", t("tb.stars_label", { n: count }));
}

function renderSummary(me) {
  const { balance, stars } = me;
  $("hours-available").textContent = fmtHours(balance.available);
  // 冻结中 as on every page, with its one-line explanation (ledger.Balance; frontend i18n balance.*).
  $("hours-held").textContent = balance.held ? `${t("balance.held")} ${fmtHours(balance.held)}` : "";
  $("hours-held").title = balance.held ? t("balance.held_explained") : "";
  starsEl($("stars"), stars.stars);
  $("stars-note").textContent = stars.next_star_minutes == null
    ? t("tb.stars_max", { h: roundHours(stars.earned_minutes) })
    : t("tb.stars_next", { h: roundHours(stars.earned_minutes),
      left: roundHours(stars.next_star_minutes - stars.earned_minutes) });
  $("gift-available").textContent = t("tb.available_now", { v: fmtMinutes(balance.available) });
}

async function refreshMe() {
  state.me = await api("GET", "/api/timebank/me");
  renderSummary(state.me);
  return state.me;
}

// ---- request cards ----------------------------------------------------------------------------

function fmtWhen(iso) {
  return iso ? fmtTime(iso) : null;
}

function requestCard(req) {
  const me = state.me;
  const meta = [
    h("span", { class: "tb-minutes" }, t("tb.estimate", { v: fmtMinutes(req.minutes_estimate) })),
    fmtWhen(req.when) && h("span", {}, fmtWhen(req.when)),
    req.place && h("span", {}, req.place),
    me.communities.length > 1 && h("span", {}, req.community_name),
  ];
  const people = [
    h("div", {}, t("tb.requester"), h("strong", {}, req.requester.name)),
    req.beneficiary.id !== req.requester.id &&
      h("div", {}, t("tb.beneficiary"), h("strong", {}, req.beneficiary.name)),
    req.volunteer && h("div", {}, t("tb.volunteer"), h("strong", {}, req.volunteer.name)),
  ];
  const badges = [
    req.use_pool && h("span", { class: "badge badge-ok" }, t("tb.badge_pool")),
    req.proxy && h("span", { class: "badge badge-muted" }, t("tb.badge_proxy")),
    req.requester.id === me.id && req.state === "open" && h("span", { class: "badge badge-muted" }, t("tb.badge_mine")),
    req.state === "open" && req.affordable === false && h("span", { class: "badge badge-warn" }, t("tb.badge_short")),
  ].filter(Boolean);
  const card = h("li", { class: "card tb-request", dataset: { id: req.id } },
    h("div", { class: "tb-request-head" },
      h("h3", {}, req.title),
      h("span", { class: ["badge", STATE_TONE[req.state]] }, tOr(`tb.state_${req.state}`, req.state))),
    h("div", { class: "tb-meta" }, meta),
    req.description && h("p", { class: "tb-desc" }, req.description),
    h("div", { class: "tb-people" }, people),
    badges.length > 0 && h("div", { class: "badges" }, badges),
    req.state === "confirmed" && h("div", { class: "tb-outcome" },
      t("tb.confirmed_minutes", { v: fmtMinutes(req.confirmed_minutes) }),
      req.reason ? ` · ${req.reason}` : ""),
  );
  const actions = h("div", { class: "tb-actions" });
  for (const action of req.can) actions.append(actionButton(card, req, action));
  if (req.can.length) card.append(actions);
  return card;
}

function replaceCard(card, req) {
  const fresh = requestCard(req);
  card.replaceWith(fresh);
  return fresh;
}

async function act(card, req, action, body, button, form = null) {
  setBusy(button, true);
  try {
    const updated = await api("POST", `/api/timebank/requests/${req.id}/${action}`, body,
      { idempotencyKey: newIdempotencyKey() });
    replaceCard(card, updated);
    toast(t(`tb.done_${action}`), "success");
    refreshMe().catch(() => {});
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return handlePageError(err);
    showError(err, form);
    setBusy(button, false);
  }
}

function actionButton(card, req, action) {
  const label = t(`tb.action_${action}`);
  if (action === "confirm") {
    return h("button", { type: "button", class: "btn btn-primary btn-small", dataset: { action: "confirm" },
      onclick: (e) => openConfirm(card, req, e.currentTarget) }, label);
  }
  if (action === "cancel") {
    // Two taps: the first asks, the second cancels (no browser dialog on phones).
    let armed = false;
    const button = h("button", { type: "button", class: "btn btn-danger btn-small" }, label);
    button.addEventListener("click", () => {
      if (!armed) {
        armed = true;
        button.textContent = t("tb.cancel_sure");
        setTimeout(() => { armed = false; button.textContent = label; }, 4000);
        return;
      }
      act(card, req, "cancel", undefined, button);
    });
    return button;
  }
  return h("button", { type: "button", class: "btn btn-primary btn-small", onclick: (e) => act(card, req, action, undefined, e.currentTarget) }, label);
}

function openConfirm(card, req, opener) {
  if (card.querySelector(".tb-confirm-form")) return;
  opener.hidden = true;
  const minutes = h("input", { id: `confirm-minutes-${req.id}`, name: "minutes", type: "number", inputmode: "numeric",
    min: 1, max: req.max_minutes, value: req.minutes_estimate, required: true });
  const reasonField = h("div", { class: "field", hidden: true },
    h("label", { for: `confirm-reason-${req.id}` }, t("tb.confirm_reason")),
    h("input", { id: `confirm-reason-${req.id}`, name: "reason", maxlength: 500 }));
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("tb.confirm_submit"));
  const form = h("form", { class: "tb-confirm-form", novalidate: true },
    h("div", { class: "field" },
      h("label", { for: minutes.id }, t("tb.confirm_minutes")),
      minutes,
      h("p", { class: "hint" }, t("tb.confirm_hint", { max: req.max_minutes, est: req.minutes_estimate }))),
    reasonField,
    h("div", { class: "form-actions" },
      h("button", { type: "button", class: "btn btn-secondary", onclick: () => { form.remove(); opener.hidden = false; } },
        t("tb.close")),
      submit));
  minutes.addEventListener("input", () => { reasonField.hidden = !(Number(minutes.value) > req.minutes_estimate); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = Number(minutes.value);
    if (!Number.isInteger(value) || value < 1) {
      showError({ message: t("error.required") }, form, "minutes");
      return;
    }
    const reason = form.elements.namedItem("reason").value.trim();
    act(card, req, "confirm", { minutes: value, reason: reason || null }, submit, form);
  });
  card.append(form);
  minutes.focus();
}

// ---- lists ------------------------------------------------------------------------------------

function listQuery() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (state.tab === "hall") {
    query.set("state", "open");
    const community = $("community-filter").value;
    if (community) query.set("community_id", community);
  } else {
    query.set("mine", state.tab);
  }
  if (state.cursor) query.set("cursor", state.cursor);
  return query;
}

async function loadPage() {
  const generation = state.generation;
  setBusy($("more"), true);
  try {
    const page = await api("GET", `/api/timebank/requests?${listQuery()}`);
    if (generation !== state.generation) return;
    // A linked request already shown at the top (openLinked) is not listed twice.
    $("requests").append(...page.items.filter((r) => !$("requests").querySelector(`[data-id="${r.id}"]`))
      .map(requestCard));
    state.cursor = page.next_cursor;
    const empty = $("requests").children.length === 0;
    $("list-status").hidden = !empty;
    $("list-status").textContent = t(`tb.empty_${state.tab}`);
    $("more").hidden = !state.cursor;
  } catch (err) {
    if (generation === state.generation) handlePageError(err, $("list-status"), loadPage);
  } finally {
    setBusy($("more"), false);
  }
}

function reloadList() {
  state.generation += 1;
  state.cursor = null;
  $("requests").replaceChildren();
  $("list-status").hidden = false;
  $("list-status").textContent = t("common.loading");
  $("more").hidden = true;
  loadPage();
}

function selectTab(tab) {
  state.tab = ["hall", "requested", "serving", "family"].includes(tab) ? tab : "hall";
  for (const el of document.querySelectorAll(".tb-tabs [role=tab]")) {
    const active = el.dataset.tab === state.tab;
    el.setAttribute("aria-selected", String(active));
    el.tabIndex = active ? 0 : -1;
  }
  history.replaceState(null, "", state.tab === "hall" ? location.pathname : `?tab=${state.tab}`);
  const family = state.tab === "family";
  $("family-panel").hidden = !family;
  $("list-panel").hidden = family;
  $("hall-tools").hidden = state.tab !== "hall";
  $("pool-card").hidden = state.tab !== "hall" || !poolCommunity();
  if (family) {
    state.generation += 1;
    loadFamily();
  } else {
    reloadList();
    if (state.tab === "hall") loadPool();
  }
}

// ---- posting ----------------------------------------------------------------------------------

function fillPostForm(me) {
  const select = $("post-for");
  select.replaceChildren(h("option", { value: "" }, t("tb.for_me")));
  if (me.family.length) {
    select.append(h("optgroup", { label: t("tb.for_family") },
      me.family.map((p) => h("option", { value: String(p.id) }, p.name))));
  }
  if (me.manages.length) select.append(h("option", { value: "resident" }, t("tb.for_resident")));
  $("post-community").replaceChildren(...me.communities.map((c) => h("option", { value: String(c.id) }, c.name)));
  const chips = CHIP_MINUTES.map((m) => h("button", { type: "button", class: "chip", "aria-pressed": String(m === 60),
    dataset: { minutes: m }, onclick: () => setMinutes(m) }, fmtDuration(m)));
  $("minute-chips").replaceChildren(...chips);
  syncPostFor();
}

function setMinutes(value) {
  $("post-minutes").value = String(value);
  syncChips();
}

function syncChips() {
  for (const chip of $("minute-chips").children) {
    chip.setAttribute("aria-pressed", String(Number(chip.dataset.minutes) === Number($("post-minutes").value)));
  }
}

function syncPostFor() {
  const choice = $("post-for").value;
  const resident = choice === "resident";
  $("resident-box").hidden = !resident;
  // Family requests go to the board of the relative's community; the server picks it.
  const communities = resident ? state.me.manages : state.me.communities;
  if (resident) {
    $("post-community").replaceChildren(...communities.map((c) => h("option", { value: String(c.id) }, c.name)));
  } else {
    $("post-community").replaceChildren(...state.me.communities.map((c) => h("option", { value: String(c.id) }, c.name)));
  }
  $("community-field").hidden = choice !== "" && !resident || communities.length < 2;
  if (!resident) pickResident(null);
}

let searchTimer = null;
function searchResidents() {
  clearTimeout(searchTimer);
  const q = $("resident-q").value.trim();
  if (!q) {
    $("resident-hits").replaceChildren();
    return;
  }
  searchTimer = setTimeout(async () => {
    const community = $("post-community").value || String(state.me.manages[0].id);
    try {
      const page = await api("GET", `/api/communities/${community}/members?${new URLSearchParams({ q, limit: "8" })}`);
      $("resident-hits").replaceChildren(...(page.items.length ? page.items.map((p) => h("li", {},
        h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => pickResident(p) },
          h("span", {}, p.name), h("span", { class: "muted small" }, p.phone ?? "")))) : [h("li", { class: "muted small" }, t("tb.no_hits"))]));
    } catch (err) {
      showError(err);
    }
  }, 250);
}

function pickResident(person) {
  state.resident = person;
  const box = $("resident-picked");
  box.hidden = !person;
  $("resident-hits").replaceChildren();
  if (!person) {
    box.replaceChildren();
    return;
  }
  $("resident-q").value = "";
  box.replaceChildren(h("span", {}, t("tb.for_person", { name: person.name })),
    h("button", { type: "button", class: "link-button", onclick: () => pickResident(null) }, t("tb.change")));
}

function postBody(form) {
  const choice = $("post-for").value;
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {
    title: value("title"),
    minutes_estimate: Number(value("minutes_estimate")),
    description: value("description"),
    place: value("place"),
  };
  const when = value("when");
  if (when) body.when = new Date(when).toISOString();
  if (choice === "resident") {
    body.for_user_id = state.resident?.id ?? null;
    body.use_pool = $("post-pool").checked;
  } else if (choice) {
    body.for_user_id = Number(choice);
  }
  if (!$("community-field").hidden) body.community_id = Number($("post-community").value);
  return body;
}

async function submitPost(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = postBody(form);
  if (!body.title) return showError({ message: t("error.required") }, form, "title");
  if (!Number.isInteger(body.minutes_estimate) || body.minutes_estimate < 1) {
    return showError({ message: t("tb.minutes_invalid") }, form, "minutes_estimate");
  }
  if ($("post-for").value === "resident" && !body.for_user_id) {
    return showError({ message: t("tb.pick_resident") }, form, "resident-q");
  }
  form.querySelector(".tb-afford")?.remove();
  const button = $("post-submit");
  setBusy(button, true);
  try {
    await api("POST", "/api/timebank/requests", body);
    toast(t("tb.posted"), "success");
    form.reset();
    setMinutes(60);
    pickResident(null);
    syncPostFor();
    togglePost(false);
    selectTab("requested");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return handlePageError(err);
    if (err.code === "time_short") return offerWhatIsAffordable(form, err);
    const field = err.details?.field === "for_user_id" ? "for_user_id" : err.details?.field;
    showError(err, form, field);
  } finally {
    setBusy(button, false);
  }
}

/** the server refuses a request its requester cannot pay (it would wait for nobody: volunteers
 * never see it). Its answer is shown as it came (Chinese), with what is banked and the two ways on it
 * names: a smaller request, or the community pool (公益时间池), which the community's staff post from. */
function offerWhatIsAffordable(form, err) {
  const { available, needed, offers } = err.details;
  const smaller = offers?.smaller && h("button", { type: "button", class: "btn btn-secondary btn-block",
    onclick: () => { setMinutes(offers.smaller); form.querySelector(".tb-afford")?.remove(); } },
  t("tb.afford_smaller", { v: fmtMinutes(offers.smaller) }));
  const box = h("div", { class: "tb-afford", role: "alert" },
    h("p", { class: "tb-afford-title" }, err.message),
    h("p", {}, t("tb.afford_short", { have: fmtMinutes(available), need: fmtMinutes(needed) })),
    smaller, h("p", { class: "hint" }, t("tb.afford_pool")));
  $("post-submit").closest(".form-actions").before(box);
  box.scrollIntoView({ block: "nearest" });
}

function togglePost(open) {
  $("post-card").hidden = !open;
  $("post-toggle").hidden = open;
  $("post-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("post-title-input").focus();
}

// ---- the pool ---------------------------------------------------------------------------------

function poolCommunity() {
  const chosen = $("community-filter").value;
  if (chosen) return Number(chosen);
  return state.me?.communities[0]?.id ?? null;
}

async function loadPool() {
  const community = poolCommunity();
  $("pool-card").hidden = !community;
  if (!community) return;
  const manages = state.me.manages.some((c) => c.id === community);
  const member = state.me.member_of.some((c) => c.id === community);
  $("credit-box").hidden = !manages;
  $("donate-form").hidden = !member;
  try {
    const pool = await api("GET", `/api/timebank/pool?community_id=${community}`);
    $("pool-name").textContent = pool.community_name;
    $("pool-value").textContent = fmtHours(pool.available);
  } catch {
    $("pool-card").hidden = true; // not a member there after all: the pool is only a side note
  }
}

function moneyForm(formId, path, bodyOf, done) {
  const form = $(formId);
  let key = null;
  form.addEventListener("input", () => { key = null; }); // a changed form is a new request
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = bodyOf(form);
    if (!body) return;
    key ??= newIdempotencyKey(); // a retry of the same submission reuses it: moves once
    const button = form.querySelector("[type=submit]");
    setBusy(button, true);
    try {
      const result = await api("POST", path, body, { idempotencyKey: key });
      key = null;
      form.reset();
      done(result);
      refreshMe().catch(() => {});
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return handlePageError(err);
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
}

function minutesFrom(form) {
  const input = form.elements.namedItem("minutes");
  const value = Number(input.value);
  if (!Number.isInteger(value) || value < 1) {
    showError({ message: t("tb.minutes_invalid") }, form, "minutes");
    return null;
  }
  return value;
}

// ---- family -----------------------------------------------------------------------------------

const LINK_STATE = { pending_out: "tb.link_pending_out", pending_in: "tb.link_pending_in", approved: "tb.link_approved" };

function familyRow(link) {
  const key = link.state === "approved" ? "approved" : link.direction === "outgoing" ? "pending_out" : "pending_in";
  const tone = link.state === "approved" ? "badge-ok" : "badge-warn";
  const buttons = [];
  if (link.can_approve) {
    buttons.push(h("button", { type: "button", class: "btn btn-primary btn-small",
      onclick: (e) => linkAction(link, "approve", e.currentTarget) }, t("tb.link_approve")));
  }
  buttons.push(h("button", { type: "button", class: "btn btn-secondary btn-small",
    onclick: (e) => linkAction(link, "remove", e.currentTarget) },
  t(link.state === "approved" ? "tb.link_remove" : link.can_approve ? "tb.link_decline" : "tb.link_withdraw")));
  return h("li", { class: "family-row" },
    h("div", {},
      // My own ask shows no name until the other side accepts: only the number I typed.
      h("div", { class: "family-name" }, link.other ? withClosedNames(link.other.name) : t("tb.link_unnamed")),
      h("div", { class: "muted small num" }, link.other_phone ?? "")),
    h("div", { class: "row" }, h("span", { class: ["badge", tone] }, t(LINK_STATE[key])), buttons));
}

async function linkAction(link, action, button) {
  setBusy(button, true);
  try {
    await api("POST", `/api/family-links/${link.id}/${action}`);
    toast(t(`tb.link_done_${action}`), "success");
    await refreshMe();
    await loadFamily();
  } catch (err) {
    showError(err);
    setBusy(button, false);
  }
}

async function loadFamily() {
  try {
    const links = await api("GET", "/api/family-links");
    $("family-list").replaceChildren(...(links.items.length ? links.items.map(familyRow)
      : [h("li", { class: "muted" }, t("tb.family_empty"))]));
  } catch (err) {
    handlePageError(err);
  }
  const family = state.me.family;
  $("gift-to").replaceChildren(...family.map((p) => h("option", { value: String(p.id) }, p.name)));
  $("gift-form").hidden = family.length === 0;
  $("gift-none").hidden = family.length > 0;
}

// ---- start ------------------------------------------------------------------------------------

function wire() {
  for (const tab of document.querySelectorAll(".tb-tabs [role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  }
  $("more").addEventListener("click", loadPage);
  $("post-toggle").addEventListener("click", () => togglePost(true));
  $("post-cancel").addEventListener("click", () => togglePost(false));
  $("post-form").addEventListener("submit", submitPost);
  $("post-for").addEventListener("change", syncPostFor);
  $("post-minutes").addEventListener("input", syncChips);
  $("resident-q").addEventListener("input", searchResidents);
  $("community-filter").addEventListener("change", () => { reloadList(); loadPool(); });

  $("link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    const phone = form.elements.namedItem("phone").value.trim();
    if (!phone) return showError({ message: t("error.required") }, form, "phone");
    const button = form.querySelector("[type=submit]");
    setBusy(button, true);
    try {
      await api("POST", "/api/family-links", { phone });
      form.reset();
      toast(t("tb.link_sent"), "success");
      await loadFamily();
    } catch (err) {
      showError(err, form, err.details?.field ?? "phone");
    } finally {
      setBusy(button, false);
    }
  });
  moneyForm("gift-form", "/api/gifts", (form) => {
    const minutes = minutesFrom(form);
    return minutes && { to_user_id: Number(form.elements.namedItem("to_user_id").value), minutes };
  }, (gift) => toast(t("tb.gift_done", { v: fmtMinutes(gift.minutes), name: gift.to_user.name }), "success"));
  moneyForm("donate-form", "/api/timebank/pool/donations", (form) => {
    const minutes = minutesFrom(form);
    return minutes && { community_id: poolCommunity(), minutes };
  }, () => { toast(t("tb.donate_done"), "success"); loadPool(); });
  moneyForm("credit-form", "/api/timebank/pool/credits", (form) => {
    const minutes = minutesFrom(form);
    const reason = form.elements.namedItem("reason").value.trim();
    if (minutes && !reason) {
      showError({ message: t("error.required") }, form, "reason");
      return null;
    }
    return minutes && { community_id: poolCommunity(), minutes, reason };
  }, (result) => {  // above the threshold or today's limit, it waits for a second person
    toast(t(result.held_id ? "tb.credit_held" : "tb.credit_done"), "success");
    loadPool();
  });
}

async function start() {
  try {
    const me = await refreshMe();
    const filter = $("community-filter");
    filter.replaceChildren(h("option", { value: "" }, t("tb.all_communities")),
      ...me.communities.map((c) => h("option", { value: String(c.id) }, c.name)));
    $("community-filter-row").hidden = me.communities.length < 2;
    fillPostForm(me);
    $("loading").hidden = true;
    $("app").hidden = false;
    if (!me.communities.length) toast(t("me.no_memberships"));
    const linked = /^#request-(\d+)$/.exec(location.hash);
    // A message's link (#request-<id>) opens that request where its step is, with the confirm form
    // already open when confirming is what waits (it used to land on the hall).
    if (linked) await openLinked(Number(linked[1]));
    else selectTab(new URLSearchParams(location.search).get("tab"));
  } catch (err) {
    handlePageError(err, $("loading"), start);
  }
}

async function openLinked(id) {
  const { request: req } = await api("GET", `/api/timebank/requests/${id}`);
  selectTab(req.requester.id === state.me.id ? "requested" : req.volunteer?.id === state.me.id ? "serving" : "hall");
  const list = $("requests");
  const card = requestCard(req);
  list.querySelector(`[data-id="${id}"]`)?.remove();
  list.prepend(card);
  const confirm = card.querySelector("[data-action=confirm]");
  if (req.can.includes("confirm") && confirm) openConfirm(card, req, confirm);
  card.scrollIntoView({ block: "start" });
  card.querySelector("input")?.focus();
}

wire();
start();

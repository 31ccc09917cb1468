// The managers' console of the moral supermarket: voucher hand-over, the queue of requests
// (oldest first, approve or reject with a reason), vouchers waiting to be collected, the rewards
// (create, edit, picture, stock with a reason, history) and on-the-spot redemption by member card.
import { api, ApiError, clearErrors, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";
import {
  fmtDay, markTabs, pointsText, rewardPicture, setCount, wireTabs,
} from "./supermarket-parts.js";
import { cameraElements, setUpCamera } from "./camera.js";
import { codeFromText } from "./scan-code.js";

initPage();

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const POLL_MS = 20000;
const STORE_KEY = "linli.redeem.community";
const REJECT_REASONS = ["redeem.reason_stock", "redeem.reason_rules", "redeem.reason_contact"];
const STOCK_REASONS = ["redeem.stock_reason_in", "redeem.stock_reason_count", "redeem.stock_reason_damaged"];
const tabs = [...document.querySelectorAll("[role=tab]")];
const state = {
  community: null, tab: "requested", counts: "", cursors: {}, rewards: [], spotKey: newIdempotencyKey(),
};

// ---- helpers ------------------------------------------------------------------------------

function remember(community) {
  try {
    localStorage.setItem(STORE_KEY, String(community));
  } catch {
    // storage blocked: the first community is chosen next time
  }
}

function remembered() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

function resultBox(ok, title, lines = []) {
  return h("div", { class: ["result", ok ? "result-ok" : "result-bad"], role: ok ? "status" : "alert" },
    h("p", { class: "result-title" }, title),
    ...lines.filter(Boolean).map((line) => h("p", { class: "result-line" }, line)));
}

/** Phone photos are large: send at most 1600 px (the server re-encodes and shrinks it anyway). */
async function shrink(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size < 2 * 1024 * 1024) return file;
    const canvas = h("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.88));
    return blob ?? file;
  } catch {
    return file; // let the server decide what it can read
  }
}

async function uploadImage(rewardId, file) {
  const form = new FormData();
  form.append("image", await shrink(file), "reward.jpg");
  return api("POST", `/api/rewards/${rewardId}/image`, form);
}

function chips(keys, target) {
  return h("div", { class: "chips" }, keys.map((key) => h("button", {
    type: "button", class: "chip", onclick: () => { target.value = t(key); target.focus(); },
  }, t(key))));
}

// ---- counts and polling -------------------------------------------------------------------

async function loadCounts() {
  const counts = await api("GET", `/api/redemptions/counts?community_id=${state.community}`);
  setCount($("count-requested"), counts.requested);
  setCount($("count-approved"), counts.approved);
  const seen = JSON.stringify(counts);
  const changed = state.counts && seen !== state.counts;
  state.counts = seen;
  return changed;
}

setInterval(async () => {
  if (document.visibilityState !== "visible" || !state.community) return;
  try {
    if (await loadCounts() && (state.tab === "requested" || state.tab === "approved")) {
      await loadQueue(state.tab, { reset: true });
    }
  } catch {
    // the next poll tries again
  }
}, POLL_MS);

// ---- voucher hand-over --------------------------------------------------------------------

// The camera reads the resident's voucher (or, on the spot, member card) on any phone.
const voucherCamera = setUpCamera(cameraElements("voucher-camera"), (value) => {
  voucherCamera.close();
  $("voucher-code").value = value;
  $("voucher-form").requestSubmit();
});
const spotCamera = setUpCamera(cameraElements("spot-camera"), (value) => {
  spotCamera.close();
  $("spot-member").value = value;
  $("spot-reward").focus();
});

$("voucher-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("voucher-code");
  const code = codeFromText(input.value);
  const button = event.currentTarget.querySelector("button[type=submit]");
  if (!code) {
    input.focus();
    return;
  }
  setBusy(button, true);
  try {
    const result = await api("POST", "/api/scans", { code });
    if (result.kind !== "voucher") {
      $("voucher-result").replaceChildren(resultBox(false, t("redeem.not_a_voucher")));
      return;
    }
    const d = result.details ?? {};
    $("voucher-result").replaceChildren(resultBox(true, t("redeem.handed_over"), [
      result.title, d.points != null && t("redeem.handed_over_points", { points: pointsText(d.points) })]));
    input.value = "";
    await loadCounts();
    if (state.tab === "approved") loadQueue("approved", { reset: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return handlePageError(err);
    const usedAt = err instanceof ApiError && err.code === "already_used" ? err.details?.used_at : null;
    $("voucher-result").replaceChildren(resultBox(false, t("redeem.handover_failed"), [
      err.message, usedAt && t("redeem.used_at", { when: fmtTime(usedAt) })]));
  } finally {
    setBusy(button, false);
    input.focus();
    input.select();
  }
});

// ---- queues -------------------------------------------------------------------------------

function balanceLine(d) {
  const b = d.requester_balance;
  if (!b) return null;
  return h("span", { class: "queue-balance" }, t("redeem.balance_line", {
    balance: fmtPoints(b.balance), held: fmtPoints(b.held) }));
}

function decide(d, card) {
  const keys = { approve: newIdempotencyKey(), reject: newIdempotencyKey() };
  const holder = h("div", { class: "queue-actions" });
  const approve = h("button", { type: "button", class: "btn btn-primary", "data-action": "approve" },
    t("redeem.approve"));
  const reject = h("button", { type: "button", class: "btn btn-danger", "data-action": "reject" }, t("redeem.reject"));

  approve.addEventListener("click", async () => {
    setBusy(approve, true);
    try {
      await api("POST", `/api/redemptions/${d.id}/approve`, undefined, { idempotencyKey: keys.approve });
      toast(t("redeem.approved", { name: d.user.name }), "success");
      card.remove();
      afterDecision();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return handlePageError(err);
      showError(err);
      setBusy(approve, false);
      if (err instanceof ApiError && err.status === 409) afterDecision();
    }
  });

  reject.addEventListener("click", () => {
    const reason = h("textarea", { name: "reason", id: `reason-${d.id}`, rows: 2, maxlength: 500, required: true,
      placeholder: t("redeem.reason_ph") });
    const confirm = h("button", { type: "submit", class: "btn btn-danger" }, t("redeem.reject_confirm"));
    const back = h("button", { type: "button", class: "btn btn-ghost" }, t("redeem.back"));
    const form = h("form", { class: "reject-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: `reason-${d.id}` }, t("redeem.reason")), reason),
      chips(REJECT_REASONS, reason),
      h("div", { class: "queue-actions" }, back, confirm));
    back.addEventListener("click", () => holder.replaceChildren(approve, reject));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      if (!reason.value.trim()) {
        showError({ message: t("redeem.reason_needed") }, form, "reason");
        return;
      }
      setBusy(confirm, true);
      try {
        await api("POST", `/api/redemptions/${d.id}/reject`, { reason: reason.value.trim() },
          { idempotencyKey: keys.reject });
        toast(t("redeem.rejected"), "success");
        card.remove();
        afterDecision();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return handlePageError(err);
        showError(err, form);
        setBusy(confirm, false);
      }
    });
    holder.replaceChildren(form);
    reason.focus();
  });
  holder.append(approve, reject);
  return holder;
}

function afterDecision() {
  loadCounts().catch(() => {});
  if (!$("list-requested").children.length) loadQueue("requested", { reset: true });
}

function queueCard(d) {
  const card = h("li", { class: "card queue-item", dataset: { redemptionId: d.id } });
  const when = d.state === "requested"
    ? t("redeem.asked_at", { when: fmtTime(d.requested_at) })
    : t("redeem.approved_by", { name: d.decided_by?.name ?? "", when: fmtTime(d.decided_at) });
  card.append(...[
    h("div", { class: "queue-head" },
      rewardPicture(d.reward_image_url, d.reward_name, "small"),
      h("div", { class: "queue-what" },
        h("p", { class: "queue-person" }, d.user.name),
        h("h2", { class: "queue-name" }, `${d.reward_name} × ${d.quantity}`)),
      h("span", { class: "queue-points num" }, pointsText(d.points))),
    h("p", { class: "queue-meta" }, when),
    d.state === "requested" && h("p", { class: "queue-meta" }, balanceLine(d)),
    d.state === "approved" && d.expires_at &&
      h("p", { class: "queue-meta" }, t("redeem.collect_by", { date: fmtDay(d.expires_at) })),
    d.state === "requested" ? decide(d, card) : null].filter(Boolean));
  return card;
}

async function loadQueue(which, { reset = false } = {}) {
  const list = $(`list-${which}`);
  const status = $(`status-${which}`);
  const more = $(`more-${which}`);
  const query = new URLSearchParams({ community_id: state.community, state: which, limit: String(PAGE_SIZE) });
  if (!reset && state.cursors[which]) query.set("cursor", state.cursors[which]);
  if (reset && !list.children.length) {
    status.hidden = false;
    status.textContent = t("common.loading");
  }
  setBusy(more, true);
  try {
    const page = await api("GET", `/api/redemptions?${query}`);
    const cards = page.items.map(queueCard);
    if (reset) list.replaceChildren(...cards);
    else list.append(...cards);
    state.cursors[which] = page.next_cursor;
    status.hidden = list.children.length > 0;
    status.textContent = t(`redeem.empty_${which}`);
    more.hidden = !page.next_cursor;
  } catch (err) {
    handlePageError(err, status, () => loadQueue(which, { reset: true }));
  } finally {
    setBusy(more, false);
  }
}

// ---- rewards ------------------------------------------------------------------------------

function numberField(name, label, value, { min = 0, required = true, hint = null } = {}) {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, type: "number", inputmode: "numeric", min, step: 1, value: value ?? "", required }),
    hint && h("p", { class: "hint" }, hint));
}

function textField(name, label, value, { textarea = false, maxlength = 60, required = false } = {}) {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  const input = textarea
    ? h("textarea", { id, name, rows: 2, maxlength }, value ?? "")
    : h("input", { id, name, type: "text", maxlength, value: value ?? "", required });
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

function intOrNull(value) {
  const text = String(value ?? "").trim();
  return text === "" ? null : Number(text);
}

/** The create form (reward = null) or the edit form of one reward. */
function rewardForm(reward, onDone) {
  const editing = !!reward;
  const fileId = `image-${reward?.id ?? "new"}`;
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, editing ? t("redeem.save") : t("redeem.create"));
  const close = h("button", { type: "button", class: "btn btn-ghost", onclick: () => onDone(null) }, t("redeem.back"));
  const removeImage = editing && reward.image_url
    ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "remove_image" }), t("redeem.remove_image"))
    : null;
  const form = h("form", { class: "reward-form", novalidate: true },
    textField("name", t("redeem.f_name"), reward?.name, { required: true }),
    textField("description", t("redeem.f_description"), reward?.description, { textarea: true, maxlength: 1000 }),
    h("div", { class: "field-pair" },
      numberField("cost_points", t("redeem.f_cost"), reward?.cost_points, { min: 1 }),
      editing ? null : numberField("stock", t("redeem.f_stock"), 0),
      numberField("per_person_limit", t("redeem.f_limit"), reward?.per_person_limit,
        { min: 1, required: false, hint: t("redeem.f_limit_hint") })),
    h("div", { class: "field" },
      h("label", { for: fileId }, t("redeem.f_image")),
      h("input", { id: fileId, name: "image", type: "file", accept: "image/jpeg,image/png,image/webp" }),
      removeImage),
    editing && h("label", { class: "check" },
      h("input", { type: "checkbox", name: "active", checked: reward.active }), t("redeem.f_active")),
    h("div", { class: "form-buttons" }, close, submit));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const f = (name) => form.elements.namedItem(name);
    const body = {
      name: f("name").value.trim(),
      description: f("description").value.trim(),
      cost_points: intOrNull(f("cost_points").value),
      per_person_limit: intOrNull(f("per_person_limit").value),
    };
    if (!body.name) return showError({ message: t("error.required") }, form, "name");
    if (!body.cost_points || body.cost_points < 1) return showError({ message: t("redeem.cost_needed") }, form, "cost_points");
    setBusy(submit, true);
    try {
      let saved;
      if (editing) {
        saved = await api("PATCH", `/api/rewards/${reward.id}`, { ...body, active: f("active").checked });
        if (f("remove_image")?.checked) saved = await api("DELETE", `/api/rewards/${reward.id}/image`);
      } else {
        saved = await api("POST", "/api/rewards", {
          ...body, community_id: Number(state.community), stock: intOrNull(f("stock").value) ?? 0 });
      }
      const file = f("image").files[0];
      if (file) {
        try {
          saved = await uploadImage(saved.id, file);
        } catch (err) {
          showError(err, form, "image");
          onDone(saved, { keepOpen: true });
          return;
        }
      }
      toast(editing ? t("redeem.saved") : t("redeem.created"), "success");
      onDone(saved);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return handlePageError(err);
      showError(err, form);
    } finally {
      setBusy(submit, false);
    }
  });
  return form;
}

function stockForm(reward, onDone) {
  const id = `delta-${reward.id}`;
  const delta = h("input", { id, name: "delta", type: "number", inputmode: "numeric", step: 1, required: true,
    placeholder: t("redeem.delta_ph") });
  const reason = h("input", { id: `stock-reason-${reward.id}`, name: "reason", type: "text", maxlength: 500,
    required: true, placeholder: t("redeem.reason_ph") });
  const after = h("p", { class: "hint" }, t("redeem.stock_now", { n: reward.stock }));
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("redeem.stock_submit"));
  const form = h("form", { class: "stock-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: id }, t("redeem.delta")), delta, after),
    h("div", { class: "field" }, h("label", { for: reason.id }, t("redeem.stock_reason")), reason,
      chips(STOCK_REASONS, reason)),
    h("div", { class: "form-buttons" },
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => onDone(null) }, t("redeem.back")), submit));
  delta.addEventListener("input", () => {
    const n = Number(delta.value);
    after.textContent = Number.isInteger(n) && n !== 0
      ? t("redeem.stock_after", { from: reward.stock, to: reward.stock + n })
      : t("redeem.stock_now", { n: reward.stock });
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const n = Number(delta.value);
    if (!Number.isInteger(n) || n === 0) return showError({ message: t("redeem.delta_needed") }, form, "delta");
    if (!reason.value.trim()) return showError({ message: t("redeem.reason_needed") }, form, "reason");
    setBusy(submit, true);
    try {
      const saved = await api("POST", `/api/rewards/${reward.id}/stock`, { delta: n, reason: reason.value.trim() });
      toast(t("redeem.stock_saved", { n: saved.stock }), "success");
      onDone(saved);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return handlePageError(err);
      showError(err, form);
    } finally {
      setBusy(submit, false);
    }
  });
  return form;
}

async function stockHistory(reward) {
  const list = h("ul", { class: "list stock-history" }, h("li", { class: "muted small" }, t("common.loading")));
  api("GET", `/api/rewards/${reward.id}/stock-changes?limit=20`).then((page) => {
    list.replaceChildren(...(page.items.length ? page.items.map((c) => h("li", { class: "stock-change" },
      h("span", { class: ["stock-delta", "num", c.delta > 0 ? "is-in" : "is-out"] }, fmtPoints(c.delta, { signed: true })),
      h("span", { class: "stock-why" }, c.reason,
        h("span", { class: "muted small" }, [c.actor?.name ?? t("redeem.system"), fmtTime(c.created_at)].join(" · "))),
      h("span", { class: "stock-after num muted" }, t("redeem.stock_after_short", { n: c.stock_after }))))
      : [h("li", { class: "muted small" }, t("redeem.no_history"))]));
  }, (err) => list.replaceChildren(h("li", { class: "muted small" }, err.message)));
  return list;
}

function manageCard(reward) {
  const card = h("li", { class: ["card", "manage-item", !reward.active && "is-inactive"], dataset: { rewardId: reward.id } });
  const area = h("div", { class: "manage-area" });
  const replace = (saved) => {
    if (saved) {
      state.rewards = state.rewards.map((r) => (r.id === saved.id ? saved : r));
      fillSpotRewards();
      card.replaceWith(manageCard(saved));
    } else {
      area.replaceChildren();
      for (const b of buttons) b.setAttribute("aria-expanded", "false");
    }
  };
  const open = (button, make) => async () => {
    const wasOpen = button.getAttribute("aria-expanded") === "true";
    for (const b of buttons) b.setAttribute("aria-expanded", "false");
    if (wasOpen) {
      area.replaceChildren();
      return;
    }
    button.setAttribute("aria-expanded", "true");
    area.replaceChildren(await make());
    area.querySelector("input, textarea")?.focus();
  };
  const edit = h("button", { type: "button", class: "btn btn-secondary btn-small", "aria-expanded": "false" },
    t("redeem.edit"));
  const stock = h("button", { type: "button", class: "btn btn-secondary btn-small", "aria-expanded": "false" },
    t("redeem.stock_change"));
  const history = h("button", { type: "button", class: "btn btn-ghost btn-small", "aria-expanded": "false" },
    t("redeem.stock_history"));
  const buttons = [edit, stock, history];
  edit.addEventListener("click", open(edit, () => rewardForm(reward, (saved, opts) => {
    if (!opts?.keepOpen) replace(saved);
  })));
  stock.addEventListener("click", open(stock, () => stockForm(reward, replace)));
  history.addEventListener("click", open(history, () => stockHistory(reward)));

  const facts = [pointsText(reward.cost_points), t("redeem.stock_n", { n: reward.stock }),
    reward.per_person_limit ? t("shop.limit", { n: reward.per_person_limit }) : null].filter(Boolean).join(" · ");
  card.append(
    h("div", { class: "manage-head" },
      rewardPicture(reward.image_url, reward.name, "small"),
      h("div", { class: "manage-what" },
        h("h2", { class: "manage-name" }, reward.name,
          !reward.active && h("span", { class: "badge badge-muted" }, t("redeem.inactive")),
          reward.active && reward.stock === 0 && h("span", { class: "badge badge-danger" }, t("shop.sold_out"))),
        h("p", { class: "manage-facts" }, facts))),
    h("div", { class: "manage-buttons" }, buttons),
    area);
  return card;
}

async function loadRewards({ reset = false } = {}) {
  const query = new URLSearchParams({ community_id: state.community, include_inactive: "true", limit: "100" });
  if (!reset && state.cursors.rewards) query.set("cursor", state.cursors.rewards);
  try {
    const page = await api("GET", `/api/rewards?${query}`);
    state.rewards = reset ? page.items : [...state.rewards, ...page.items];
    state.cursors.rewards = page.next_cursor;
    $("reward-list").replaceChildren(...state.rewards.map(manageCard));
    $("status-rewards").hidden = state.rewards.length > 0;
    $("status-rewards").textContent = t("redeem.no_rewards");
    $("more-rewards").hidden = !page.next_cursor;
    fillSpotRewards();
  } catch (err) {
    handlePageError(err, $("status-rewards"), () => loadRewards({ reset: true }));
  }
}

$("new-reward-open").addEventListener("click", () => {
  const holder = $("new-reward");
  const button = $("new-reward-open");
  const opening = holder.hidden;
  holder.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  if (!opening) return;
  holder.replaceChildren(h("h2", {}, t("redeem.new_reward_title")), rewardForm(null, (saved, opts) => {
    if (opts?.keepOpen) return;
    holder.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (saved) loadRewards({ reset: true });
  }));
  holder.querySelector("input")?.focus();
});
$("more-rewards").addEventListener("click", () => loadRewards());

// ---- on the spot --------------------------------------------------------------------------

function fillSpotRewards() {
  const select = $("spot-reward");
  const previous = select.value;
  const offered = state.rewards.filter((r) => r.active);
  select.replaceChildren(h("option", { value: "" }, t("redeem.spot_pick")), ...offered.map((r) => h("option", {
    value: r.id, disabled: r.stock === 0 },
  `${r.name} · ${pointsText(r.cost_points)} · ${r.stock === 0 ? t("shop.sold_out") : t("redeem.stock_n", { n: r.stock })}`)));
  if (offered.some((r) => String(r.id) === previous)) select.value = previous;
  spotTotal();
}

function spotTotal() {
  const reward = state.rewards.find((r) => String(r.id) === $("spot-reward").value);
  const quantity = Number($("spot-quantity").value);
  $("spot-total").textContent = reward && Number.isInteger(quantity) && quantity > 0
    ? t("redeem.spot_total", { points: pointsText(reward.cost_points * quantity) }) : "";
}

$("spot-reward").addEventListener("change", spotTotal);
$("spot-quantity").addEventListener("input", spotTotal);
$("spot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const memberCode = codeFromText($("spot-member").value);
  const rewardId = Number($("spot-reward").value);
  const quantity = Number($("spot-quantity").value);
  if (!memberCode) return showError({ message: t("error.required") }, form, "member_code");
  if (!rewardId) return showError({ message: t("redeem.spot_pick") }, form, "reward_id");
  if (!Number.isInteger(quantity) || quantity < 1) return showError({ message: t("redeem.delta_needed") }, form, "quantity");
  const button = form.querySelector("button[type=submit]");
  setBusy(button, true);
  try {
    const done = await api("POST", "/api/redemptions/on-the-spot",
      { member_code: memberCode, reward_id: rewardId, quantity }, { idempotencyKey: state.spotKey });
    state.spotKey = newIdempotencyKey();
    $("spot-result").replaceChildren(resultBox(true, t("redeem.spot_done"), [
      t("redeem.spot_done_line", { name: done.user.name, reward: `${done.reward_name} × ${done.quantity}`,
        points: pointsText(done.points) })]));
    form.reset();
    loadRewards({ reset: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return handlePageError(err);
    if (err instanceof ApiError && err.status !== 409) state.spotKey = newIdempotencyKey();
    $("spot-result").replaceChildren(resultBox(false, t("redeem.spot_failed"), [err.message]));
  } finally {
    setBusy(button, false);
  }
});

// ---- tabs and start -----------------------------------------------------------------------

function selectTab(name) {
  state.tab = ["requested", "approved", "rewards", "spot"].includes(name) ? name : "requested";
  markTabs(tabs, state.tab);
  history.replaceState(null, "", state.tab === "requested" ? location.pathname : `?tab=${state.tab}`);
  if (state.tab === "requested" || state.tab === "approved") loadQueue(state.tab, { reset: true });
}

function selectCommunity(id) {
  state.community = String(id);
  state.counts = "";
  state.cursors = {};
  remember(id);
  $("list-requested").replaceChildren();
  $("list-approved").replaceChildren();
  $("voucher-result").replaceChildren();
  $("spot-result").replaceChildren();
  loadCounts().catch(() => {});
  loadRewards({ reset: true });
  selectTab(state.tab);
}

wireTabs(tabs, selectTab);
$("more-requested").addEventListener("click", () => loadQueue("requested"));
$("more-approved").addEventListener("click", () => loadQueue("approved"));
$("community").addEventListener("change", (event) => selectCommunity(event.target.value));

async function start() {
  let me;
  try {
    me = await api("GET", "/api/me");
  } catch (err) {
    handlePageError(err, $("loading"), start);
    return;
  }
  $("loading").hidden = true;
  const communities = me.manages ?? [];
  if (!communities.length) {
    $("not-manager").hidden = false;
    return;
  }
  $("community").replaceChildren(...communities.map((c) => h("option", { value: c.id }, c.name)));
  $("community-field").hidden = communities.length < 2;
  const saved = communities.find((c) => String(c.id) === remembered());
  const first = saved ?? communities[0];
  $("community").value = String(first.id);
  $("console").hidden = false;
  state.tab = new URLSearchParams(location.search).get("tab") ?? "requested";
  selectCommunity(first.id);
}

start();

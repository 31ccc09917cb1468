// The moral supermarket for members: the catalogue of my communities, requests, and my
// redemptions with their state, a cancel button while waiting, and the voucher QR once approved.
import { api, ApiError, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";
import {
  fmtDay, groupCode, markTabs, pointsText, rewardPicture, setCount, stateBadge, svgImage, wireTabs,
} from "./supermarket-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 20;
const POLL_MS = 20000; // approvals and hand-overs happen elsewhere: refresh the badge now and then
const tabs = [...document.querySelectorAll("[role=tab]")];
const state = {
  tab: "catalogue", available: null, rewards: [], rewardsCursor: null, mineCursor: null,
  communities: new Set(), communityNames: new Map(), counts: "", openReward: null,
};

// ---- balance ------------------------------------------------------------------------------

async function loadBalance() {
  const { points } = await api("GET", "/api/me/balances");
  state.available = points.available;
  $("available").textContent = fmtPoints(points.available);
  $("held").textContent = points.held ? t("shop.held", { v: pointsText(points.held) }) : "";
}

// ---- catalogue ----------------------------------------------------------------------------

function maxQuantity(reward) {
  const byPoints = Math.floor((state.available ?? 0) / reward.cost_points);
  return Math.max(0, Math.min(reward.stock, reward.my_remaining ?? 99, byPoints, 99));
}

function whyNot(reward) {
  if (reward.stock <= 0) return t("shop.sold_out");
  if (reward.my_remaining === 0) return t("shop.limit_used");
  if (state.available != null && reward.cost_points > state.available) return t("shop.not_enough");
  return null;
}

function rewardMeta(reward) {
  const parts = [reward.stock > 0 ? t("shop.stock", { n: reward.stock }) : null];
  if (reward.per_person_limit) {
    parts.push(t("shop.limit", { n: reward.per_person_limit }));
    if (reward.my_remaining != null && reward.my_remaining < reward.per_person_limit) {
      parts.push(t("shop.limit_left", { n: reward.my_remaining }));
    }
  }
  if (state.communities.size > 1) parts.push(reward.community_name);
  return parts.filter(Boolean).join(" · ");
}

function requestForm(reward, card) {
  const key = newIdempotencyKey(); // one per opened form: a double tap or a retry requests once
  const max = maxQuantity(reward);
  let quantity = 1;
  const output = h("output", { class: "stepper-value num", "aria-live": "polite" }, "1");
  const total = h("p", { class: "request-total" });
  const minus = h("button", { type: "button", class: "stepper-btn", "aria-label": t("shop.less") }, "−");
  const plus = h("button", { type: "button", class: "stepper-btn", "aria-label": t("shop.more") }, "+");
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("shop.confirm"));
  const close = h("button", { type: "button", class: "btn btn-ghost" }, t("shop.form_close"));
  const form = h("form", { class: "request-form", novalidate: true },
    h("div", { class: "request-row" },
      h("span", { class: "request-label" }, t("shop.quantity")),
      h("div", { class: "stepper", role: "group", "aria-label": t("shop.quantity") }, minus, output, plus)),
    total,
    h("div", { class: "request-buttons" }, close, submit));

  const show = () => {
    output.textContent = String(quantity);
    total.replaceChildren(t("shop.total_prefix"), " ",
      h("strong", { class: "num" }, pointsText(reward.cost_points * quantity)));
    minus.disabled = quantity <= 1;
    plus.disabled = quantity >= max;
  };
  minus.addEventListener("click", () => { quantity = Math.max(1, quantity - 1); show(); });
  plus.addEventListener("click", () => { quantity = Math.min(max, quantity + 1); show(); });
  close.addEventListener("click", () => { state.openReward = null; renderRewards(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setBusy(submit, true);
    try {
      await api("POST", "/api/redemptions", { reward_id: reward.id, quantity }, { idempotencyKey: key });
      state.openReward = null;
      toast(t("shop.requested"), "success");
      await refreshAll();
      selectTab("mine");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return handlePageError(err);
      showError(err, form);
      if (err instanceof ApiError && err.status === 409) refreshAll(); // stock, limit or balance moved
    } finally {
      setBusy(submit, false);
    }
  });
  show();
  card.classList.add("is-open");
  return form;
}

function rewardCard(reward) {
  const card = h("li", { class: "card reward", dataset: { rewardId: reward.id } });
  const blocked = whyNot(reward);
  const open = state.openReward === reward.id && !blocked;
  let action = null;
  if (blocked) {
    action = h("p", { class: "reward-blocked" }, blocked);
  } else if (!open) {
    action = h("button", {
      type: "button", class: "btn btn-primary btn-small reward-redeem",
      onclick: () => { state.openReward = reward.id; renderRewards(); },
    }, t("shop.redeem"));
  }
  card.append(...[
    rewardPicture(reward.image_url, reward.name),
    h("div", { class: "reward-body" },
      h("h2", { class: "reward-name" }, reward.name),
      reward.description && h("p", { class: "reward-desc" }, reward.description),
      h("p", { class: "reward-meta" }, rewardMeta(reward))),
    h("div", { class: "reward-foot" },
      h("p", { class: "reward-price" },
        h("strong", { class: "num" }, fmtPoints(reward.cost_points)), " ", h("span", {}, t("shop.points_each"))),
      action),
    open ? requestForm(reward, card) : null].filter(Boolean));
  if (blocked) card.classList.add("is-blocked");
  return card;
}

function renderRewards() {
  const list = $("rewards");
  const focusedId = document.activeElement?.closest?.(".reward")?.dataset.rewardId;
  list.replaceChildren(...state.rewards.map(rewardCard));
  if (focusedId) list.querySelector(`[data-reward-id="${focusedId}"] button`)?.focus();
  const status = $("catalogue-status");
  status.hidden = state.rewards.length > 0;
  status.textContent = t("shop.empty");
}

/** The spending area's rewards come from several communities' shops: choose one. */
function offerCommunities() {
  const select = $("shop-community");
  for (const [id, name] of state.communityNames) {
    if (!select.querySelector(`option[value="${id}"]`)) select.append(h("option", { value: String(id) }, name));
  }
  $("shop-community-field").hidden = state.communityNames.size < 2;
}

async function loadRewards({ reset = false } = {}) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (!reset && state.rewardsCursor) query.set("cursor", state.rewardsCursor);
  const chosen = $("shop-community").value;
  if (chosen) query.set("community_id", chosen);  // one community's shop
  setBusy($("rewards-more"), true);
  try {
    const page = await api("GET", `/api/rewards?${query}`);
    state.rewards = reset ? page.items : [...state.rewards, ...page.items];
    state.rewardsCursor = page.next_cursor;
    for (const r of page.items) {
      state.communities.add(r.community_id);
      state.communityNames.set(r.community_id, r.community_name);
    }
    offerCommunities();
    renderRewards();
    $("rewards-more").hidden = !state.rewardsCursor;
  } catch (err) {
    handlePageError(err, $("catalogue-status"), () => loadRewards({ reset: true }));
  } finally {
    setBusy($("rewards-more"), false);
  }
}

// ---- my redemptions -----------------------------------------------------------------------

function voucherBlock(redemption) {
  const box = h("div", { class: "voucher", "aria-live": "polite" },
    h("p", { class: "muted small" }, t("common.loading")));
  api("GET", `/api/redemptions/${redemption.id}/voucher`).then((voucher) => {
    box.replaceChildren(
      h("p", { class: "voucher-title" }, t("shop.voucher_title")),
      h("div", { class: "qr voucher-qr" }, svgImage(voucher.svg, t("shop.voucher_alt", { name: redemption.reward_name }))),
      h("p", { class: "qr-caption num" }, groupCode(voucher.code)),
      voucher.expires_at && h("p", { class: "voucher-hint" }, t("shop.voucher_hint", { date: fmtDay(voucher.expires_at) })));
  }, (err) => box.replaceChildren(h("p", { class: "muted small" }, err.message)));
  return box;
}

function cancelControl(redemption) {
  const key = newIdempotencyKey();
  const holder = h("div", { class: "redemption-actions" });
  const ask = h("button", { type: "button", class: "btn btn-secondary btn-small" }, t("shop.cancel"));
  const sure = () => {
    const yes = h("button", { type: "button", class: "btn btn-danger btn-small" }, t("shop.cancel_yes"));
    const no = h("button", { type: "button", class: "btn btn-ghost btn-small" }, t("shop.cancel_no"));
    no.addEventListener("click", () => holder.replaceChildren(ask));
    yes.addEventListener("click", async () => {
      setBusy(yes, true);
      try {
        await api("POST", `/api/redemptions/${redemption.id}/cancel`, undefined, { idempotencyKey: key });
        toast(t("shop.cancelled"), "success");
        await refreshAll();
      } catch (err) {
        showError(err);
        setBusy(yes, false);
        refreshAll();
      }
    });
    holder.replaceChildren(h("span", { class: "small" }, t("shop.cancel_confirm")), no, yes);
    yes.focus();
  };
  ask.addEventListener("click", sure);
  holder.append(ask);
  return holder;
}

function stateNote(redemption) {
  switch (redemption.state) {
    case "requested":
      return [
        h("p", { class: "redemption-note" }, t("shop.note_requested", { date: fmtDay(redemption.expires_at) })),
        cancelControl(redemption)];
    case "approved":
      return [voucherBlock(redemption)];
    case "fulfilled":
      return [h("p", { class: "redemption-note" },
        t("shop.note_fulfilled", { when: fmtTime(redemption.fulfilled_at) }))];
    case "rejected":
      return [h("p", { class: "redemption-note is-bad" }, t("shop.note_rejected", { reason: redemption.reason ?? "" })),
        h("p", { class: "redemption-note" }, t("shop.note_refunded"))];
    case "cancelled":
      return [h("p", { class: "redemption-note" }, t("shop.note_cancelled"))];
    case "expired":
      return [h("p", { class: "redemption-note" },
        redemption.refunded ? t("shop.note_expired_voucher") : t("shop.note_expired_request"))];
    default:
      return [];
  }
}

function redemptionCard(redemption) {
  return h("li", { class: ["card", "redemption", `is-${redemption.state}`], dataset: { redemptionId: redemption.id } },
    h("div", { class: "redemption-head" },
      rewardPicture(redemption.reward_image_url, redemption.reward_name, "small"),
      h("div", { class: "redemption-what" },
        h("h2", { class: "redemption-name" }, `${redemption.reward_name} × ${redemption.quantity}`),
        h("p", { class: "redemption-meta" },
          [pointsText(redemption.points), fmtTime(redemption.requested_at)].join(" · "))),
      stateBadge(redemption.state)),
    ...stateNote(redemption));
}

async function loadMine({ reset = false } = {}) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (!reset && state.mineCursor) query.set("cursor", state.mineCursor);
  setBusy($("mine-more"), true);
  try {
    const page = await api("GET", `/api/redemptions?${query}`);
    const cards = page.items.map(redemptionCard);
    if (reset) $("mine").replaceChildren(...cards);
    else $("mine").append(...cards);
    state.mineCursor = page.next_cursor;
    const empty = $("mine").children.length === 0;
    $("mine-status").hidden = !empty;
    $("mine-status").textContent = t("shop.mine_empty");
    $("mine-more").hidden = !state.mineCursor;
    focusLinkedRedemption();
  } catch (err) {
    handlePageError(err, $("mine-status"), () => loadMine({ reset: true }));
  } finally {
    setBusy($("mine-more"), false);
  }
}

/** A message (消息) links here with ?redemption=<id>: show that card first, once. */
const LINKED_REDEMPTION = new URLSearchParams(location.search).get("redemption"); // read before tabs rewrite the URL

function focusLinkedRedemption() {
  const wanted = LINKED_REDEMPTION;
  const card = wanted && $("mine").querySelector(`[data-redemption-id="${CSS.escape(wanted)}"]`);
  if (!card || card.classList.contains("is-linked")) return;
  card.classList.add("is-linked");
  card.scrollIntoView({ block: "start" });
}

// ---- badges, refresh, tabs ----------------------------------------------------------------

async function loadCounts() {
  const counts = await api("GET", "/api/redemptions/counts");
  setCount($("mine-badge"), counts.approved);
  $("mine-badge").title = counts.approved ? t("shop.badge_vouchers", { n: counts.approved }) : "";
  const seen = JSON.stringify(counts);
  const changed = state.counts && seen !== state.counts;
  state.counts = seen;
  return changed;
}

async function refreshAll() {
  await Promise.all([loadBalance(), loadCounts()]);
  await Promise.all([loadRewards({ reset: true }), loadMine({ reset: true })]);
}

function selectTab(name) {
  state.tab = name === "mine" ? "mine" : "catalogue";
  markTabs(tabs, state.tab);
  history.replaceState(null, "", state.tab === "mine" ? "?tab=mine" : location.pathname);
}

wireTabs(tabs, selectTab);
$("rewards-more").addEventListener("click", () => loadRewards());
$("shop-community").addEventListener("change", () => loadRewards({ reset: true }));
$("mine-more").addEventListener("click", () => loadMine());

setInterval(async () => {
  if (document.visibilityState !== "visible") return;
  try {
    if (await loadCounts()) {
      await loadBalance();
      await Promise.all([loadMine({ reset: true }), loadRewards({ reset: true })]);
    }
  } catch {
    // a missed poll is harmless; the next one tries again
  }
}, POLL_MS);

selectTab(new URLSearchParams(location.search).get("tab"));
(async () => {
  try {
    await loadBalance();
  } catch (err) {
    handlePageError(err, $("catalogue-status"), () => location.reload());
    return;
  }
  loadCounts().catch(() => {});
  loadRewards({ reset: true });
  loadMine({ reset: true });
})();

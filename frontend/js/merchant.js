// 爱心商家: the merchant's phone page. Its people accept their invitation here, the staff
// scan or type a resident's voucher, see the offer and the masked name and confirm (or refund the
// same day), the owner publishes offers and invites staff; the month's statement with CSV and PDF.
// ?id=<merchant id>; without it, the first merchant I work for.
import { api, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { merchant: null, code: null };
const DAYS = [1, 2, 3, 4, 5, 6, 7];

function points(n) {
  return t("unit.points", { n: fmtPoints(n) });
}

function offerLine(o) {
  const when = t("merchants.when", { days: o.days.map((d) => t(`merchants.day${d}`)).join(""), opens: o.opens,
    closes: o.closes });
  return h("li", { class: "row" },
    h("span", {}, h("strong", {}, o.name), " · ", points(o.price_points), " · ",
      t("merchants.limit_line", { n: o.monthly_limit, stock: o.stock }), " · ", when),
    h("span", { class: ["badge", o.state === "approved" ? "badge-ok" : "badge-warn"] }, t(`merchants.state_${o.state}`)));
}

async function loadOffers() {
  const offers = await api("GET", `/api/merchants/${state.merchant.id}/offers`);
  $("offer-list").replaceChildren(...offers.map(offerLine));
}

function todayLine(r) {
  const refund = async (event) => {
    const reason = prompt(t("merchants.refund_reason")); // eslint-disable-line no-alert
    if (!reason) return;
    const button = event.currentTarget;
    setBusy(button, true);
    try {
      await api("POST", `/api/merchant-redemptions/${r.id}/refund`, { reason }, { idempotencyKey: newIdempotencyKey() });
      toast(t("merchants.refunded"), "ok");
      await loadToday();
    } catch (err) {
      handlePageError(err);
    }
  };
  return h("li", { class: "row" },
    h("span", {}, fmtTime(r.redeemed_at), " ", r.offer_name, " · ", r.person, " · ", points(r.points)),
    r.refunded_at ? h("span", { class: "badge" }, t("merchants.refunded"))
      : h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: refund }, t("merchants.refund")));
}

async function loadToday() {
  const rows = await api("GET", `/api/merchants/${state.merchant.id}/redemptions`);
  $("today").replaceChildren(...rows.map(todayLine));
  $("today-empty").hidden = rows.length > 0;
}

async function look(text) {
  state.code = text.trim();
  try {
    const v = await api("GET", `/api/merchants/${state.merchant.id}/vouchers/${encodeURIComponent(state.code.replace(/.*\/s\//, "").replace(/[^0-9a-z]/gi, ""))}`);
    $("preview-offer").textContent = v.offer_name;
    $("preview-person").textContent = t("merchants.person", { name: v.person });
    $("preview-points").textContent = points(v.price_points);
    const problem = v.used ? t("merchants.used") : v.expired ? t("merchants.expired") : "";
    $("preview-problem").textContent = problem;
    $("preview-problem").hidden = !problem;
    $("confirm").hidden = Boolean(problem);
    $("preview").hidden = false;
    $("confirm").focus();
  } catch (err) {
    showError(err, $("code-form"), "code");
  }
}

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if ($("code").value.trim()) look($("code").value);
});

$("confirm").addEventListener("click", async (event) => {
  const button = event.currentTarget;
    setBusy(button, true);
  try {
    const done = await api("POST", `/api/merchants/${state.merchant.id}/redemptions`, { code: state.code },
      { idempotencyKey: newIdempotencyKey() });
    toast(t("merchants.redeemed", { points: fmtPoints(done.points) }), "ok");
    $("preview").hidden = true;
    $("code").value = "";
    await Promise.all([loadToday(), loadStatement()]);
  } catch (err) {
    handlePageError(err, $("preview-problem"));
  } finally {
    setBusy(button, false);
  }
});

async function setUpScanner() {
  if (!navigator.mediaDevices?.getUserMedia) return;
  const { cameraElements, setUpCamera } = await import("./camera.js");
  const camera = setUpCamera(cameraElements(), (value) => {
    camera.close();
    $("code").value = value;
    look(value);
  });
}

$("offer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const days = DAYS.filter((d) => $(`day-${d}`).checked);
  try {
    await api("POST", `/api/merchants/${state.merchant.id}/offers`, {
      name: $("offer-name").value, price_points: Number($("offer-price").value),
      monthly_limit: Number($("offer-limit").value), stock: Number($("offer-stock").value), days,
      opens: $("offer-opens").value, closes: $("offer-closes").value,
    });
    toast(t("merchants.offer_sent"), "ok");
    form.reset();
    await loadOffers();
  } catch (err) {
    showError(err, form);
  }
});

$("staff-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  try {
    await api("POST", `/api/partners/${state.merchant.id}/invitations`, { phone: $("staff-phone").value,
      name: $("staff-name").value });
    toast(t("merchants.staff_invited"), "ok");
    form.reset();
  } catch (err) {
    showError(err, form);
  }
});

async function loadStatement() {
  const month = $("month").value;
  const s = await api("GET", `/api/merchants/${state.merchant.id}/statement${month ? `?month=${month}` : ""}`);
  $("month").value = s.month;
  const money = s.money_fen == null ? t("merchants.donated") : t("merchants.money", { yuan: (s.money_fen / 100).toFixed(2) });
  $("statement-totals").textContent = t("merchants.totals", { n: s.redemptions, refunds: s.refunds,
    points: fmtPoints(s.points), money, with: s.settles_with_name });
  $("statement-issuers").replaceChildren(...s.by_issuer.map((i) => h("li", {},
    t("merchants.from_issuer", { name: i.community_name, points: fmtPoints(i.points) }))));
  const base = `/api/merchants/${state.merchant.id}/statement?month=${s.month}`;
  $("statement-csv").href = `${base}&format=csv`;
  $("statement-pdf").href = `${base}&format=pdf`;
}
$("month").addEventListener("change", () => loadStatement().catch((err) => handlePageError(err)));

function invitationItem(inv) {
  const answer = (accept) => async (event) => {
    const button = event.currentTarget;
    setBusy(button, true);
    try {
      await api("POST", `/api/partner-invitations/${inv.id}/answer`, { accept });
      toast(t(accept ? "merchants.joined" : "merchants.declined"), "ok");
      location.reload();
    } catch (err) {
      handlePageError(err);
    }
  };
  return h("li", { class: "row" }, h("span", {}, t("merchants.invited", { name: inv.partner_name, by: inv.invited_by })),
    h("button", { type: "button", class: "btn btn-primary btn-small", onclick: answer(true) }, t("merchants.accept")),
    h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: answer(false) }, t("merchants.decline")));
}

async function show(merchant) {
  state.merchant = merchant;
  $("merchant-name").textContent = merchant.name;
  $("suspended").textContent = t("merchants.is_suspended", { reason: merchant.suspend_reason ?? "" });
  $("suspended").hidden = !merchant.suspended;
  const works = merchant.my_role != null;
  $("counter").hidden = !works;
  $("offers").hidden = false;
  $("offer-form").hidden = merchant.my_role !== "admin";
  $("staff").hidden = merchant.my_role !== "admin";
  $("staff-count").textContent = t("merchants.staff_count", { n: merchant.staff });
  $("statement").hidden = false;
  const loads = [loadOffers(), loadStatement()];
  if (works) loads.push(loadToday(), setUpScanner());
  await Promise.all(loads);
}

async function start() {
  $("offer-days").replaceChildren(...DAYS.map((d) => h("label", { class: "chip" },
    h("input", { type: "checkbox", id: `day-${d}`, checked: true }), t(`merchants.day${d}`))));
  const wanted = new URLSearchParams(location.search).get("id");
  try {
    const [mine, invitations] = await Promise.all([api("GET", "/api/merchants"), api("GET", "/api/partner-invitations")]);
    const open = invitations.items.filter((i) => i.partner_kind === "merchant");
    if (open.length) {
      $("invitation-list").replaceChildren(...open.map(invitationItem));
      $("invitations").hidden = false;
    }
    $("status").hidden = true;
    if (mine.length > 1) {
      $("merchant-select").replaceChildren(...mine.map((m) => h("option", { value: m.id }, m.name)));
      $("choose").hidden = false;
      $("merchant-select").addEventListener("change", () => show(mine.find((m) => String(m.id) === $("merchant-select").value)));
    }
    const merchant = wanted ? await api("GET", `/api/merchants/${wanted}`) : mine[0];
    if (merchant) await show(merchant);
    else if (!open.length) {
      $("status").textContent = t("merchants.none");
      $("status").hidden = false;
    }
  } catch (err) {
    handlePageError(err, $("status"), start);
  }
}

start();

// 爱心商家管理: a street's or community's managers invite merchants, approve or withdraw
// their offers, suspend them, and set the money paid per point. ?org=<street or community id>.
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, h, initPage, setBusy } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const org = Number(new URLSearchParams(location.search).get("org"));

function act(run) {
  return async (event) => {
    const button = event.currentTarget;
    setBusy(button, true);
    try {
      await run();
      await load();
    } catch (err) {
      handlePageError(err);
    } finally {
      setBusy(button, false);
    }
  };
}

function merchantItem(m) {
  const suspend = act(async () => {
    const reason = prompt(t(m.suspended ? "merchants.resume_reason" : "merchants.suspend_reason")); // eslint-disable-line no-alert
    if (!reason) return;
    await api("POST", `/api/merchants/${m.id}/suspension`, { suspended: !m.suspended, reason });
    toast(t(m.suspended ? "merchants.resumed" : "merchants.suspended_now"), "ok");
  });
  return h("li", { class: "row", dataset: { merchant: m.id } },
    h("span", {}, h("a", { href: `/merchant.html?id=${m.id}` }, m.name), " · ", m.category, " · ", m.address, " · ",
      m.community_names.join("、"), " · ", t("unit.points", { n: fmtPoints(m.points) }),
      m.staff ? "" : ` · ${t("merchants.not_accepted")}`),
    m.suspended && h("span", { class: "badge badge-warn" }, t("merchants.suspended")),
    h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: suspend },
      t(m.suspended ? "merchants.resume" : "merchants.suspend")));
}

function offerItem(m, o) {
  const decide = (approve) => act(async () => {
    await api("POST", `/api/offers/${o.id}/decision`, { approve });
    toast(t(approve ? "merchants.approved" : "merchants.withdrawn"), "ok");
  });
  return h("li", { class: "row", dataset: { offer: o.id } },
    h("span", {}, m.name, " · ", h("strong", {}, o.name), " · ", t("unit.points", { n: fmtPoints(o.price_points) }),
      " · ", t("merchants.limit_line", { n: o.monthly_limit, stock: o.stock })),
    o.state === "pending" && h("button", { type: "button", class: "btn btn-primary btn-small", onclick: decide(true) },
      t("merchants.approve")),
    h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: decide(false) }, t("merchants.withdraw")));
}

async function load() {
  try {
    const merchants = await api("GET", `/api/merchants?org_id=${org}`);
    $("merchant-list").replaceChildren(...merchants.map(merchantItem));
    $("list-empty").hidden = merchants.length > 0;
    const offers = await Promise.all(merchants.map(async (m) =>
      (await api("GET", `/api/merchants/${m.id}/offers`)).filter((o) => o.state !== "withdrawn").map((o) => [m, o])));
    const open = offers.flat();
    $("pending-list").replaceChildren(...open.map(([m, o]) => offerItem(m, o)));
    $("pending").hidden = open.length === 0;
    const rate = await api("GET", `/api/orgs/${org}/merchant-rate`);
    $("rate-now").textContent = rate.fen_per_point == null ? t("merchants.donated")
      : t("merchants.rate_now", { fen: rate.fen_per_point });
    $("status").hidden = true;
  } catch (err) {
    handlePageError(err, $("status"), load);
  }
}

async function communities() {
  try {
    const level = await api("GET", `/api/orgs/${org}`);
    if (level.kind !== "street") return;
    const page = await api("GET", `/api/orgs?parent_id=${org}&limit=100`);
    const list = page.items.filter((c) => c.kind === "community");
    $("m-communities").replaceChildren(...list.map((c) => h("label", { class: "chip" },
      h("input", { type: "checkbox", value: c.id, name: "community" }), c.name)));
    $("m-communities-box").hidden = list.length === 0;
  } catch (err) {
    handlePageError(err);
  }
}

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const chosen = [...form.querySelectorAll("input[name=community]:checked")].map((i) => Number(i.value));
  const body = { parent_id: org, name: $("m-name").value, category: $("m-category").value,
    address: $("m-address").value, owner_name: $("m-owner").value, contact_phone: $("m-phone").value };
  if (chosen.length) body.community_ids = chosen;
  try {
    await api("POST", "/api/merchants", body);
    toast(t("merchants.invite_sent"), "ok");
    form.reset();
    await load();
  } catch (err) {
    showError(err, form);
  }
});

$("rate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("rate").value.trim();
  try {
    await api("PUT", `/api/orgs/${org}/merchant-rate`, { fen_per_point: value === "" ? null : Number(value) });
    toast(t("merchants.saved"), "ok");
    await load();
  } catch (err) {
    showError(err, event.currentTarget);
  }
});

communities();
load();

// 通兑结算: a street's (or district's) spending-area policy and its monthly settlement per pair of
// communities. ?org=<street or district id>. The policy form shows only to who may set it.
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtPoints, h, initPage } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const org = new URLSearchParams(location.search).get("org");

function amount(unit, n) {
  return unit === "minutes" ? fmtMinutes(n, { signed: true }) : t("unit.points", { n: fmtPoints(n, { signed: true }) });
}

function policyLine(p) {
  const unit = t(p.unit === "minutes" ? "settlement.unit_minutes" : "settlement.unit_points");
  return p.enabled ? t("settlement.policy_on", { unit, from: p.starts_on }) : t("settlement.policy_off", { unit });
}

async function loadPolicy() {
  try {
    const policies = await api("GET", `/api/orgs/${org}/spending-area`);
    $("policy-points").textContent = policyLine(policies.points);
    $("policy-minutes").textContent = policyLine(policies.minutes);
    $("policy-card").hidden = false;
    $("policy-form").hidden = false;
  } catch {
    $("policy-card").hidden = true; // community managers read the settlement, not the policy
  }
}

async function loadReport() {
  // Empty on opening: the server answers its current month in the community's time zone (Shanghai),
  // not the phone's, whose month can differ for hours at a month's end.
  const month = $("month").value;
  try {
    const report = await api("GET", `/api/orgs/${org}/settlement${month ? `?month=${month}` : ""}`);
    $("month").value = report.month;
    $("csv").href = `/api/orgs/${org}/settlement?format=csv&month=${report.month}`;
    $("pair-rows").replaceChildren(...report.pairs.map((p) => h("tr", {},
      h("td", {}, p.issuer_name), h("td", {}, p.spender_name),
      h("td", {}, t(p.unit === "minutes" ? "settlement.unit_minutes" : "settlement.unit_points")),
      h("td", {}, amount(p.unit, p.amount)))));
    $("pairs").hidden = report.pairs.length === 0;
    $("merchant-rows").replaceChildren(...report.merchants.map((m) => h("tr", { dataset: { merchant: m.merchant_id } },
      h("td", {}, m.merchant_name), h("td", {}, m.issuer_name), h("td", {}, fmtPoints(m.points)),
      h("td", {}, m.money_fen == null ? "—" : (m.money_fen / 100).toFixed(2)))));
    $("merchants").hidden = report.merchants.length === 0;
    $("merchants-empty").hidden = report.merchants.length > 0;
    $("empty").hidden = report.pairs.length > 0;
    $("status").hidden = true;
  } catch (err) {
    handlePageError(err, $("status"), loadReport);
  }
}

$("policy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { unit: $("policy-unit").value, enabled: event.submitter?.value === "true" };
  if ($("policy-start").value) body.starts_on = $("policy-start").value;
  try {
    await api("PUT", `/api/orgs/${org}/spending-area`, body);
    toast(t("settlement.saved"), "ok");
    await loadPolicy();
  } catch (err) {
    showError(err, $("policy-form"));
  }
});

$("month").addEventListener("change", loadReport);
loadPolicy();
loadReport();

// Points / time statement: newest first, one page at a time with "load more".
import { api, handlePageError } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtHours, fmtMinutes, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";

initPage();

const PAGE_SIZE = 20;
const $ = (id) => document.getElementById(id);
const state = { unit: "points", cursor: null, generation: 0 };

function fmtAmount(amount, signed = false) {
  return state.unit === "minutes" ? fmtMinutes(amount, { signed }) : t("unit.points", { n: fmtPoints(amount, { signed }) });
}

function stateBadge(entryState) {
  if (!entryState || entryState === "posted") return null;
  const tone = entryState === "pending" ? "badge-warn" : "badge-muted";
  return h("span", { class: ["badge", tone] }, tOr(`state.${entryState}`, entryState));
}

function entryRow(item) {
  // Postings without a cause (demo awards, expiry) are named by their kind; never a raw code.
  const type = item.cause?.type ?? item.kind ?? "other";
  const typeText = tOr(`cause.${type}`, t("cause.other"));
  const title = withClosedNames(item.cause?.label) || typeText;
  const meta = [item.cause?.label ? typeText : null, fmtTime(item.created_at)].filter(Boolean).join(" · ");
  const posted = !item.state || item.state === "posted";
  const amountClass = ["entry-amount", !posted ? "is-pending" : item.amount > 0 && "is-in"];
  return h("li", { class: "entry" },
    h("div", {},
      h("div", { class: "entry-title" }, title, stateBadge(item.state)),
      h("div", { class: "entry-meta" }, meta),
      item.actor && h("div", { class: "entry-note" }, t("statement.by", { name: item.actor.name })),
      item.reason && h("div", { class: "entry-note" }, t("statement.reason", { reason: item.reason })),
      // the rulebook item and version it was made under
      item.rule && h("div", { class: "entry-note entry-rule" }, t("statement.rule", { rule: item.rule }))),
    h("div", { class: "entry-side" },
      h("div", { class: amountClass }, fmtAmount(item.amount, true)),
      item.balance_after != null &&
        h("div", { class: "entry-after" }, item.community
          ? t("statement.balance_after_in", { where: item.community.label, v: fmtAmount(item.balance_after) })
          : t("statement.balance_after", { v: fmtAmount(item.balance_after) }))));
}

async function loadBalance(generation) {
  const balances = await api("GET", "/api/me/balances");
  if (generation !== state.generation) return;
  // 总额 = 可用 + 冻结中, the same three numbers (and words) on every page (ledger.Balance).
  const { available, held, balance } = balances[state.unit];
  $("available").textContent = state.unit === "minutes" ? fmtHours(available) : t("unit.points", { n: fmtPoints(available) });
  $("total").textContent = `${t("balance.total")} ${fmtAmount(balance)}`;
  $("held").textContent = held ? `${t("balance.held")} ${fmtAmount(held)}` : "";
  $("held-why").hidden = !held;
  $("held-link").href = state.unit === "minutes" ? "/timebank.html" : "/redemptions.html";
  const parts = balances.by_community?.[state.unit] ?? [];
  $("by-community").replaceChildren(...(parts.length > 1 ? parts : []).map((p) =>
    h("li", {}, t("statement.part", { where: p.community_name, v: fmtAmount(p.available) }))));
}

async function loadPage() {
  const generation = state.generation; // a tab switch while loading makes this answer stale
  const query = new URLSearchParams({ unit: state.unit, limit: String(PAGE_SIZE) });
  if (state.cursor) query.set("cursor", state.cursor);
  setBusy($("more"), true);
  try {
    const page = await api("GET", `/api/me/statement?${query}`);
    if (generation !== state.generation) return;
    $("entries").append(...page.items.map(entryRow));
    state.cursor = page.next_cursor;
    const empty = $("entries").children.length === 0;
    $("status").hidden = !empty && !!state.cursor;
    $("status").textContent = empty ? t("statement.empty") : t("common.no_more");
    $("more").hidden = !state.cursor;
  } catch (err) {
    if (generation === state.generation) handlePageError(err, $("status"), loadPage);
  } finally {
    setBusy($("more"), false);
  }
}

function selectUnit(unit) {
  state.unit = unit === "minutes" ? "minutes" : "points";
  state.cursor = null;
  state.generation += 1;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const active = tab.dataset.unit === state.unit;
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = active ? 0 : -1;
  }
  history.replaceState(null, "", `?unit=${state.unit}`);
  $("entries").replaceChildren();
  $("available").textContent = "–";
  $("held").textContent = "";
  $("status").hidden = false;
  $("status").textContent = t("common.loading");
  $("more").hidden = true;
  loadBalance(state.generation).catch(() => {}); // the list below reports errors, once
  loadPage();
}

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => selectUnit(tab.dataset.unit));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    selectUnit(state.unit === "points" ? "minutes" : "points");
    document.querySelector("[role=tab][aria-selected=true]").focus();
  });
}
$("more").addEventListener("click", loadPage);

selectUnit(new URLSearchParams(location.search).get("unit"));

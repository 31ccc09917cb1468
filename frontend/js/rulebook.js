// 积分细则: residents read the rules they earn and are deducted by; a manager proposes a
// new version (a street's base, or a community's items on top of it), which waits in the held
// queue until a second manager or the street approves it.
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let me = null;
let rows = 0;
const APPLIES_TO = ["report_civility", "report_hazard", "report_service", "case_in_time"];

function itemLine(item) {
  return h("li", { class: "rule-item", id: `rule-${item.id}` },
    h("div", {}, h("strong", {}, `${item.code} · ${item.title}`), " ",
      h("span", { class: ["badge", item.kind === "earn" ? "badge-ok" : "badge-warn"] },
        item.kind === "earn" ? t("rulebook.plus", { n: fmtPoints(item.points) }) : t("rulebook.minus", { n: fmtPoints(item.points) }))),
    item.applies_to ? h("div", { class: "small" }, t("rulebook.applies", { what: t(`rulebook.applies_${item.applies_to}`) })) : null,
    item.daily_cap ? h("div", { class: "muted small" }, t("rulebook.cap", { n: fmtPoints(item.daily_cap) })) : null,
    item.evidence ? h("div", { class: "muted small" }, t("rulebook.evidence", { text: item.evidence })) : null,
    item.clause ? h("div", { class: "small" }, t("rulebook.clause", { text: item.clause })) : null,
    h("div", { class: "muted small" }, t("rulebook.from", { org: item.org_name, version: item.version })));
}

function itemRow() {
  rows += 1;
  const n = rows;
  const field = (name, label, input) => h("div", { class: "field" }, h("label", { for: `${name}-${n}` }, label), input);
  const kind = h("select", { id: `kind-${n}`, name: "kind" },
    h("option", { value: "earn" }, t("rulebook.kind_earn")), h("option", { value: "deduct" }, t("rulebook.kind_deduct")));
  const row = h("fieldset", { class: "card rule-row", dataset: { row: n } },
    h("legend", {}, t("rulebook.item_n", { n })),
    field("code", t("rulebook.code"), h("input", { id: `code-${n}`, name: "code", maxlength: "20", required: true,
      value: `X${n}`, autocapitalize: "characters" })),
    field("kind", t("rulebook.kind"), kind),
    field("title", t("rulebook.item_title"), h("input", { id: `title-${n}`, name: "title", maxlength: "100", required: true })),
    field("points", t("rulebook.points"), h("input", { id: `points-${n}`, name: "points", type: "number", min: "1",
      max: "10000", inputmode: "numeric", required: true })),
    // An earning item pays for activities (the default), or for a verified courier report of a kind,
    // or for a case closed in time (its reporter's bonus): then those are paid by the rulebook.
    field("applies", t("rulebook.applies_label"), h("select", { id: `applies-${n}`, name: "applies_to" },
      ...["", ...APPLIES_TO].map((v) => h("option", { value: v }, t(`rulebook.applies_${v || "activity"}`))))),
    field("cap", t("rulebook.cap_label"), h("input", { id: `cap-${n}`, name: "daily_cap", type: "number", min: "1",
      max: "10000", inputmode: "numeric" })),
    field("evidence", t("rulebook.evidence_label"), h("input", { id: `evidence-${n}`, name: "evidence", maxlength: "200" })),
    field("clause", t("rulebook.clause_label"), h("input", { id: `clause-${n}`, name: "clause", maxlength: "300" })));
  $("item-rows").append(row);
}

function readItems() {
  return [...document.querySelectorAll(".rule-row")].map((row) => {
    const v = (name) => row.querySelector(`[name=${name}]`).value.trim();
    const item = { code: v("code"), kind: v("kind"), title: v("title"), points: Number(v("points")) || 0,
      evidence: v("evidence") };
    if (item.kind === "earn" && v("daily_cap")) item.daily_cap = Number(v("daily_cap"));
    if (item.kind === "earn" && v("applies_to")) item.applies_to = v("applies_to");
    if (v("clause")) item.clause = v("clause");
    return item;
  });
}

async function load() {
  try {
    me = me || await api("GET", "/api/me");
    const choices = [...new Map([...me.memberships.map((m) => [m.community_id, m.org_name]),
      ...me.manages.map((o) => [o.id, o.name]), ...(me.levels || []).map((o) => [o.id, o.name])]).entries()];
    const orgId = Number(params.get("org")) || (choices[0] && choices[0][0]);
    if (!orgId) {
      $("status").textContent = t("rulebook.no_community");
      return;
    }
    if (choices.length > 1) {
      $("org").replaceChildren(...choices.map(([id, name]) => h("option", { value: id, selected: id === orgId }, name)));
      $("org-field").hidden = false;
      $("org").onchange = () => location.assign(`/rulebook.html?org=${$("org").value}`);
    }
    const [book, medalRules] = await Promise.all([api("GET", `/api/orgs/${orgId}/rulebook`),
      api("GET", `/api/orgs/${orgId}/medal-rules`)]);
    render(book);
    $("medal-rules").replaceChildren(...medalRules.items.map((r) => h("li", {}, h("strong", {}, r.name), " · ",
      t(`rulebook.medal_${r.kind}_n`, { n: r.threshold }), r.id ? "" : ` · ${t("rulebook.medal_default")}`)));
    $("medal-rules-card").hidden = false;
    $("medal-rule-form").hidden = !book.can_propose;
  } catch (err) {
    handlePageError(err, $("status"), load);
  }
}

function render(book) {
  const current = book.in_force;
  $("book-title").textContent = current ? current.title : book.org_name;
  $("book-meta").textContent = current
    ? t("rulebook.meta", { org: current.org_name, version: current.version, base: book.base ? t("rulebook.based_on",
      { org: book.base.org_name, version: book.base.version }) : "" })
    : "";
  $("book-none").hidden = Boolean(current);
  $("earn").replaceChildren(...book.items.filter((i) => i.kind === "earn").map(itemLine));
  $("deduct").replaceChildren(...book.items.filter((i) => i.kind === "deduct").map(itemLine));
  $("book").hidden = false;
  $("pending").replaceChildren(...book.pending.map((v) => h("li", { class: "rule-item" },
    h("strong", {}, t("rulebook.version_n", { title: v.title, version: v.version })),
    h("div", { class: "muted small" }, t("rulebook.proposed_by", { name: withClosedNames(v.proposer.name), at: fmtTime(v.created_at) })),
    h("ul", { class: "list" }, ...v.items.map(itemLine)))));
  $("pending-card").hidden = book.pending.length === 0;
  $("propose-card").hidden = !book.can_propose;
  if (book.can_propose) {
    $("propose-hint").textContent = book.in_force && book.in_force.org_id !== book.org_id || !book.in_force
      ? t("rulebook.propose_hint_extend") : t("rulebook.propose_hint");
    $("propose-form").dataset.org = book.org_id;
    if (!document.querySelector(".rule-row")) itemRow();
  }
  $("status").hidden = true;
}

$("add-item").addEventListener("click", itemRow);
$("medal-rule-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  try {
    await api("POST", "/api/medal-rules", { org_id: Number($("propose-form").dataset.org), kind: $("medal-kind").value,
      threshold: Number($("medal-threshold").value), name: $("medal-name").value.trim() });
    toast(t("rulebook.medal_added"), "success");
    form.reset();
    await load();
  } catch (err) {
    showError(err, form);
  }
});
$("propose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    await api("POST", "/api/rulebooks", { org_id: Number(form.dataset.org), title: $("book-title-input").value.trim(),
      items: readItems() });
    toast(t("rulebook.submitted"), "success");
    $("item-rows").replaceChildren();
    rows = 0;
    form.reset();
    await load();
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

load();

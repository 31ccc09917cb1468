// 扣分: the person reads what is proposed of them and appeals within the window; a manager
// proposes one under a deduction item of the rulebook, with evidence; a second manager decides in
// the held queue (/held.html). A message's link opens one deduction (#d-<id>).
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, fmtPoints, fmtTime, h, initPage, setBusy, withClosedNames } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
let me = null;

function stateText(d) {
  if (d.state === "posted") return t("deductions.posted", { taken: fmtPoints(d.taken), rest: fmtPoints(d.unrecovered) });
  if (d.state === "rejected") return t("deductions.rejected");
  return d.appealed_at ? t("deductions.appealed") : t("deductions.proposed", { until: fmtTime(d.appeal_until) });
}

function appealForm(d) {
  const input = h("textarea", { id: `appeal-${d.id}`, name: "reason", maxlength: "1000", required: true });
  const form = h("form", { class: "appeal-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: `appeal-${d.id}` }, t("deductions.appeal_reason")), input),
    h("button", { type: "submit", class: "btn btn-primary" }, t("deductions.appeal")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button");
    setBusy(button, true);
    try {
      await api("POST", `/api/deductions/${d.id}/appeal`, { reason: input.value.trim() });
      toast(t("deductions.appeal_sent"), "success");
      await load();
    } catch (err) {
      showError(err, form);
      setBusy(button, false);
    }
  });
  return form;
}

function row(d) {
  const tone = { posted: "badge-warn", rejected: "badge-ok", proposed: "badge-info" }[d.state];
  return h("li", { class: "held-item", id: `d-${d.id}` },
    h("div", {}, h("strong", {}, d.rule.label), " ",
      h("span", { class: ["badge", tone] }, t(`deductions.state_${d.state}`))),
    d.clause ? h("div", { class: "small" }, t("deductions.clause", { text: d.clause })) : null,
    h("div", {}, t("deductions.amount", { n: fmtPoints(d.amount), person: withClosedNames(d.person.name),
      community: d.community_name })),
    h("div", { class: "muted" }, t("deductions.evidence_is", { text: d.evidence })),
    d.has_photo ? h("img", { class: "evidence-photo", src: `/api/deductions/${d.id}/photo`, alt: t("deductions.photo_alt"),
      loading: "lazy", width: "240" }) : null,
    d.appeal_reason ? h("div", {}, t("deductions.my_appeal", { text: d.appeal_reason })) : null,
    h("div", { class: "muted small" }, stateText(d)),
    d.decision_reason ? h("div", { class: "muted small" }, t("deductions.decision_reason", { text: d.decision_reason })) : null,
    d.can_appeal ? appealForm(d) : null);
}

async function fillPeople() {
  const community = $("community").value;
  const [people, book] = await Promise.all([
    api("GET", `/api/communities/${community}/members?limit=100`),
    api("GET", `/api/orgs/${community}/rulebook`)]);
  $("person").replaceChildren(...people.items.filter((p) => p.id !== me.id)
    .map((p) => h("option", { value: p.id }, `${withClosedNames(p.name)} ${p.phone || ""}`)));
  const items = book.items.filter((i) => i.kind === "deduct");
  $("rule").replaceChildren(...items.map((i) => h("option", { value: i.id }, `${i.code} ${i.title}（−${i.points}）`)));
}

async function setUpProposing() {
  const levels = new Set((me.levels || []).map((o) => o.id));
  const communities = me.manages.filter((o) => !levels.has(o.id));
  if (!communities.length) return;
  $("community").replaceChildren(...communities.map((o) => h("option", { value: o.id }, o.name)));
  $("community").onchange = () => fillPeople().catch(showError);
  await fillPeople();
  $("propose-card").hidden = false;
}

async function load() {
  try {
    me = me || await api("GET", "/api/me");
    const { items } = await api("GET", "/api/me/deductions");
    $("mine").replaceChildren(...items.map(row));
    $("mine-empty").hidden = items.length > 0;
    const linked = Number((location.hash.match(/^#d-(\d+)$/) || [])[1]);
    if (linked && !items.some((d) => d.id === linked)) {
      const one = await api("GET", `/api/deductions/${linked}`);
      $("linked").replaceChildren(row(one));
      $("linked-card").hidden = false;
    }
    $("status").hidden = true;
  } catch (err) {
    handlePageError(err, $("status"), load);
  }
}

$("propose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    const body = new FormData();
    for (const name of ["community_id", "user_id", "rule_item_id"]) body.append(name, form.elements[name].value);
    body.append("evidence", $("evidence").value.trim());
    if ($("photo").files[0]) body.append("photo", $("photo").files[0]);
    await api("POST", "/api/deductions", body);
    toast(t("deductions.proposed_ok"), "success");
    $("evidence").value = "";
    $("photo").value = "";
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

load().then(() => setUpProposing()).catch(showError);

// A community's other business (every act had an API and no page): certificates issued or
// revoked, corrections answered, households, units served and service cards, reversing an adjustment,
// the points expiry policy; and for anyone, asking for a correction and changing one's password.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, fmtTime, h, initPage, setBusy, showError, takesSecrets, toast } from "./ui.js";
import { recentQuarters } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const base = () => `/api/communities/${$("community").value}`;

function onSubmit(id, send, done = "tools.saved") {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    const button = event.submitter;
    setBusy(button, true);
    try {
      await send(form);
      form.reset();
      toast(t(done), "success");
      await loadManager();
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy(button, false);
    }
  });
}

async function act(button, method, path, body) {
  setBusy(button, true);
  try {
    await api(method, path, body);
    toast(t("tools.saved"), "success");
    await loadManager();
  } catch (err) {
    handlePageError(err);
    setBusy(button, false);
  }
}

function certificateRow(c) {
  const parts = [h("div", { class: "need-head" }, h("strong", {}, c.number ?? `#${c.id}`),
    h("span", { class: "badge badge-info" }, t(`tools.cert_state.${c.state}`))),
    h("span", { class: "muted" }, fmtTime(c.requested_at))];
  if (c.state === "requested") {
    const contact = h("input", { maxlength: "100", "aria-label": t("tools.contact"), placeholder: t("tools.contact") });
    const issue = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("tools.issue"));
    issue.addEventListener("click", () => act(issue, "POST", `/api/certificates/${c.id}/issue`, { contact: contact.value || null }));
    parts.push(h("div", { class: "queue-actions" }, contact, issue));
  } else if (c.state === "issued") {
    const revoke = h("button", { type: "button", class: "btn btn-danger btn-small" }, t("tools.revoke"));
    revoke.addEventListener("click", () => {
      const reason = prompt(t("tools.revoke_reason"));
      if (reason) act(revoke, "POST", `/api/certificates/${c.id}/revoke`, { reason });
    });
    parts.push(h("div", { class: "queue-actions" }, revoke));
  }
  return h("li", { class: "need" }, ...parts);
}

function correctionRow(c) {
  const parts = [h("span", {}, c.request), h("span", { class: "muted" }, t(`tools.corr_state.${c.state}`))];
  if (c.state === "open") {
    const answer = h("input", { maxlength: "1000", "aria-label": t("tools.answer"), placeholder: t("tools.answer") });
    const yes = h("button", { type: "button", class: "btn btn-primary btn-small" }, t("tools.accept"));
    const no = h("button", { type: "button", class: "btn btn-secondary btn-small" }, t("tools.decline"));
    yes.addEventListener("click", () => act(yes, "POST", `/api/corrections/${c.id}/answer`, { accepted: true, answer: answer.value }));
    no.addEventListener("click", () => act(no, "POST", `/api/corrections/${c.id}/answer`, { accepted: false, answer: answer.value }));
    parts.push(h("div", { class: "queue-actions" }, answer, yes, no));
  } else if (c.answer) {
    parts.push(h("span", {}, c.answer));
  }
  return h("li", { class: "need" }, ...parts);
}

async function loadManager() {
  if ($("manager").hidden) return;
  const id = $("community").value;
  const [certs, corrections, households, served, reported, settings] = await Promise.all([
    api("GET", `/api/certificates?community_id=${id}`), api("GET", `/api/corrections?community_id=${id}`),
    api("GET", `${base()}/households`), api("GET", `${base()}/units-served`),
    api("GET", `${base()}/unit-reports?state=approved`), api("GET", `${base()}/settings`)]);
  const empty = (key) => [h("li", { class: "muted" }, t(key))];
  $("certificates").replaceChildren(...(certs.items.length ? certs.items.map(certificateRow) : empty("tools.none")));
  $("corrections").replaceChildren(...(corrections.items.length ? corrections.items.map(correctionRow) : empty("tools.none")));
  $("households").replaceChildren(...(households.items.length ? households.items.map((x) => h("li", { class: "need" },
    h("strong", {}, x.name), h("span", { class: "muted" }, x.members.map((m) => `${m.name}（${m.user_id}）`).join("、") || "—")))
    : empty("tools.none")));
  $("hh-pick").replaceChildren(...households.items.map((x) => h("option", { value: x.id }, x.name)));
  $("units-served").replaceChildren(...(served.length ? served.map((u) => h("li", { class: "need-head" },
    h("span", {}, u.name), h("span", {}, t("tools.unit_line", { reported: u.reported, served: u.served }))))
    : empty("tools.none")));
  $("card-person").replaceChildren(...reported.map((r) => h("option", { value: r.user_id }, `${r.user_name} · ${r.unit_name}`)));
  $("expire").checked = settings.points_expire;
}

async function loadMine(me) {
  const communities = [...new Map((me.memberships ?? []).map((m) => [m.community_id, m.kind === "community" ? m.org_name : ""]))];
  $("corr-community").replaceChildren(...communities.map(([id, name]) => h("option", { value: id }, name || `#${id}`)));
  const mine = await api("GET", "/api/corrections");
  $("my-corrections").replaceChildren(...mine.items.map((c) => h("li", { class: "need" }, h("span", {}, c.request),
    h("span", { class: "muted" }, t(`tools.corr_state.${c.state}`)), c.answer ? h("span", {}, c.answer) : null)));
}

onSubmit("household-form", () => api("POST", "/api/households",
  { community_id: Number($("community").value), name: $("hh-name").value.trim() }));
onSubmit("member-form", () => api("POST", `/api/households/${$("hh-pick").value}/members`,
  { user_id: Number($("hh-user").value) }));
onSubmit("card-form", () => api("POST", `${base()}/service-cards`,
  { user_id: Number($("card-person").value), quarter: recentQuarters(1)[0] }));
onSubmit("reverse-form", () => api("POST", `/api/transfers/${$("rev-id").value}/reverse`,
  { reason: $("rev-reason").value.trim() }));
onSubmit("correction-form", async () => {
  await api("POST", "/api/corrections", { community_id: Number($("corr-community").value), request: $("corr-text").value });
  await loadMine(await api("GET", "/api/me"));
});
onSubmit("password-form", () => api("POST", "/api/auth/password",
  { old_password: $("pw-old").value, new_password: $("pw-new").value }));
takesSecrets($("password-form"));
$("expiry-save").addEventListener("click", (event) => act(event.currentTarget, "PATCH", `${base()}/settings`,
  { points_expire: $("expire").checked }));
$("community").addEventListener("change", () => loadManager().catch((e) => handlePageError(e)));

try {
  const me = await api("GET", "/api/me");
  const manages = me.manages ?? [];
  if (manages.length) {
    $("community").replaceChildren(...manages.map((c) => h("option", { value: c.id }, c.name)));
    $("manager").hidden = false;
    await loadManager();
  }
  await loadMine(me);
  $("status").hidden = true;
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}

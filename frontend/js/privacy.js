// My data (PIPL): download everything Linli holds about me, or close my account.
import { api, ApiError, clearErrors, handlePageError, requireLogin, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { h, initPage, setBusy, takesSecrets } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);

$("export").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    const data = await api("GET", "/api/me/export");
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = $("export-link");
    const day = new Date().toISOString().slice(0, 10);
    link.href = URL.createObjectURL(blob);
    link.download = `linli-my-data-${day}.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    toast(t("privacy.exported"), "success");
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
});

$("close-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  if (!$("close-password").value) {
    showError({ message: t("error.required") }, form, "password");
    return;
  }
  if (!$("close-confirm").checked) {
    showError({ message: t("privacy.confirm_needed") }, form, "confirm");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  setBusy(button, true);
  try {
    await api("POST", "/api/me/close", { password: $("close-password").value });
    location.replace("/login.html?closed=1");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && err.code === "unauthenticated") requireLogin();
    else showError(err, form);
    setBusy(button, false);
  }
});
takesSecrets($("close-form"));

// ---- real name: the one page where the person's full ID number is shown -----------------

function showIdentity(identity) {
  const lines = [];
  if (identity.id_number) lines.push(t("privacy.identity_current", { id: identity.id_number }));
  if (identity.volunteer_number) lines.push(t("privacy.volunteer_current", { number: identity.volunteer_number }));
  $("identity-current").textContent = lines.join(" · ");
  $("identity-current").hidden = !lines.length;
  $("identity-volunteer").value = identity.volunteer_number ?? "";
}

let idNotice = null;
async function loadIdNotice() {
  idNotice ??= await api("GET", "/api/privacy/notices/id_number");
  $("id-notice").textContent = idNotice.body;
  return idNotice;
}
document.querySelector("#identity-form details").addEventListener("toggle", () => loadIdNotice().catch(() => {}));

$("identity-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = {};
  const number = $("identity-number").value.trim();
  const volunteer = $("identity-volunteer").value.trim();
  if (volunteer) body.volunteer_number = volunteer;
  if (number) {
    if (!$("identity-consent").checked) {  // its own consent, apart from the privacy notice
      showError({ message: t("privacy.id_consent_needed") }, form, "consent");
      return;
    }
    body.id_number = number;
    body.consent_version = (await loadIdNotice()).version;
  }
  const button = form.querySelector("button[type=submit]");
  setBusy(button, true);
  try {
    showIdentity(await api("PUT", "/api/me/identity", body));
    $("identity-number").value = "";
    $("identity-consent").checked = false;
    toast(t("privacy.identity_saved"), "success");
  } catch (err) {
    showError(err, form, err.details?.field === "consent_version" ? "consent" : err.details?.field);
  } finally {
    setBusy(button, false);
  }
});
takesSecrets($("identity-form"));

function renderRecords(records) {
  const items = [
    ...records.trainings.map((r) => t("privacy.record_training", { title: r.title, day: r.held_on, minutes: r.minutes })),
    ...records.commendations.map((r) => t("privacy.record_commendation", { title: r.title, day: r.awarded_on })),
    ...records.evaluations.map((r) => t("privacy.record_evaluation",
      { stars: r.rating, comment: r.comment, day: r.evaluated_on })),
    ...records.insurance.map((r) => t("privacy.record_insurance",
      { number: r.policy_number, from: r.starts_on, to: r.ends_on })),
  ];
  $("records-list").replaceChildren(...items.map((text) => h("li", {}, text)));
  $("records-empty").hidden = items.length > 0;
}

// Only a logged-in person has data to see: check once, so a stale tab goes to the login page.
api("GET", "/api/me").then(async () => {
  showIdentity(await api("GET", "/api/me/identity"));
  renderRecords(await api("GET", "/api/me/records"));
}).catch((err) => handlePageError(err));

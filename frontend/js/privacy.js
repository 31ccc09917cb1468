// My data (PIPL): download everything Linli holds about me, or close my account.
import { api, ApiError, clearErrors, handlePageError, requireLogin, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { initPage, setBusy } from "./ui.js";

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

// Only a logged-in person has data to see: check once, so a stale tab goes to the login page.
api("GET", "/api/me").catch((err) => handlePageError(err));

// Login and registration. After success, go back to where the visitor came from (same site only).
import { api, ApiError, clearErrors, showError } from "./api.js";
import { t } from "./i18n.js";
import { initPage, setBusy } from "./ui.js";

initPage({ nav: false });

const forms = { login: document.getElementById("login-form"), register: document.getElementById("register-form") };
const tabs = { login: document.getElementById("tab-login"), register: document.getElementById("tab-register") };

/** The `next` query parameter if it is a path on this site, else "/". */
export function safeNext(raw = new URLSearchParams(location.search).get("next")) {
  // "//host" and "/\host" are protocol-relative to browsers: an open redirect in disguise.
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  try {
    const url = new URL(raw, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

function show(mode, { focus = false } = {}) {
  for (const [name, form] of Object.entries(forms)) {
    const active = name === mode;
    form.hidden = !active;
    tabs[name].setAttribute("aria-selected", String(active));
    tabs[name].tabIndex = active ? 0 : -1;
  }
  history.replaceState(null, "", mode === "register" ? "#register" : location.pathname + location.search);
  if (focus) forms[mode].querySelector("input").focus();
}

for (const [name, tab] of Object.entries(tabs)) {
  tab.addEventListener("click", () => show(name));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const other = name === "login" ? "register" : "login";
    show(other);
    tabs[other].focus();
  });
}
for (const button of document.querySelectorAll("[data-switch]")) {
  button.addEventListener("click", () => show(button.dataset.switch, { focus: true }));
}

/** Mark every empty required field; true when all are filled. */
function checkRequired(form) {
  let ok = true;
  for (const input of form.querySelectorAll("[required]")) {
    if (input.value.trim() === "") {
      showError({ message: t("error.required") }, form, input.name);
      ok = false;
    }
  }
  form.querySelector("[aria-invalid='true']")?.focus();
  return ok;
}

async function register(fields) {
  await api("POST", "/api/auth/register", fields);
  // Registration may or may not open a session; log in only if it did not.
  try {
    await api("GET", "/api/me");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
    await api("POST", "/api/auth/login", { phone: fields.phone, password: fields.password });
  }
}

async function submit(event, mode) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  if (!checkRequired(form)) return;
  const data = Object.fromEntries(new FormData(form));
  data.phone = data.phone.replace(/[\s-]/g, ""); // people type "138 0000 0001"
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    if (mode === "login") await api("POST", "/api/auth/login", { phone: data.phone, password: data.password });
    else await register({ phone: data.phone, password: data.password, name: data.name.trim() });
    location.replace(safeNext());
  } catch (err) {
    showError(err, form);
    setBusy(button, false);
  }
}

forms.login.addEventListener("submit", (event) => submit(event, "login"));
forms.register.addEventListener("submit", (event) => submit(event, "register"));
show(location.hash === "#register" ? "register" : "login");

// Login, registration and password reset. Registering (or claiming an invited account) and
// resetting need the 6-digit code sent to the phone. After success, go back to where the visitor
// came from (same site only).
import { api, ApiError, clearErrors, showError } from "./api.js";
import { t } from "./i18n.js";
import { clearPersonalCache, fmtTime, initPage, setBusy } from "./ui.js";

initPage({ nav: false });

const forms = {
  login: document.getElementById("login-form"),
  register: document.getElementById("register-form"),
  reset: document.getElementById("reset-form"),
};
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
    if (!tabs[name]) continue;
    tabs[name].setAttribute("aria-selected", String(active || (name === "login" && mode === "reset")));
    tabs[name].tabIndex = active ? 0 : -1;
  }
  const hash = mode === "login" ? "" : `#${mode}`;
  history.replaceState(null, "", location.pathname + location.search + hash);
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

// ---- SMS codes ---------------------------------------------------------------------------------

const RESEND_SECONDS = 60;

function countdown(button) {
  let left = RESEND_SECONDS;
  button.disabled = true;
  const tick = () => {
    if (left <= 0) {
      button.disabled = false;
      button.textContent = t("login.send_again");
      return;
    }
    button.textContent = t("login.resend_in", { n: left });
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}

async function sendCode(button) {
  const form = button.closest("form");
  const phoneInput = form.querySelector("[name=phone]");
  const note = form.querySelector(".code-note");
  clearErrors(form);
  const phone = phoneInput.value.replace(/[\s-]/g, "");
  if (!phone) {
    showError({ message: t("error.required") }, form, "phone");
    return;
  }
  setBusy(button, true);
  try {
    const sent = await api("POST", "/api/auth/phone-codes", { phone, purpose: button.dataset.purpose });
    note.hidden = false;
    note.textContent = t("login.code_sent", { phone: `${phone.slice(0, 3)}****${phone.slice(-4)}` });
    if (sent.demo_code) {  // `linli serve --demo` only: no real SMS is sent
      note.append(document.createElement("br"), t("login.demo_code", { code: sent.demo_code }));
    }
    setBusy(button, false);
    countdown(button);
    form.querySelector("[name=code]").focus();
  } catch (err) {
    setBusy(button, false);
    showError(err, form, err.details?.field === "purpose" ? null : "phone");
  }
}

for (const button of document.querySelectorAll(".code-send")) {
  button.addEventListener("click", () => sendCode(button));
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
    else if (mode === "reset") {
      await api("POST", "/api/auth/password-reset",
        { phone: data.phone, code: data.code.trim(), new_password: data.new_password });
    } else await register({ phone: data.phone, password: data.password, name: data.name.trim(), code: data.code.trim() });
    await remember();
    location.replace(safeNext());
  } catch (err) {
    showError(err, form);
    setBusy(button, false);
  }
}

// A poster scanned logged out keeps its context (issue 33): the activity shows above the forms, and a
// phone that never logged in here opens on 注册, the step a new resident needs.
const KNOWN_KEY = "linli.has_logged_in";
const scanned = /^\/s\/([A-Za-z0-9]+)$/.exec(safeNext().split(/[?#]/)[0]);

async function showScanContext(code) {
  try {
    const preview = await api("GET", `/api/scans/${encodeURIComponent(code)}`);
    if (!preview?.title) return;
    const d = preview.details ?? {};
    document.getElementById("scan-context-title").textContent = preview.title;
    document.getElementById("scan-context-when").textContent = d.starts_at ? `${fmtTime(d.starts_at)} – ${fmtTime(d.ends_at)}` : "";
    document.getElementById("scan-context-place").textContent = [d.community, d.place].filter(Boolean).join(" · ");
    document.getElementById("scan-context").hidden = false;
  } catch {
    // No card on a flaky network or an unknown code: the forms still work.
  }
}

async function remember() {
  await clearPersonalCache();  // another person's card or vouchers must not open offline for this one
  try {
    localStorage.setItem(KNOWN_KEY, "1");
  } catch {
    // private mode: nothing to remember
  }
}

forms.login.addEventListener("submit", (event) => submit(event, "login"));
forms.register.addEventListener("submit", (event) => submit(event, "register"));
forms.reset.addEventListener("submit", (event) => submit(event, "reset"));
const known = (() => { try { return localStorage.getItem(KNOWN_KEY) === "1"; } catch { return true; } })();
show(["#register", "#reset"].includes(location.hash) ? location.hash.slice(1)
  : scanned && !known ? "register" : "login");
if (scanned) showScanContext(scanned[1]);

// Login, registration and password reset. Registering (or claiming an invited account) and
// resetting need the 6-digit code sent to the phone. After success, go back to where the visitor
// came from (same site only).
import { api, ApiError, clearErrors, showError } from "./api.js";
import { t } from "./i18n.js";
import { clearPersonalCache, fmtTime, initPage, setBusy, takesSecrets } from "./ui.js";

initPage({ nav: false });

const forms = {
  login: document.getElementById("login-form"),
  register: document.getElementById("register-form"),
  reset: document.getElementById("reset-form"),
  wechat: document.getElementById("register-form"),  // the WeChat step is the register form, trimmed
  consent: document.getElementById("consent-form"),
};
const tabList = document.querySelector(".tabs");

// ---- the privacy notice (PIPL): its current version is what a ticked box agrees to ----------------

let notice = null;
async function loadNotice() {
  if (!notice) {
    notice = await api("GET", "/api/privacy/notices/privacy");
    for (const box of document.querySelectorAll("[data-notice=privacy]")) box.textContent = notice.body;
  }
  return notice;
}

/** The notice version the form's box agrees to, or null (and the box marked) when it is not ticked. */
async function ticked(form) {
  const box = form.querySelector("[name=consent]");
  if (!box.checked) {
    showError({ message: t("login.consent_needed") }, form, "consent");
    box.focus();
    return null;
  }
  return (await loadNotice()).version;
}

/** After signing in: a notice version not agreed to yet is asked before going on. */
async function continueAfter(answer) {
  if (answer?.consent_due) {
    await loadNotice();
    show("consent", { focus: true });
    return;
  }
  location.replace(safeNext());
}
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

/** The register form as the WeChat step: no password (WeChat signs in), a name only for a new phone,
 *  its own heading and button; not a tab panel then (the tabs are hidden). */
function wechatStep(on) {
  const form = forms.register;
  document.getElementById("wechat-intro").hidden = !on;
  const password = document.getElementById("register-password");
  document.getElementById("register-password-field").hidden = on;
  password.disabled = on;  // neither required nor sent
  document.getElementById("register-name").required = !on;
  document.getElementById("register-switch").hidden = on;
  for (const [id, key] of [["register-name-label", on ? "login.wechat_name" : "login.name"],
    ["register-submit", on ? "login.wechat_submit" : "login.submit_register"]]) {
    const element = document.getElementById(id);
    element.dataset.i18n = key;
    element.textContent = t(key);
  }
  if (on) {
    form.removeAttribute("role");
    form.setAttribute("aria-labelledby", "wechat-title");
  } else {
    form.setAttribute("role", "tabpanel");
    form.setAttribute("aria-labelledby", "tab-register");
  }
}

let shown = "login";  // the form on the page: "wechat" is the register form as the WeChat step

function show(mode, { focus = false } = {}) {
  shown = mode;
  for (const form of new Set(Object.values(forms))) form.hidden = form !== forms[mode];
  for (const [name, tab] of Object.entries(tabs)) {
    const active = name === mode || (name === "login" && mode === "reset");
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = name === mode ? 0 : -1;
  }
  wechatStep(mode === "wechat");
  tabList.hidden = mode === "wechat" || mode === "consent";
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
  for (const input of form.querySelectorAll("[required]:not(:disabled)")) {
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
  const answer = await api("POST", "/api/auth/register", fields);
  // Registration may or may not open a session; log in only if it did not.
  try {
    await api("GET", "/api/me");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
    return api("POST", "/api/auth/login", { phone: fields.phone, password: fields.password });
  }
  return answer;
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
    let answer;
    if (mode === "login") answer = await api("POST", "/api/auth/login", { phone: data.phone, password: data.password });
    else if (mode === "reset") {
      answer = await api("POST", "/api/auth/password-reset",
        { phone: data.phone, code: data.code.trim(), new_password: data.new_password });
    } else if (mode === "wechat") {
      // A new phone opens an account: its name and consent are needed then (the server says so).
      const body = { phone: data.phone, code: data.code.trim() };
      if (data.name.trim()) body.name = data.name.trim();
      if (form.querySelector("[name=consent]").checked) body.consent = (await loadNotice()).version;
      answer = await api("POST", "/api/auth/wechat/bind", body);
    } else {
      const consent = await ticked(form);
      if (consent === null) {
        setBusy(button, false);
        return;
      }
      answer = await register({ phone: data.phone, password: data.password, name: data.name.trim(),
        code: data.code.trim(), consent });
    }
    await remember();
    await continueAfter(answer);
  } catch (err) {
    showError(err, form);
    setBusy(button, false);
  }
}

// A poster scanned logged out keeps its context: the activity shows above the forms, and a
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
forms.register.addEventListener("submit", (event) => submit(event, shown === "wechat" ? "wechat" : "register"));
forms.reset.addEventListener("submit", (event) => submit(event, "reset"));
takesSecrets(forms.login, forms.register, forms.reset);
forms.consent.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const version = await ticked(form);
  if (version === null) return;
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    await api("POST", "/api/me/consents", { kind: "privacy", version });
    location.replace(safeNext());
  } catch (err) {
    showError(err, form);
    setBusy(button, false);
  }
});
for (const details of document.querySelectorAll("details.notice")) {
  details.addEventListener("toggle", () => loadNotice().catch(() => {}));
}

// WeChat sign-in: offered only when the server is configured for it, and only inside WeChat's
// browser (its user agent says MicroMessenger); elsewhere the page says to open the link in WeChat.
async function offerWeChat() {
  let config;
  try {
    config = await api("GET", "/api/auth/wechat");
  } catch {
    return;
  }
  if (!config.enabled) return;
  const inside = /MicroMessenger/i.test(navigator.userAgent);
  document.getElementById("wechat-area").hidden = false;
  document.getElementById("wechat-login").hidden = !inside;
  document.getElementById("wechat-outside").hidden = inside;
}
document.getElementById("wechat-login").addEventListener("click", () => {
  location.assign("/api/auth/wechat/start");
});

const start = location.hash.slice(1);
const known = (() => { try { return localStorage.getItem(KNOWN_KEY) === "1"; } catch { return true; } })();
if (start === "consent") {  // signed in by WeChat while a new notice version waits for an answer
  loadNotice().then(() => show("consent"), () => show("login"));
} else {
  show(["register", "reset", "wechat"].includes(start) ? start : scanned && !known ? "register" : "login");
}
if (scanned) showScanContext(scanned[1]);
if (!["wechat", "consent"].includes(start)) offerWeChat();

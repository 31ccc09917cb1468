// Shared page pieces: the DOM helper, the header, formatting, and user-visible feedback.
import { applyI18n, getLang, setLang, t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";

// A closed account is named 已注销用户 by the server; shown in the reader's language.
export const CLOSED_NAME = "已注销用户";
export function withClosedNames(text) {
  return typeof text === "string" ? text.replaceAll(CLOSED_NAME, t("account.closed")) : text;
}

function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Build an element: h("a", {href: "/", class: ["btn", active && "on"], onclick: fn}, "text", node).
 * Text children become text nodes, never HTML, so API data is always safe to pass.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = [value].flat().filter(Boolean).join(" ");
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "style") {
      console.warn("h(): style attributes are blocked by the CSP; use a class"); // eslint-disable-line no-console
    } else if ((name === "href" || name === "src") && /^\s*javascript:/i.test(String(value))) {
      continue;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  return appendChildren(el, children);
}

/** An icon from the sprite at /img/icons.svg, decorative (hidden from screen readers). */
export function icon(name, className = "icon", sprite = "/img/icons.svg") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `${sprite}#${name}`);
  svg.append(use);
  return svg;
}

// ---- header -------------------------------------------------------------------------------

const NAV = [
  { href: "/", key: "nav.home", icon: "home" },
  { href: "/scan.html", key: "nav.scan", icon: "scan" },
  { href: "/statement.html", key: "nav.statement", icon: "list" },
  { href: "/messages.html", key: "nav.messages", icon: "bell", badge: true },
];

/** The red count on the 消息 tab: fetched once per page, updated by the messages page. */
export function setUnreadBadge(count) {
  for (const badge of document.querySelectorAll(".nav-badge")) {
    badge.hidden = !count;
    badge.textContent = count > 99 ? "99+" : String(count);
    // Spoken as hidden words after the visible label, not as an aria-label: a voice-control user
    // says the visible "消息" and it still matches (axe label-content-name-mismatch).
    const spoken = badge.closest("a")?.querySelector(".nav-unread");
    if (spoken) spoken.textContent = count ? `，${t("nav.unread", { n: count })}` : "";
  }
}

async function loadUnreadBadge() {
  try {
    const response = await tracked(fetch("/api/me/messages/unread", { credentials: "same-origin",
      headers: { Accept: "application/json" } }));
    if (response.ok) setUnreadBadge((await response.json()).unread);
  } catch {
    // No badge on a flaky network; the messages page itself shows the truth.
  }
}

// ---- the page's "ready" marker ---------------------------------------------------------------
// <html data-ready="1"> once the page's script has started (initPage) and no request it made is
// still on its way, one task after the last answer so its rendering has run. Browser tests wait for
// it instead of network idleness and sleeps. A new request clears it until it settles.
let inFlight = 0;
let started = false;

function settle() {
  setTimeout(() => {
    labelTableCells();
    keepUnitsWithNumbers();
    if (started && inFlight === 0) document.documentElement.dataset.ready = "1";
  }, 0);
}

// A number and its unit never part at a line end ("15 积" / "分" in large text).
const NUMBER_UNIT = /[+-]?\d[\d,.]*\s?(?:积分|分钟|小时|分|人|次|天|件|名|个|h|min|pts|points)/g;

/** Wrap each "number unit" of the page's text in a span that does not wrap (.nowrap, app.css). */
export function keepUnitsWithNumbers(root = document.querySelector("main")) {
  if (!root) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement?.closest(".nowrap, script, style, textarea, input, svg, [contenteditable]")
      || !/\d/.test(node.textContent) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
  for (const node of nodes) {
    const text = node.textContent;
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(NUMBER_UNIT)) {
      if (match.index > last) parts.push(text.slice(last, match.index));
      parts.push(h("span", { class: "nowrap" }, match[0]));
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    if (last < text.length) parts.push(text.slice(last));
    node.replaceWith(...parts);
  }
}

/** Each cell of a table learns its column's name, which phones show when rows stack (app.css). */
export function labelTableCells(root = document) {
  for (const table of root.querySelectorAll(".table-wrap table")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (names[i] && cell.dataset.label !== names[i]) cell.dataset.label = names[i];
      });
    }
  }
}

/** Count a promise (a request) as the page's work until it settles; returns it unchanged. */
export function tracked(promise) {
  inFlight += 1;
  delete document.documentElement.dataset.ready;
  const done = () => {
    inFlight -= 1;
    settle();
  };
  promise.then(done, done);
  return promise;
}

/** A page without initPage (the kiosk screen) says its script has started. */
export function pageStarted() {
  started = true;
  settle();
}

function langSwitch() {
  const current = getLang();
  const label = (lang, text) => h("span", { class: lang === current ? "is-current" : null, lang }, text);
  // No aria-label: the spoken name is the visible "中文 / EN" plus the hidden purpose, so voice
  // control users can say what they see.
  return h(
    "button",
    {
      type: "button",
      class: "lang-switch",
      title: t("lang.switch"),
      onclick: () => setLang(current === "en" ? "zh-CN" : "en"),
    },
    // translate="no": the label is bilingual on purpose, for whoever is stuck in the wrong language.
    h("span", { class: "visually-hidden", translate: "no" }, t("lang.switch"), " "),
    label("zh-CN", "中文"),
    h("span", { class: "sep" }, "/"),
    label("en", "EN"),
  );
}

// Large text (大字模式) for older eyes: a class on <html> that raises the root font size, which every
// rem-sized text and space follows. Remembered on this device, and set before the header is drawn.
const LARGE_TEXT_KEY = "linli.large_text";

function storedLargeText() {
  try {
    return localStorage.getItem(LARGE_TEXT_KEY) === "on";
  } catch {
    return false; // storage can be blocked: the switch still works for this page
  }
}

document.documentElement.classList.toggle("large-text", storedLargeText());

function largeTextSwitch() {
  return h("button", {
    type: "button",
    class: "text-size-switch",
    "aria-pressed": String(document.documentElement.classList.contains("large-text")),
    onclick: (event) => {
      const on = !document.documentElement.classList.contains("large-text");
      document.documentElement.classList.toggle("large-text", on);
      event.currentTarget.setAttribute("aria-pressed", String(on));
      try {
        localStorage.setItem(LARGE_TEXT_KEY, on ? "on" : "off");
      } catch {
        // not remembered, but this page is readable now
      }
    },
  }, t("a11y.large_text"));
}

/** Render the shared header into <header id="app-header">. `nav: false` for pages before login. */
export function renderHeader({ nav = true } = {}) {
  const header = document.getElementById("app-header");
  if (!header) return;
  const here = location.pathname === "/index.html" ? "/" : location.pathname;
  const links = NAV.map((item) =>
    h("a", { href: item.href, "aria-current": item.href === here ? "page" : null },
      h("span", { class: "nav-icon" }, icon(item.icon),
        item.badge ? h("span", { class: "nav-badge", hidden: true, "aria-hidden": "true" }) : null),
      h("span", {}, t(item.key)),
      item.badge ? h("span", { class: "visually-hidden nav-unread" }) : null),
  );
  header.className = "app-header";
  document.body.classList.toggle("has-nav", nav); // phones reserve room for the bottom tab bar
  header.replaceChildren(
    h("div", { class: "header-bar container" },
      h("a", { class: "brand", href: "/" },
        h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }),
        h("span", { class: "brand-name", lang: "zh-CN" }, "邻里"),
        h("span", { class: "brand-latin", lang: "en" }, "Linli")),
      nav ? h("nav", { class: "main-nav", "aria-label": t("nav.main") }, links) : null,
      largeTextSwitch(),
      langSwitch()),
  );
  if (nav) loadUnreadBadge();
}

/** Every page starts with this: translate the static markup and draw the header. */
export function initPage(options = {}) {
  applyI18n(document);
  renderHeader(options);
  registerServiceWorker();
  pageStarted();
}

// ---- offline: the service worker (frontend/sw.js) -----------------------------------------------

function registerServiceWorker() {
  // Browsers offer it on https and on localhost only; plain-http LAN installs simply go without.
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

/** Forget the personal pages kept for offline use (card, vouchers, balances): at logout and login. */
export async function clearPersonalCache() {
  try {
    for (const name of await caches.keys()) if (name.startsWith("linli-personal-")) await caches.delete(name);
  } catch {
    // no Cache API (plain http): nothing was kept
  }
}

// ---- formatting ---------------------------------------------------------------------------

function numberFormat(options = {}) {
  return new Intl.NumberFormat(getLang(), options);
}

/** 1234 → "1,234"; with signed: true, 5 → "+5" and -5 → "-5". */
export function fmtPoints(n, { signed = false } = {}) {
  return numberFormat(signed ? { signDisplay: "exceptZero" } : {}).format(n);
}

/** Minutes as hours with one decimal, number only: 90 → "1.5". */
export function hoursNumber(minutes) {
  return numberFormat({ minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(minutes / 60);
}

/** A duration, the one way every page writes it: 1728 → "28小时48分", 3 → "3分钟"
 * (domain/notify/rules.duration writes messages the same way). */
export function fmtHours(minutes) {
  return fmtMinutes(minutes);
}

/** Exact duration: 45 → "45分钟", 90 → "1小时30分", signed adds "+". */
export function fmtMinutes(minutes, { signed = false } = {}) {
  const sign = minutes < 0 ? "-" : signed && minutes > 0 ? "+" : "";
  const abs = Math.abs(minutes);
  const hours = Math.floor(abs / 60);
  const rest = abs % 60;
  let text;
  if (hours === 0) text = t("unit.minutes", { n: rest });
  else if (rest === 0) text = t("unit.hours", { n: hours });
  else text = t("unit.hours_minutes", { h: hours, m: rest });
  return sign + text;
}

/** A code people may type, as printed: upper case in groups of four, where l and 1, O and
 * 0 are told apart ("2LSF QXA7 …"); the server accepts look-alikes typed for each other. */
export function displayCode(code) {
  const upper = String(code ?? "").toUpperCase();
  return (upper.match(/.{1,4}/g) ?? [upper]).join(" ");
}

/** An ISO time in the reader's language; the year is left out when it is this year. */
export function fmtTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (date.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(getLang(), options).format(date);
}

// ---- feedback -----------------------------------------------------------------------------

function toastRegion() {
  let region = document.getElementById("toast-region");
  if (!region) {
    region = h("div", { id: "toast-region", class: "toast-region", "aria-live": "polite" });
    document.body.append(region);
  }
  return region;
}

/** A short message at the bottom of the screen. kind: "info" | "success" | "error". */
export function toast(message, kind = "info") {
  const item = h("div", { class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : "status" },
    message);
  toastRegion().append(item);
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
}

function fieldOf(formEl, name) {
  const found = formEl.elements.namedItem(name);
  const el = found instanceof RadioNodeList ? found[0] : found;
  return el instanceof HTMLElement && el.matches("input, select, textarea") ? el : null;
}

function markInvalid(input, message) {
  const id = `${input.id || input.name}-error`;
  const holder = input.closest(".field") ?? input.parentElement;
  let note = document.getElementById(id);
  if (!note) {
    note = h("p", { id, class: "field-error" });
    holder.append(note);
  }
  note.textContent = message;
  input.setAttribute("aria-invalid", "true");
  const described = (input.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean);
  if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));
  // The mark goes as soon as the person edits the field.
  input.addEventListener("input", () => clearFieldError(input, id), { once: true });
}

function clearFieldError(input, id) {
  input.removeAttribute("aria-invalid");
  document.getElementById(id)?.remove();
  const rest = (input.getAttribute("aria-describedby") ?? "").split(" ").filter((x) => x && x !== id);
  if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
  else input.removeAttribute("aria-describedby");
}

/** Remove every error mark that showError put on a form. */
export function clearErrors(formEl) {
  for (const input of formEl.querySelectorAll("[aria-invalid='true']")) {
    clearFieldError(input, `${input.id || input.name}-error`);
  }
  formEl.querySelector(".form-error")?.remove();
}

/**
 * Show an error readably: next to the named field when the server names one of this form's
 * fields (details.field), else at the top of the form, else as a toast.
 */
export function showError(err, formEl = null, field = err?.details?.field) {
  const message = err?.message || t("error.generic");
  const input = formEl && field ? fieldOf(formEl, field) : null;
  if (input) {
    markInvalid(input, message);
    input.focus();
  } else if (formEl) {
    formEl.querySelector(".form-error")?.remove();
    formEl.prepend(h("p", { class: "form-error", role: "alert" }, message));
  } else {
    toast(message, "error");
  }
}

/**
 * A form with a secret (a password, a national ID number) comes with its submit button disabled (in
 * the HTML): tapped before the page's script had taken the form, the browser would submit it itself, as
 * a GET with the secret in the address (history, proxies, logs). The page calls this once its submit
 * handlers are attached.
 */
export function takesSecrets(...forms) {
  for (const form of forms) form.querySelector("[type=submit]").disabled = false;
}

/** Disable a button while its request runs, so a double tap cannot submit twice. */
export function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
}

// Message catalogues and the current language. Both catalogues are tiny, so both load up front.
import zh from "../i18n/zh-CN.js";
import en from "../i18n/en.js";

const CATALOGUES = { "zh-CN": zh, en };
const STORAGE_KEY = "linli.lang";
export const LANGS = Object.keys(CATALOGUES);

function storedLang() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage can be blocked (private mode, strict settings)
  }
}

export function getLang() {
  const lang = storedLang();
  return LANGS.includes(lang) ? lang : "zh-CN";
}

/** Translate `key`, replacing `{name}` placeholders from `vars`. Falls back to Chinese, then the key. */
export function t(key, vars = {}) {
  const text = CATALOGUES[getLang()][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translate if the catalogue knows the key, else return `fallback` (for codes the server may extend). */
export function tOr(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Without storage the switch cannot persist; reloading would just undo it.
    return;
  }
  location.reload();
}

/** Fill `data-i18n` (text), `data-i18n-placeholder` and `data-i18n-aria-label` under `root`. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
}

document.documentElement.lang = getLang();

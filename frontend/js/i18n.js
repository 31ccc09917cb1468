// Message catalogues and the current language. Only the active catalogue is loaded: each is
// tens of kilobytes and a phone on a slow network should not fetch both (switching reloads the page).
const CATALOGUES = { "zh-CN": "../i18n/zh-CN.js", en: "../i18n/en.js" };
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

const messages = (await import(CATALOGUES[getLang()])).default;

/** Translate `key`, replacing `{name}` placeholders from `vars`; an unknown key shows as itself. */
export function t(key, vars = {}) {
  const text = messages[key] ?? key;
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

// Message catalogues and the current language. A page loads only the messages it shows, in the
// active language only (a phone on a slow network should not fetch all of them; switching reloads):
// - a key's first segment names its file: scan.done is in i18n/<lang>/scan.js; the page shell's
//   keys (nav.*, common.*, error.*, title.*, …) are in i18n/<lang>/common.js, which every page loads;
// - a page names the other files it needs on its root element: <html lang="zh-CN" data-messages="scan camera">.
// tests/app/test_catalogues.py checks that every key a page's HTML and scripts use is in what it loads.
const STORAGE_KEY = "linli.lang";
export const LANGS = ["zh-CN", "en"];

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

const files = ["common", ...(document.documentElement.dataset.messages ?? "").split(/\s+/).filter(Boolean)];
const messages = Object.assign(Object.create(null), ...(await Promise.all(
  files.map((file) => import(`../i18n/${getLang()}/${file}.js`)))).map((m) => m.default));

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translate `key`, replacing `{name}` placeholders from `vars`; a key the page did not load shows as
 * itself and is reported on the console (the browser tests fail on console errors). */
export function t(key, vars = {}) {
  if (key in messages) return fill(messages[key], vars);
  console.error(`i18n: "${key}" is not in this page's messages (data-messages: ${files.join(" ")})`);
  return key;
}

/** Translate if the catalogue knows the key, else return `fallback` (for codes the server may extend). */
export function tOr(key, fallback) {
  return key in messages ? fill(messages[key], {}) : fallback;
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

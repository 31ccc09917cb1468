// The one way pages talk to the JSON API: cookies, CSRF, language, idempotency, errors.
import { getLang, t } from "./i18n.js";
import { h, toast, tracked } from "./ui.js";

// Re-exported so a page can take everything about requests and their errors from one module.
export { toast, showError, clearErrors } from "./ui.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const DEFAULT_TIMEOUT_MS = 30000; // phones on a weak signal: give up and say so rather than hang

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key !== name) continue;
    try {
      return decodeURIComponent(value.join("="));
    } catch {
      return value.join("="); // not percent-encoded after all
    }
  }
  return null;
}

function networkError(status = 0) {
  return new ApiError(status, "network", t("error.network"));
}

/** A fresh key for a value-moving POST; reuse the same key when retrying the same action. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; plain-http LAN deployments still get a random key.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * api("POST", "/api/redemptions", {reward_id: 1}, {idempotencyKey}) → parsed JSON (null for 204).
 * A FormData body is sent as multipart. `raw: true` returns the Response itself (e.g. for CSV).
 * Throws ApiError(status, code, message, details); message is already human and translated.
 */
export function api(method, path, body, options = {}) {
  if (method.toUpperCase() === "GET" && "serviceWorker" in navigator && !navigator.serviceWorker.controller
    && KEPT_OFFLINE.some((p) => p.test(path.split("?")[0]))) {
    beforeWorker.add(path);
  }
  return tracked(request(method, path, body, options)); // the page is not ready while it waits
}

// The first visit's answers were fetched before the service worker (frontend/sw.js) took the page:
// fetched once more through it, so the page has them when it is next opened offline. Only
// the answers the worker keeps (its PERSONAL list, the same patterns: tests/app/test_service_worker.py):
// some reads are audited acts (a manager viewing a full phone), never to be repeated behind anyone's back.
const KEPT_OFFLINE = [
  /^\/api\/me$/, /^\/api\/me\/card$/, /^\/api\/me\/balances$/, /^\/api\/activities\/\d+$/, /^\/api\/activities$/,
  /^\/api\/redemptions$/, /^\/api\/redemptions\/counts$/, /^\/api\/redemptions\/\d+\/voucher$/,
];
const beforeWorker = new Set();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    for (const path of beforeWorker) {
      tracked(fetch(path, { credentials: "same-origin", headers: { Accept: "application/json", "Accept-Language": getLang() } }))
        .catch(() => {});
    }
    beforeWorker.clear();
  });
}

async function request(method, path, body, { idempotencyKey, headers = {}, raw = false,
  timeout = DEFAULT_TIMEOUT_MS } = {}) {
  method = method.toUpperCase();
  const sent = { Accept: "application/json", "Accept-Language": getLang(), ...headers };
  let payload;
  if (body instanceof FormData || body instanceof Blob) {
    payload = body; // multipart: the browser sets the boundary; a file: its type or the caller's header
  } else if (body !== undefined) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method)) {
    const csrf = cookie("linli_csrf");
    if (csrf) sent["X-CSRF-Token"] = csrf;
  }
  if (idempotencyKey) sent["Idempotency-Key"] = idempotencyKey;

  // AbortController rather than AbortSignal.timeout(): older phones' browsers lack the latter.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  try {
    response = await fetch(path, {
      method, headers: sent, body: payload, credentials: "same-origin", signal: controller.signal,
    });
  } catch {
    throw networkError();
  } finally {
    clearTimeout(timer);
  }

  if (response.ok && raw) return response;
  if (response.status === 204) return null;
  let data;
  try {
    data = await response.json();
  } catch {
    throw networkError(response.status); // a proxy's HTML error page, a cut connection…
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? "internal", data?.message || t("error.generic"),
      data?.details);
  }
  return data;
}

/** Send the visitor to log in, coming back to this exact page afterwards. */
export function requireLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login.html?next=${encodeURIComponent(next)}`);
}

/**
 * For a page's first load: 401 → log in and come back. Otherwise show the message in `where`
 * (with a retry button when `retry` is given), or as a toast when there is no `where`.
 */
export function handlePageError(err, where = null, retry = null) {
  if (err instanceof ApiError && err.status === 401) {
    requireLogin();
    return;
  }
  const message = err?.message || t("error.generic");
  if (!where) {
    toast(message, "error");
    return;
  }
  where.hidden = false;
  // replaceChildren writes a null child as the text "null": add the retry button only when there is one.
  where.replaceChildren(h("p", { role: "alert" }, message),
    ...(retry ? [h("button", { type: "button", class: "btn btn-secondary", onclick: retry }, t("common.retry"))] : []));
}

// The service worker: after one visit, the scan (/s/<code>), station, card and
// voucher pages open with no network, and their scans queue as they do when the network drops later.
//
// The server fills in VERSION (a hash of every file of the app shell) and SHELL when it serves this
// file (api/app.py service_worker): a release that changes any script changes this file, the browser
// installs the new worker, and its activation deletes the caches of the old version.
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const SHELL_CACHE = `linli-shell-${VERSION}`;
// Personal answers (my card, my vouchers, my balance) kept for offline pages; cleared at logout
// (ui.js clearPersonalCache) and by every new version. api.js KEPT_OFFLINE lists the same patterns.
const PERSONAL_CACHE = `linli-personal-${VERSION}`;
const PERSONAL = [
  /^\/api\/me$/, /^\/api\/me\/card$/, /^\/api\/me\/balances$/, /^\/api\/activities\/\d+$/, /^\/api\/activities$/,
  /^\/api\/redemptions$/, /^\/api\/redemptions\/counts$/, /^\/api\/redemptions\/\d+\/voucher$/,
];
// Addresses served by one page of the shell.
const PAGE_OF = [[/^\/s\//, "/scan.html"], [/^\/j\//, "/join.html"], [/^\/v\//, "/verify.html"], [/^\/kiosk\//, "/kiosk.html"],
  [/^\/$/, "/index.html"]];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(SHELL);
    await self.skipWaiting();  // the new version serves the next page opened
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keep = new Set([SHELL_CACHE, PERSONAL_CACHE]);
    for (const name of await caches.keys()) {
      if (name.startsWith("linli-") && !keep.has(name)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function shellPath(path) {
  for (const [pattern, page] of PAGE_OF) if (pattern.test(path)) return page;
  return path;
}

async function networkFirst(request, cacheName) {
  try {
    const response = await fetch(request);
    if (response.ok) (await caches.open(cacheName)).put(request, response.clone());
    return response;
  } catch (error) {
    // Any query of the same address will do offline (the station's list asks for "the next 12 hours").
    const cached = await caches.match(request, { cacheName }) ?? await caches.match(request, { cacheName, ignoreSearch: true, ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) {
    // Only the answers an offline page needs, network first; everything else goes to the network.
    if (PERSONAL.some((p) => p.test(url.pathname))) event.respondWith(networkFirst(request, PERSONAL_CACHE));
    return;
  }
  if (request.mode === "navigate") {
    // Pages: the network first (fresh words and data), the cached shell page when there is none.
    event.respondWith((async () => {
      try {
        return await fetch(request);
      } catch (error) {
        const cached = await caches.match(shellPath(url.pathname), { ignoreSearch: true });
        if (cached) return cached;
        throw error;
      }
    })());
    return;
  }
  // Scripts, styles, catalogues, pictures of this version: from the cache, else the network.
  event.respondWith((async () => (await caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true }))
    ?? fetch(request))());
});

self.addEventListener("message", (event) => {
  if (event.data === "logout") event.waitUntil(caches.delete(PERSONAL_CACHE));
});

// Scans that could not be sent (no network) wait in IndexedDB with their nonce and the device's scan
// time, and are sent when the network returns. The server counts each at its scan time,
// within bounds, and de-duplicates by nonce: sending the same item twice (a retry, a second tab) never
// credits twice. Used by the station (member cards) and the scan page (activity codes).
import { api } from "./api.js";

const DB = "linli-scans";
const STORE = "queue";
const RETRY_MS = 15000;

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "nonce" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result?.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Keep a scan for later: { nonce, path, body (with scanned_at), label, scope } */
export function enqueue(item) {
  return run("readwrite", (store) => store.put({ ...item, queued_at: new Date().toISOString() }));
}

/** Every waiting scan, oldest first; `scope` filters (e.g. "station" or "scan"). */
export async function pending(scope) {
  const items = (await run("readonly", (store) => store.getAll())) ?? [];
  return items.filter((i) => !scope || i.scope === scope)
    .sort((a, b) => a.body.scanned_at.localeCompare(b.body.scanned_at));
}

function remove(nonce) {
  return run("readwrite", (store) => store.delete(nonce));
}

let flushing = null;

/**
 * Send the waiting scans of `scope`, in scan order. onResult(item, result|null, error|null) for each
 * one the server answered (kept out of the queue from then on, refused or not); stops at the first
 * network failure (the rest stay for the next try). Two calls at once share one run.
 */
export function flush(scope, onResult) {
  flushing ??= (async () => {
    try {
      for (const item of await pending(scope)) {
        let result = null;
        let error = null;
        try {
          result = await api("POST", item.path, item.body);
        } catch (err) {
          if (err.code === "network" || err.status >= 500 || err.status === 429) return; // try again later
          error = err;
        }
        await remove(item.nonce);
        onResult?.(item, result, error);
      }
    } finally {
      flushing = null;
    }
  })();
  return flushing;
}

/** Flush whenever the network comes back, and every RETRY_MS while items wait; onChange after each run. */
export function keepFlushing(scope, onResult, onChange) {
  const go = () => flush(scope, onResult).catch(() => {}).finally(() => onChange?.());
  window.addEventListener("online", go);
  setInterval(() => {
    if (navigator.onLine !== false) go();
  }, RETRY_MS);
  go();
  return go;
}

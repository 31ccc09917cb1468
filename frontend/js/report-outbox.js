// Courier reports not yet accepted by the server, kept on the phone (IndexedDB, with the compressed
// photo as a Blob) so a dead signal or a closed tab loses nothing. Each keeps the idempotency key
// it was first sent with: a retry whose first attempt did reach the server files nothing twice.
// Where IndexedDB is unavailable (some private modes) localStorage holds them, photo as a data URL.

const DB_NAME = "linli-reports";
const STORE = "outbox";
const FALLBACK_KEY = "linli.report-outbox";

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve) => {
      if (!("indexedDB" in window)) {
        resolve(null);
        return;
      }
      let request;
      try {
        request = indexedDB.open(DB_NAME, 1);
      } catch {
        resolve(null);
        return;
      }
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
      request.onblocked = () => resolve(null);
    });
  }
  return dbPromise;
}

function run(db, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

// ---- localStorage fallback ----------------------------------------------------------------

function readFallback() {
  try {
    return JSON.parse(localStorage.getItem(FALLBACK_KEY) || "[]");
  } catch {
    return [];
  }
}

function writeFallback(items) {
  localStorage.setItem(FALLBACK_KEY, JSON.stringify(items));
}

function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function dataUrlToBlob(url) {
  return (await fetch(url)).blob();
}

// ---- the outbox -----------------------------------------------------------------------------

/** Every unsent report, oldest first. */
export async function listOutbox() {
  const db = await openDb();
  if (db) {
    const items = await run(db, "readonly", (store) => store.getAll());
    return items.sort((a, b) => a.createdAt - b.createdAt);
  }
  const items = readFallback();
  for (const item of items) item.photo = item.photo ? await dataUrlToBlob(item.photo) : null;
  return items.sort((a, b) => a.createdAt - b.createdAt);
}

/** Add or update an unsent report (by its key). */
export async function saveOutbox(item) {
  const db = await openDb();
  if (db) {
    await run(db, "readwrite", (store) => store.put(item));
    return;
  }
  const stored = { ...item, photo: item.photo ? await blobToDataUrl(item.photo) : null };
  writeFallback([...readFallback().filter((x) => x.key !== item.key), stored]);
}

export async function removeOutbox(key) {
  const db = await openDb();
  if (db) {
    await run(db, "readwrite", (store) => store.delete(key));
    return;
  }
  writeFallback(readFallback().filter((x) => x.key !== key));
}

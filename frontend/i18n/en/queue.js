// The queue.* messages: English.
// ../zh-CN/queue.js has the same keys (tests/app/test_catalogues.py).
export default {
  "queue.pending": "{n} waiting to upload",
  "queue.saved": "No network: saved, uploads when back online",
  "queue.saved_scan": "No network: this scan is saved on your phone and uploads by itself when you are back online (counted at the time you scanned), never twice.",
  "queue.scanned_offline": "scanned offline",
  "queue.uploaded": "Uploaded",
};

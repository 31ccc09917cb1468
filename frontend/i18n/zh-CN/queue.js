// The queue.* messages: Simplified Chinese, the default language.
// ../en/queue.js has the same keys (tests/app/test_catalogues.py).
export default {
  "queue.pending": "{n} 条待上传",
  "queue.saved": "网络不通，已保存，联网后自动上传",
  "queue.saved_scan": "网络不通：这次扫码已保存在手机上，联网后会自动上传（按扫码时间计算），不会重复计入。",
  "queue.scanned_offline": "离线扫码",
  "queue.uploaded": "已上传",
};

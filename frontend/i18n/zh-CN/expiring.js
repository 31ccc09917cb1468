// The expiring.* messages: Simplified Chinese, the default language.
// ../en/expiring.js has the same keys (tests/app/test_catalogues.py).
export default {
  "expiring.title": "即将到期的积分",
  "expiring.text": "{points} 分将于 {date} 到期，请尽快使用。",
  "expiring.detail": "{community}：{year}年获得的 {points} 分",
};

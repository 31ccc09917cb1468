// The expiring.* messages: English.
// ../zh-CN/expiring.js has the same keys (tests/app/test_catalogues.py).
export default {
  "expiring.title": "Points expiring soon",
  "expiring.text": "{points} points expire on {date}; use them before then.",
  "expiring.detail": "{community}: {points} points earned in {year}",
};

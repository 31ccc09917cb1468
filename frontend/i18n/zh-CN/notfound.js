// The notfound.* messages: Simplified Chinese, the default language.
// ../en/notfound.js has the same keys (tests/app/test_catalogues.py).
export default {
  "notfound.title": "页面不存在",

  "notfound.text": "您要找的页面不存在，或者已经搬走了。",
};

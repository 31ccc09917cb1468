// The notfound.* messages: English.
// ../zh-CN/notfound.js has the same keys (tests/app/test_catalogues.py).
export default {
  "notfound.title": "Page not found",
  "notfound.text": "The page you are looking for does not exist or has moved.",
};

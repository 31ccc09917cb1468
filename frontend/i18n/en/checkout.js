// The checkout.* messages: English.
// ../zh-CN/checkout.js has the same keys (tests/app/test_catalogues.py).
export default {
  "checkout.question": "Check out now? {n} minutes served",
  "checkout.note": "Checking out banks this service time; not finished yet? Tap Cancel.",
  "checkout.confirm": "Check out",
  "checkout.cancel": "Cancel",
  "checkout.kept": "OK, you are still checked in. Scan again when you leave.",
};

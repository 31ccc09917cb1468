// The kiosk.* messages: English.
// ../zh-CN/kiosk.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kiosk.instructions": "Scan with your phone camera to check in; scan again at the end to check out",
  "kiosk.inside": "Inside now",
  "kiosk.qr_alt": "Check-in QR code for {title}",
  "kiosk.rotates": "The code changes every {n} seconds; screenshots do not work",
  "kiosk.draft": "The activity is not published yet; check-in is closed",
  "kiosk.closed": "The activity has ended",
  "kiosk.reconnecting": "Connection lost, reconnecting…",
  "kiosk.not_allowed": "Open the screen with a manager account of this activity's community",
  "kiosk.fullscreen": "Full screen",
};

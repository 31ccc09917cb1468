// The kiosks.* messages: English.
// ../zh-CN/kiosks.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kiosks.title": "Venue screens",
  "kiosks.pair": "Pair a new screen",
  "kiosks.hint": "No manager login needed: open the pairing page on the screen and type the pairing code to show this activity's live code.",
  "kiosks.open_on_screen": "On the screen's browser, open this address and type the code:",
  "kiosks.valid_until": "Works once, until {time}",
  "kiosks.device": "Screen #{id}",
  "kiosks.state_waiting": "Waiting",
  "kiosks.state_expired": "Code expired",
  "kiosks.state_paired": "Paired",
  "kiosks.state_revoked": "Revoked",
  "kiosks.revoke": "Revoke",
  "kiosks.revoked": "Revoked: that screen shows no code any more",
  "kiosks.pair_title": "Pair this screen",
  "kiosks.pair_hint": "Ask a community manager to tap “Pair a new screen” on the activity page, and type the 8-digit code here.",
  "kiosks.pair_code": "Pairing code",
  "kiosks.pair_submit": "Pair",
  "kiosks.manager_login": "Manager login",
  "kiosks.pair_wrong": "Wrong or expired code; ask the manager for a new one",
  "kiosks.revoked_here": "This screen's pairing was revoked; pair it again",
};

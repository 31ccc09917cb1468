// The privacy.* messages: English.
// ../zh-CN/privacy.js has the same keys (tests/app/test_catalogues.py).
export default {
  "privacy.title": "My data",
  "privacy.intro": "Linli keeps only what community volunteering needs. You can download all your data, or close your account, at any time.",
  "privacy.export_title": "Download my data",
  "privacy.export_text": "Your profile, communities, points and time statements, check-ins, redemptions, services and reports, and what managers did to your account. The file is JSON.",
  "privacy.export_button": "Download",
  "privacy.exported": "Downloaded",
  "privacy.close_title": "Close my account",
  "privacy.close_text": "Closing deletes your phone number, name and password; you can no longer log in and your member card stops working. The points and time movements stay so the books still add up, but without your name. This cannot be undone.",
  "privacy.close_roles": "Managers and admins must first have an admin remove their role.",
  "privacy.password": "Your password, to confirm",
  "privacy.close_confirm": "I understand this cannot be undone",
  "privacy.confirm_needed": "Please tick the box first",
  "privacy.close_button": "Close my account",
};

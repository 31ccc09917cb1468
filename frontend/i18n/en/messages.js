// The messages.* messages: English.
// ../zh-CN/messages.js has the same keys (tests/app/test_catalogues.py).
export default {
  "messages.title": "Messages",
  "messages.empty": "No messages yet. Decisions, points received and reminders appear here.",
  "messages.read_all": "Mark all as read",
  "messages.unread": "Unread",
  "messages.settings": "How to reach you",
  "messages.settings_hint": "Every message appears here. You can also choose to get a text message or WeChat message.",
  "messages.quiet_hours": "No text messages between 9 pm and 8 am; those are sent after 8 am.",
  "messages.channel.sms": "Text message",
  "messages.channel.wechat": "WeChat",
  "messages.wechat_unbound": "WeChat messages need you to open Linli in WeChat and log in with WeChat once.",
  "messages.saved": "Saved",
};

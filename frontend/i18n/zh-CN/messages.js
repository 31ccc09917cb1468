// The messages.* messages: Simplified Chinese, the default language.
// ../en/messages.js has the same keys (tests/app/test_catalogues.py).
export default {
  "messages.title": "消息",
  "messages.empty": "暂时没有消息。审核结果、积分到账和提醒都会出现在这里。",
  "messages.read_all": "全部标为已读",
  "messages.unread": "未读",
  "messages.settings": "接收方式",
  "messages.settings_hint": "所有消息都会出现在这里。您还可以选择同时用短信或微信通知您。",
  "messages.quiet_hours": "晚上 9 点到早上 8 点不发短信，这段时间的短信会在早上 8 点后送达。",
  "messages.channel.sms": "短信",
  "messages.channel.wechat": "微信",
  "messages.wechat_unbound": "微信通知需要您先在微信中打开邻里，用“微信登录”登录一次。",
  "messages.saved": "已保存",
};

// The privacy.* messages: Simplified Chinese, the default language.
// ../en/privacy.js has the same keys (tests/app/test_catalogues.py).
export default {
  "privacy.title": "我的数据",
  "privacy.intro": "邻里只保存开展社区志愿服务所需的信息。您可以随时下载自己的全部数据，或注销账号。",
  "privacy.export_title": "下载我的数据",
  "privacy.export_text": "包括个人资料、所在社区、积分和时间明细、签到、兑换、服务和上报记录，以及管理员对您账号的操作记录。文件为 JSON 格式。",
  "privacy.export_button": "下载",
  "privacy.exported": "已下载",
  "privacy.close_title": "注销账号",
  "privacy.close_text": "注销后，您的手机号、姓名和密码会被删除，无法再登录，会员码作废。为保证账目可核对，积分和时间的流水会保留，但不再显示您的姓名。此操作无法撤销。",
  "privacy.close_roles": "社区管理员和系统管理员需先请管理员解除职务，才能注销。",
  "privacy.password": "输入密码确认",
  "privacy.close_confirm": "我已了解注销后无法恢复",
  "privacy.confirm_needed": "请先勾选确认",
  "privacy.close_button": "注销我的账号",
};

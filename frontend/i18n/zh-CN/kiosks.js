// The kiosks.* messages: Simplified Chinese, the default language.
// ../en/kiosks.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kiosks.title": "签到大屏",
  "kiosks.pair": "配对新大屏",
  "kiosks.hint": "无需登录管理员账号：在大屏上打开配对页面，输入配对码即可显示本活动的动态二维码。",
  "kiosks.open_on_screen": "在大屏的浏览器中打开下面的地址，输入配对码：",
  "kiosks.valid_until": "配对码一次有效，{time} 前使用",
  "kiosks.device": "大屏 #{id}",
  "kiosks.state_waiting": "等待配对",
  "kiosks.state_expired": "配对码已过期",
  "kiosks.state_paired": "已配对",
  "kiosks.state_revoked": "已撤销",
  "kiosks.revoke": "撤销",
  "kiosks.revoked": "已撤销，该大屏不再显示二维码",
  "kiosks.pair_title": "配对签到大屏",
  "kiosks.pair_hint": "请社区管理员在活动页面点“配对新大屏”，把显示的 8 位配对码输入这里。",
  "kiosks.pair_code": "配对码",
  "kiosks.pair_submit": "配对",
  "kiosks.manager_login": "管理员登录",
  "kiosks.pair_wrong": "配对码不正确或已过期，请让管理员重新生成",
  "kiosks.revoked_here": "这块大屏的配对已被撤销，请重新配对",
};

// The card.* messages: Simplified Chinese, the default language.
// ../en/card.js has the same keys (tests/app/test_catalogues.py).
export default {
  "card.title": "我的会员码",
  "card.subtitle": "邻里志愿服务会员码",
  "card.how": "在活动签到台出示此码，工作人员扫码为您签到、签退；没有智能手机的邻居可以打印出来使用。",
  "card.print": "打印会员码",
  "card.reissue": "重新生成（旧码作废）",
  "card.reissue_confirm": "重新生成后，旧的会员码（包括打印的）将不能再使用。确定吗？",
  "card.reissued": "已生成新的会员码",
  "card.qr_alt": "我的会员二维码",
};

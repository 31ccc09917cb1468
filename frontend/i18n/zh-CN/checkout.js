// The checkout.* messages: Simplified Chinese, the default language.
// ../en/checkout.js has the same keys (tests/app/test_catalogues.py).
export default {
  "checkout.question": "现在签退吗？已服务 {n} 分钟",
  "checkout.note": "签退后本次服务时长存入时间银行；还没结束请点“取消”。",
  "checkout.confirm": "签退",
  "checkout.cancel": "取消",
  "checkout.kept": "好的，仍在签到中。活动结束离开时再扫一次签退。",
};

// The confirm.* messages: Simplified Chinese, the default language.
// ../en/confirm.js has the same keys (tests/app/test_catalogues.py).
export default {
  "confirm.adjust": "将给 {name} {change} {amount} {unit}。确定吗？",
  "confirm.add": "增加",
  "confirm.remove": "扣除",
  "confirm.points": "积分",
  "confirm.minutes": "分钟",
};

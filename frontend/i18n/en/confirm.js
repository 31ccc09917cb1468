// The confirm.* messages: English.
// ../zh-CN/confirm.js has the same keys (tests/app/test_catalogues.py).
export default {
  "confirm.adjust": "This will {change} {amount} {unit} for {name}. Go ahead?",
  "confirm.add": "add",
  "confirm.remove": "take away",
  "confirm.points": "points",
  "confirm.minutes": "minutes",
};

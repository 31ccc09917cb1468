// The find.* messages: English.
// ../zh-CN/find.js has the same keys (tests/app/test_catalogues.py).
export default {
  "find.title": "Find my community",
  "find.intro": "Type your community's name, your street's name or your address, then ask to join. Once the community's staff confirm, you can take part and earn points.",
  "find.search_title": "Search",
  "find.q": "Community, street or address",
  "find.search": "Search",
  "find.none": "Nothing found. Try fewer words, e.g. only the street's name.",
  "find.pick": "This one",
  "find.scan_hint": "Is there a “scan to join” QR code in your community?",
  "find.scan": "Scan to join",
  "find.ask_title": "Ask to join",
  "find.building": "Building (e.g. 3栋)",
  "find.unit_no": "Unit and door (e.g. 2单元501)",
  "find.why": "Your address lets the community's staff check that you live there.",
  "find.ask": "Ask to join",
  "find.asked": "You asked to join {name}. You will get a message once the staff confirm.",
  "find.approved": "You joined {name}.",
};

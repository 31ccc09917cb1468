// The feature.* messages: English.
// ../zh-CN/feature.js has the same keys (tests/app/test_catalogues.py).
export default {
  "feature.card": "Member card",
  "feature.scan": "Scan",
  "feature.shop": "Reward shop",
  "feature.timebank": "Time bank",
  "feature.courier": "Grid report",
  "feature.console": "Console",
  "feature.activities": "Activities",
  "feature.station": "Check-in station",
  "feature.redemptions": "Redemptions",
  "feature.reports": "Courier reports",
  "feature.dashboard": "Dashboard",
  "feature.rankings": "Rankings",
  "feature.privacy": "My data",
  "feature.statement": "Points history",
  "feature.rulebook": "Points rulebook",
  "feature.deductions": "Deductions",
  "feature.selection": "Selections and medals",

  "feature.units": "My unit",
  "feature.city": "City lists",
  "feature.micro": "Grids and micro-grids",
  "feature.tools": "Community business",
  "feature.levels": "Street overview",
  "feature.baodao": "Report to my community",
  "feature.cases": "Cases and proposals",

  "feature.activities_manage": "Activities",
};

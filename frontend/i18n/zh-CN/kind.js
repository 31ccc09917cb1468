// The kind.* messages: Simplified Chinese, the default language.
// ../en/kind.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kind.community": "社区",
  "kind.grid": "网格",

  "kind.district": "区",
  "kind.street": "街道",

  "kind.government": "政府机关",
  "kind.enterprise": "企业",
  "kind.school": "学校",
  "kind.institution": "事业单位",
  "kind.social": "社会组织",
  "kind.other": "其他",
};

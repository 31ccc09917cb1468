// The kind.* messages: English.
// ../zh-CN/kind.js has the same keys (tests/app/test_catalogues.py).
export default {
  "kind.community": "Community",
  "kind.grid": "Grid",

  "kind.district": "District",
  "kind.street": "Street",

  "kind.government": "Government office",
  "kind.enterprise": "Enterprise",
  "kind.school": "School",
  "kind.institution": "Public institution",
  "kind.social": "Social organisation",
  "kind.other": "Other",
};

// The recog.* messages in English. ../zh-CN/recog.js has the same keys.
export default {
  "recog.notices": "Public notices and selections",
  "recog.selection_line": "{quarter} “{title}” selection",
  "recog.posting_selection": "{quarter} “{title}”: result posted for objections",
  "recog.posting_ranking": "{quarter} points ranking posted",
  "recog.posting_open": "Posted",
  "recog.state_open": "Nominations and votes open",
  "recog.state_proposed": "Committee deciding",
  "recog.state_posted": "Result posted",
  "recog.state_final": "Final",
  "recog.medals": "My medals",
  "recog.no_medals": "No medals yet. Volunteer: the medal rules award them automatically.",
  "recog.revoked": "Revoked: {reason}",
  "recog.party_household": "Party household",
};

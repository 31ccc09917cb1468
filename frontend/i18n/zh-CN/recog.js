// The recog.* messages: 公示, selections (评选) and medals on the home, rankings, card and selection pages.
// ../en/recog.js has the same keys.
export default {
  "recog.notices": "公示与评选",
  "recog.selection_line": "{quarter}「{title}」评选",
  "recog.posting_selection": "{quarter}「{title}」评选结果公示",
  "recog.posting_ranking": "{quarter} 积分排行公示",
  "recog.posting_open": "公示中",
  "recog.state_open": "提名投票中",
  "recog.state_proposed": "委员会决定中",
  "recog.state_posted": "结果公示中",
  "recog.state_final": "已揭晓",
  "recog.medals": "我的勋章",
  "recog.no_medals": "还没有勋章。参加志愿服务，达到勋章规则就会自动获得。",
  "recog.revoked": "已撤销：{reason}",
  "recog.party_household": "党员户",
};

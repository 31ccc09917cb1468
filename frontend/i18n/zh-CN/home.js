// The home.* messages: Simplified Chinese, the default language.
// ../en/home.js has the same keys (tests/app/test_catalogues.py).
export default {
  "home.today": "今日待办",
  "home.new_activity": "新建活动",
  "home.open_station": "打开签到台",
  "home.my_volunteering": "我的志愿服务",
  "home.my_rank": "我的排名",
  "home.all_rankings": "查看排行",
  "home.rank_value": "本季度第 {rank} 名（共 {of} 人），{amount} 积分",
  "home.rank_none": "本季度还没有积分，参加一次活动就能上榜",
  "home.no_activities": "近 7 天没有活动",
  "home.inside_now": "正在现场 {n} 人",
  "home.signed_up": "已报名 {n} / {of}",
  "home.queue.redemptions": "兑换待审核",
  "home.queue.reports": "上报待核实",
  "home.queue.services": "服务待确认",
  "home.queue.appeals": "申诉待答复",
  "home.queue.join_requests": "入社申请",
  "home.queue.unit_reports": "党员报到",
  "home.queue.adjustments": "调整待复核",
};

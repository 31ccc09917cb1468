// The feature.* messages: Simplified Chinese, the default language.
// ../en/feature.js has the same keys (tests/app/test_catalogues.py).
export default {
  "feature.card": "我的会员码",
  "feature.scan": "扫码",
  "feature.shop": "道德超市",
  "feature.timebank": "时间银行",
  "feature.courier": "网格员上报",
  "feature.console": "管理台",
  "feature.activities": "志愿活动",
  "feature.station": "签到台",
  "feature.redemptions": "兑换审核",
  "feature.reports": "上报审核",
  "feature.dashboard": "社区看板",
  "feature.rankings": "积分排行",
  "feature.privacy": "我的数据",
  "feature.statement": "积分明细",
  "feature.rulebook": "积分细则",
  "feature.deductions": "扣分记录",
  "feature.selection": "评选与勋章",

  "feature.units": "单位报到",
  "feature.city": "城市名单导入",
  "feature.micro": "网格与微网格",
  "feature.tools": "社区事务",
  "feature.levels": "街道总览",
  "feature.baodao": "在职党员报到",
  "feature.cases": "事项与提事",

  "feature.activities_manage": "活动管理",
};

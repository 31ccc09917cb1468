// The levels.* messages: Simplified Chinese, the default language.
// ../en/levels.js has the same keys (tests/app/test_catalogues.py).
export default {
  "levels.title": "街道 / 区总览",
  "levels.pick": "范围",
  "levels.none": "您不是街道或区的管理员。",
  "levels.compare": "各社区本季度对比",
  "levels.col_community": "社区",
  "levels.col_active": "活跃志愿者",
  "levels.col_hours": "服务时长",
  "levels.col_issued": "发放积分",
  "levels.col_redeemed": "兑换积分",
  "levels.col_wait": "兑换平均等待（小时）",
  "levels.col_reports": "核实上报",
  "levels.col_reported": "在职党员报到",
  "levels.readonly": "您可以查看下属所有社区的数据，但不能修改社区内的内容。",
  "levels.units": "单位排名（按服务时长）",
  "levels.units_empty": "还没有单位。",
  "levels.target": "年度服务目标",
  "levels.target_hours": "每名报到党员（小时）",
  "levels.target_save": "保存目标",
  "levels.target_saved": "目标已保存",

  "levels.settlement": "通兑结算",
  "levels.settlement_hint": "本范围内各社区之间每月互相使用积分和时长的对账。",
  "levels.settlement_open": "查看通兑结算",
};

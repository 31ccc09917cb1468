// The balance.* messages: Simplified Chinese, the default language.
// ../en/balance.js has the same keys (tests/app/test_catalogues.py).
export default {
  "balance.total": "总额",
  "balance.available": "可用",
  "balance.held": "冻结中",
  "balance.held_explained": "冻结中：已为待审批的兑换或进行中的时间银行服务预留，审批或取消后解冻。",
  "balance.held_link": "查看冻结明细",
  "balance.by_community": "按发放社区",
};

// The find.* messages: Simplified Chinese, the default language.
// ../en/find.js has the same keys (tests/app/test_catalogues.py).
export default {
  "find.title": "找到我的社区",
  "find.intro": "输入社区名称、街道名称或小区地址查找您住的社区，然后申请加入。社区工作人员确认后，您就可以参加活动、积累积分。",
  "find.search_title": "查找社区",
  "find.q": "社区、街道或地址",
  "find.search": "查找",
  "find.none": "没有找到。可以换个说法，例如只输入街道名称。",
  "find.pick": "就是这里",
  "find.scan_hint": "社区贴有“扫码加入”的二维码？",
  "find.scan": "扫码加入",
  "find.ask_title": "申请加入",
  "find.building": "楼栋（如 3栋）",
  "find.unit_no": "单元和门牌（如 2单元501）",
  "find.why": "填写住址，方便社区工作人员核对您是本社区的居民。",
  "find.ask": "申请加入",
  "find.asked": "已向{name}提交申请，社区工作人员确认后您会收到消息。",
  "find.approved": "您已加入{name}。",
};

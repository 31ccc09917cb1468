// The join.* messages: Simplified Chinese, the default language.
// ../en/join.js has the same keys (tests/app/test_catalogues.py).
export default {
  "join.button": "申请加入{community}",
  "join.invite": "欢迎加入",
  "join.intro": "申请提交后，由社区工作人员审核。",
  "join.intro_logged_out": "请先登录或注册，再提交申请。",
  "join.refused_note": "您可以申请加入{community}，工作人员审核通过后，本次签到会自动完成。",
  "join.pending_title": "申请已提交",
  "join.pending_note": "正在等待{community}的工作人员审核。",
  "join.pending_note_checkin": "正在等待{community}的工作人员审核。审核通过后签到会自动完成，结果会发到您的消息中，您可以放心关闭本页。",
  "join.way_in_title": "加入{community}即可签到",
  "join.rejected_title": "申请未通过",
  "join.rejected_note": "原因：{reason}",
  "join.approved_title": "您已加入{community}",
  "join.approved_note": "现在可以参加社区活动了。",
  "join.approved_checked_in": "已加入并签到成功",
  "join.approved_checked_in_note": "欢迎加入{community}！{title} 签到已完成。",
  "join.checkin_error.outside_window": "活动签到时间已过，本次签到未完成。",
  "join.checkin_error.capacity_full": "活动人数已满，本次签到未完成。",
  "join.checkin_error.other": "本次签到未完成。",
  "join.scan_again": "如活动仍在进行，请再扫一次活动二维码。",
  "join.already_member": "您已是{community}的成员。",
};

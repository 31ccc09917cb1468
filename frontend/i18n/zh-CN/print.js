// The print.* messages: Simplified Chinese, the default language.
// ../en/print.js has the same keys (tests/app/test_catalogues.py).
export default {
  "print.title": "打印活动海报",
  "print.hint": "勾选要打印的活动，每张海报占一页 A4 纸；打印时选择“A4、无边距”或“另存为 PDF”。",
  "print.pick": "活动",
  "print.copies": "每个活动打印几张",
  "print.print": "打印",
  "print.summary": "共 {n} 页",
  "print.poster_alt": "活动海报",
};

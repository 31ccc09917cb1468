// The print.* messages: English.
// ../zh-CN/print.js has the same keys (tests/app/test_catalogues.py).
export default {
  "print.title": "Print activity posters",
  "print.hint": "Tick the activities to print; each poster fills one A4 page. Print on A4 without margins, or save as PDF.",
  "print.pick": "Activities",
  "print.copies": "Copies of each",
  "print.print": "Print",
  "print.summary": "{n} pages",
  "print.poster_alt": "Activity poster",
};

// The cert.* messages: English.
// ../zh-CN/cert.js has the same keys (tests/app/test_catalogues.py).
export default {
  "cert.back": "‹ Time bank",
  "cert.print": "Print / save as PDF",
  "cert.org": "Linli · Community time bank",
  "cert.title": "Certificate of Service Hours",
  "cert.honours": "Honours: {list}",
  "cert.body": "This certifies that {name} took part {n} times in community volunteer activities and time-bank services, confirmed by check-in and check-out and by the people served, for a total of {h} of volunteering.",
  "cert.stars_note": "{h} hours earned in total",
  "cert.col_date": "Date",
  "cert.col_service": "Service",
  "cert.service_meta": "For {who} · {where}",
  "cert.col_hours": "Hours",
  "cert.total": "Total",
  "cert.empty": "No confirmed time-bank services yet.",
  "cert.issued": "Issued {date}",
  "cert.seal": "Linli Time Bank",

  "cert.activity_meta": "Volunteer activity · {where}",
  "cert.adjustments": "Adjusted by a manager",
  "cert.other": "Other records (imported history)",

  "cert.verify_hint": "Scan the code or open the link to verify this certificate",
  "cert.id_number": "ID number: {id}",
  "cert.volunteer_number": "Volunteer number: {number}",
};

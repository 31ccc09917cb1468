// The verify.* messages: English.
// ../zh-CN/verify.js has the same keys (tests/app/test_catalogues.py).
export default {
  "verify.heading": "Verify a certificate of volunteer hours",
  "verify.valid": "✔ This certificate is valid",
  "verify.revoked": "✘ This certificate was revoked by its issuer",
  "verify.unknown": "No such certificate: the code is unknown. Check the QR code or link.",
  "verify.failed": "Cannot verify right now; please try again later.",
  "verify.number": "Certificate number",
  "verify.name": "Volunteer",
  "verify.hours": "Volunteer hours",
  "verify.issuer": "Issued by",
  "verify.date": "Issued on",
};

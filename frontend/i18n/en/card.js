// The card.* messages: English.
// ../zh-CN/card.js has the same keys (tests/app/test_catalogues.py).
export default {
  "card.title": "My member card",
  "card.subtitle": "Linli volunteer member card",
  "card.how": "Show this code at an activity's check-in station: the staff scan it to check you in and out. Neighbours without a smartphone can print it.",
  "card.print": "Print my card",
  "card.reissue": "New card (the old one stops working)",
  "card.reissue_confirm": "After this, your old card (printed ones too) stops working. Continue?",
  "card.reissued": "Your new member card is ready",
  "card.qr_alt": "My member QR code",
};

"""The certificate of service hours in Chromium at 360 px (issue 19): once a manager has issued it, the
page shows its number and a QR that decodes to /v/<code>, whose public page says it is valid."""

import io

import httpx
import pytest
import zxingcpp
from PIL import Image

from tests.browser.test_timebank_browser import build_community, phone_context
from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def test_issued_certificate_shows_a_decodable_verification_qr(live_server, database_url, browser):
    city = build_community(database_url)
    a, manager = city["a"], city["manager"]
    asked = httpx.post(f"{live_server}/api/certificates", json={"community_id": city["community"]}, headers=a.headers)
    assert asked.status_code == 201, asked.text
    issued = httpx.post(f"{live_server}/api/certificates/{asked.json()['id']}/issue", json={"contact": "三苏社区居委会"},
                        headers=manager.headers).json()
    context, page, errors = phone_context(browser, live_server, a)
    try:
        page.goto(f"{live_server}/certificate.html")
        page.wait_for_selector("#cert-verify:not([hidden])")
        assert page.text_content("#cert-number") == issued["number"]
        assert "5" in page.text_content("#cert-total")  # the 300 minutes of A's adjustment: 5 hours
        screenshot(page, "certificate-verification-qr")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the long URL wraps
        # the QR itself, as a phone camera would frame it (the fixed bottom bar may cover it in a
        # full-page capture)
        qr = page.locator("#cert-qr")
        page.evaluate("document.getElementById('cert-qr').scrollIntoView({block: 'center'})")
        code = Image.open(io.BytesIO(qr.screenshot())).convert("L")
        image = Image.new("L", (code.width + 40, code.height + 40), 255)  # a quiet zone around it
        image.paste(code, (20, 20))
        image.save(screenshot(page, "certificate-verification-qr-viewport").with_name("certificate-qr-only.png"))
        found = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
        assert len(found) == 1 and found[0].text == issued["verify_url"]
        page.goto(found[0].text.replace(found[0].text.split("/v/")[0], live_server))
        page.wait_for_selector("#result:not([hidden])")
        assert "有效" in page.text_content("#verdict") and page.text_content("#name") == "刘*"
        assert not errors, errors
    finally:
        context.close()

"""WeChat sign-in in Chromium at 360 px (issue 36), against the fake WeChat OAuth server on
127.0.0.1: a new resident, in WeChat's browser, taps 微信登录, proves the phone once (with consent
to the privacy notice), and signs in with WeChat directly afterwards; a forged openid without a code
is refused. Outside WeChat the page says to open the link in WeChat. Screenshots: reach-*.png."""

import base64
import os
import re

import pytest

from tests.conftest import new_phone, screenshot, sms_code
from tests.reach.fake_wechat import APPID, SECRET, FakeWeChat

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like "
             "Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 "
             "MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")


def _watch(page, errors: list[str]) -> None:
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text
            and "status of 4" not in m.text else None)


def _me(page) -> dict | None:
    return page.evaluate("""async () => { const r = await fetch('/api/me'); return r.ok ? r.json() : null; }""")


def test_a_new_resident_signs_in_with_wechat_after_proving_the_phone_once(live_server, browser, phone_page, setenv):
    with FakeWeChat() as fake:
        for name, value in (("LINLI_ID_KEY", base64.b64encode(os.urandom(32)).decode()), ("LINLI_WECHAT_APPID", APPID), ("LINLI_WECHAT_SECRET", SECRET),
                            ("LINLI_WECHAT_API_URL", fake.url), ("LINLI_WECHAT_AUTHORIZE_URL", fake.url)):
            setenv(name, value)
        phone = new_phone()
        fake.openid = f"o-wx-{phone}"

        # Outside WeChat: no button, the page says to open the link in WeChat.
        phone_page.goto(f"{live_server}/login.html")
        phone_page.locator("#wechat-outside", has_text="请在微信中打开此链接").wait_for()
        assert not phone_page.locator("#wechat-login").is_visible()

        context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1,
                                      user_agent=WECHAT_UA)
        errors: list[str] = []
        page = context.new_page()
        _watch(page, errors)
        try:
            page.goto(f"{live_server}/login.html")
            button = page.locator("#wechat-login", has_text="微信登录")
            button.wait_for()
            assert button.bounding_box()["height"] >= 44
            screenshot(page, "reach-wechat-login-360")
            button.click()
            # WeChat (the fake) came back with a code; the server exchanged it; the phone is asked once.
            page.wait_for_url("**/login.html#wechat")
            # The register form serves as this step (one form, issue 33): no password, the tabs hidden.
            page.locator("#register-form #wechat-title", has_text="验证手机号").wait_for()
            assert page.locator("#register-password").is_hidden() and page.locator(".tabs").is_hidden()
            assert page.locator("#register-form button[type=submit]").inner_text() == "验证并登录"
            assert not page.locator("#login-form").is_visible()
            page.fill("#register-phone", phone)
            page.click("#register-form .code-send")
            page.locator("#register-form .code-note", has_text="验证码已发送").wait_for()
            page.fill("#register-code", sms_code(phone))
            page.fill("#register-name", "微信居民")
            page.click("#register-form summary")  # the notice, read before ticking
            page.locator("#register-form .notice-text", has_text="个人信息保护告知书").wait_for()
            screenshot(page, "reach-wechat-bind-360")
            page.click("#register-form button[type=submit]")
            # Not ticked: refused on the page, nothing sent.
            page.locator("#register-form", has_text="请先阅读并勾选同意").wait_for()
            page.check("#register-consent")
            page.click("#register-form button[type=submit]")
            page.wait_for_url(f"{live_server}/")
            me = _me(page)
            assert me and me["name"] == "微信居民" and me["phone"] == phone

            # Their own data page is the one place their full ID number shows (issue 36).
            page.goto(f"{live_server}/privacy.html")
            page.fill("#identity-number", "11010519491231002X")
            page.click("#identity-form summary")
            page.locator("#id-notice", has_text="身份证号").wait_for()
            page.check("#identity-consent")
            page.click("#identity-form button[type=submit]")
            page.locator("#identity-current", has_text="11010519491231002X").wait_for()
            screenshot(page, "reach-privacy-identity-360")

            # Afterwards: WeChat signs in directly, no phone, no password.
            context.clear_cookies()
            assert _me(page) is None
            page.goto(f"{live_server}/login.html")
            page.locator("#wechat-login").click()
            # (WeChat's "#wechat_redirect" rides along the redirects: browsers keep a fragment)
            page.wait_for_url(re.compile(re.escape(live_server) + r"/(#wechat_redirect)?$"))
            assert _me(page)["id"] == me["id"]

            # A forged openid without a code is refused, and signs nobody in.
            context.clear_cookies()
            # Off the home page first: its polling, now answered 401, sends it to the login page on its own,
            # which aborted the test's own navigation there (seed 2125523188).
            page.goto("about:blank")
            forged = context.request.get(f"{live_server}/api/auth/wechat/callback?openid={fake.openid}&state=x",
                                         max_redirects=0)
            assert forged.status == 401 and "linli_session" not in forged.headers.get("set-cookie", "")
            forged = context.request.post(f"{live_server}/api/auth/wechat/bind",
                                          data={"phone": phone, "code": "000000", "openid": fake.openid})
            assert forged.status == 422
            page.goto(f"{live_server}/login.html")
            assert _me(page) is None
        finally:
            context.close()
        assert not errors, f"browser errors: {errors}"

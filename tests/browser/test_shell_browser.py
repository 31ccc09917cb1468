"""The page shell in Chromium: log in through the login page, switch language, see the me page (issue 3)."""

import httpx
import pytest

from tests.conftest import new_phone, register_sync, screenshot

pytestmark = pytest.mark.browser


def test_login_language_switch_and_me_page(live_server, phone_page):
    phone, password = new_phone(), "browser-pass-1"
    r = register_sync(live_server, phone, password, "刘芳")
    assert r.status_code == 201
    page = phone_page
    page.goto(f"{live_server}/")
    page.wait_for_url("**/login.html**")
    page.fill("#login-phone", phone)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.get_by_text("你好，刘芳").wait_for()

    page.click(".lang-switch")
    page.get_by_text("Hello, 刘芳").wait_for()
    screenshot(page, "shell-me-en-360")
    page.click(".lang-switch")
    page.get_by_text("你好，刘芳").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    shot = screenshot(page, "shell-me-zh-360")
    assert shot.stat().st_size > 5000


def test_wrong_password_is_shown_on_the_login_page(live_server, phone_page):
    page = phone_page
    page.goto(f"{live_server}/login.html")
    page.fill("#login-phone", new_phone())
    page.fill("#login-password", "definitely-wrong")
    page.click("#login-form button[type=submit]")
    page.get_by_text("手机号或密码不正确").wait_for()
    screenshot(page, "shell-login-error-360")

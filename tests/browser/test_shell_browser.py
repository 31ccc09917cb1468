"""The page shell in Chromium: log in through the login page, switch language, see the me page (issue 3)."""

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
    page.get_by_text("您好，刘芳").wait_for()

    page.click(".lang-switch")
    page.get_by_text("Hello, 刘芳").wait_for()
    screenshot(page, "shell-me-en-360")
    page.click(".lang-switch")
    page.get_by_text("您好，刘芳").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    shot = screenshot(page, "shell-me-zh-360")
    assert shot.stat().st_size > 5000


def test_a_password_typed_before_the_page_is_ready_never_goes_into_the_address(live_server, browser):
    """The login page's script held back (a slow phone network): the form is there, typed into and sent
    with Enter, and nothing is submitted; once the script arrives, the same form logs in."""
    phone, password = new_phone(), "early-pass-1"
    assert register_sync(live_server, phone, password, "周桂兰").status_code == 201
    context = browser.new_context(viewport={"width": 360, "height": 740})
    held = []
    context.route("**/js/login.js", lambda route: held.append(route))
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login.html", wait_until="commit", ready=False)  # its script never comes: no DOMContentLoaded
        page.fill("#login-phone", phone)
        page.fill("#login-password", password)
        page.press("#login-password", "Enter")
        page.click("#login-form button[type=submit]", force=True)  # a tap on the grey button
        page.wait_for_timeout(300)  # time for a navigation that must not happen
        assert page.url == f"{live_server}/login.html"
        assert page.is_disabled("#login-form button[type=submit]")
        held[0].continue_()
        page.click("#login-form button[type=submit]")  # enabled once the script has the form
        page.wait_for_url(f"{live_server}/")
        assert password not in page.url
    finally:
        context.close()


def test_an_id_number_typed_before_the_page_is_ready_never_goes_into_the_address(live_server, browser):
    """The same for the one form that takes a national ID number (我的数据): with its script held back,
    Enter and a tap submit nothing, so the number never lands in the address, the history or the logs."""
    phone = new_phone()
    r = register_sync(live_server, phone, "early-pass-2", "王秀英")
    assert r.status_code == 201
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.add_cookies([{"name": name, "value": value, "url": live_server} for name, value in r.cookies.items()])
    held = []
    context.route("**/js/privacy.js", lambda route: held.append(route))
    page = context.new_page()
    try:
        page.goto(f"{live_server}/privacy.html", wait_until="commit", ready=False)
        page.fill("#identity-number", "11010519491231002X")
        page.press("#identity-number", "Enter")
        page.click("#identity-form button[type=submit]", force=True)
        page.wait_for_timeout(300)  # time for a navigation that must not happen
        assert page.url == f"{live_server}/privacy.html"
        assert page.is_disabled("#identity-form button[type=submit]")
        held[0].continue_()
        page.locator("#identity-form button[type=submit]:enabled").wait_for()  # the script has the form
        assert "11010519491231002X" not in page.url
    finally:
        context.close()


def test_wrong_password_is_shown_on_the_login_page(live_server, phone_page):
    page = phone_page
    page.goto(f"{live_server}/login.html")
    page.fill("#login-phone", new_phone())
    page.fill("#login-password", "definitely-wrong")
    page.click("#login-form button[type=submit]")
    page.get_by_text("手机号或密码不正确").wait_for()
    screenshot(page, "shell-login-error-360")

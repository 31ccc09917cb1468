"""The community's rules page in Chromium, on a phone in large text: a manager reads each value with
its unit and whether it is the default, changes the offline window, and the API reads it back; a value
out of bounds is refused at its field. Screenshot: tests/artifacts/policy-360.png."""


import httpx
import pytest

from domain.core import db
from tests.conftest import PHONE, World, in_thread, screenshot

pytestmark = pytest.mark.browser


def build(database_url: str):
    result = {}

    async def make() -> None:
        pool = await db.create_pool(database_url, min_size=1, max_size=2)
        try:
            result["community"] = await World(pool).community("规则社区")
        finally:
            await pool.close()

    in_thread(make)
    return result["community"]


def test_a_manager_changes_the_offline_window_on_the_page(live_server, browser, database_url):
    community = build(database_url)
    manager = community.manager
    context = browser.new_context(**PHONE)
    context.add_init_script("localStorage.setItem('linli.large_text', 'on')")
    context.add_cookies([{"name": "linli_session", "value": manager.token, "url": live_server},
                         {"name": "linli_csrf", "value": manager.csrf, "url": live_server}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # Reached from the console, where the community's other settings are.
        page.goto(f"{live_server}/console.html?community_id={community.id}")
        page.locator("#policy-link").click()
        page.wait_for_url(f"**/policy.html?community={community.id}")
        field = page.locator("[data-field=offline_max_delay_seconds]")
        field.wait_for()
        assert "系统默认" in field.inner_text() and "86400 秒（约 24 小时）" in field.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        small = page.evaluate("""() => [...document.querySelectorAll('main input, main button, main select')]
            .filter((el) => el.offsetParent).filter((el) => el.getBoundingClientRect().height < 44).length""")
        assert small == 0

        page.fill("#policy-offline_max_delay_seconds", "3600")
        page.click("#policy-form button[type=submit]")
        field.locator(".badge", has_text="本社区设置").wait_for()
        assert "默认值：86400 秒" in field.inner_text()
        r = httpx.get(f"{live_server}/api/communities/{community.id}/policy", headers=manager.headers)
        assert r.json()["offline_max_delay_seconds"] == 3600 and r.json()["own"] == ["offline_max_delay_seconds"]
        screenshot(page, "policy-360")

        # Out of bounds: refused at its field, nothing saved.
        page.fill("#policy-kiosk_pairing_minutes", "600")
        page.click("#policy-form button[type=submit]")
        page.locator("#policy-kiosk_pairing_minutes[aria-invalid=true]").wait_for()
        r = httpx.get(f"{live_server}/api/communities/{community.id}/policy", headers=manager.headers)
        assert r.json()["kiosk_pairing_minutes"] == 10 and r.json()["own"] == ["offline_max_delay_seconds"]

        # Back to the default.
        field.locator("[data-reset]").click()
        field.locator(".badge", has_text="系统默认").wait_for()
        r = httpx.get(f"{live_server}/api/communities/{community.id}/policy", headers=manager.headers)
        assert r.json()["offline_max_delay_seconds"] == 86400 and r.json()["own"] == []
    finally:
        context.close()
    assert not errors, errors

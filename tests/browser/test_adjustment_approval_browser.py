"""Issue 16 in Chromium, on a phone: a large adjustment asked by one manager waits in the console's
overview, and a second manager of the community approves it there; the maker cannot."""


import httpx
import pytest

from domain.core import db
from domain.people import orgs
from tests.conftest import PHONE, World, in_thread, screenshot

pytestmark = pytest.mark.browser


def build(database_url: str):
    """A community with two managers and a resident, made through the domain on a thread of its own."""
    result = {}

    async def make() -> None:
        pool = await db.create_pool(database_url, min_size=1, max_size=2)
        try:
            world = World(pool)
            c = await world.community("审批社区")
            deputy = await world.person("张副主任")
            admin = await world.actor(await world.admin())
            async with pool.acquire() as conn:
                await orgs.appoint_manager(conn, admin, c.id, deputy.id)
            result["world"] = (c, deputy, await world.member(c, "王大爷"))
        finally:
            await pool.close()

    in_thread(make)
    return result["world"]


def open_console(browser, live_server: str, person, community_id: int):
    context = browser.new_context(**PHONE)
    context.add_cookies([{"name": "linli_session", "value": person.token, "url": live_server},
                         {"name": "linli_csrf", "value": person.csrf, "url": live_server}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/console.html?community={community_id}")
    page.locator("#adjustments-card").wait_for()
    return context, page, errors


def test_a_second_manager_approves_a_large_adjustment_in_the_console(live_server, browser, database_url):
    c, deputy, resident = build(database_url)
    r = httpx.post(f"{live_server}/api/adjustments", headers=deputy.headers,
                   json={"user_id": resident.id, "unit": "points", "amount": 500, "reason": "年度表彰"})
    assert r.status_code == 202, r.text

    # The maker sees it waiting, and no approve button.
    context, page, errors = open_console(browser, live_server, deputy, c.id)
    row = page.locator("#adjustments li", has_text="王大爷")
    row.wait_for()
    assert "等待其他管理员审批" in row.inner_text()
    assert row.get_by_role("button", name="批准").count() == 0
    context.close()
    assert not errors, errors

    # The other manager approves it.
    context, page, errors = open_console(browser, live_server, c.manager, c.id)
    row = page.locator("#adjustments li", has_text="王大爷")
    row.wait_for()
    assert "+500" in row.inner_text() and "年度表彰" in row.inner_text()
    assert page.locator("#policy-points").input_value() == "200"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "console-adjustment-waiting-360")
    row.get_by_role("button", name="批准").click()
    page.locator("#adjustments li", has_text="没有待审批的调整").wait_for()
    screenshot(page, "console-adjustment-approved-360")
    context.close()
    assert not errors, errors
    balances = httpx.get(f"{live_server}/api/me/balances", headers=resident.headers).json()
    assert balances["points"]["balance"] == 500


def test_an_invited_person_accepts_on_their_page(live_server, browser, database_url):
    c, deputy, resident = build(database_url)
    # 王大爷 of 审批社区 is invited by another community's manager: he decides, and sees who asked.
    other, _, _ = build(database_url)
    r = httpx.post(f"{live_server}/api/communities/{other.id}/invitations", headers=other.manager.headers,
                   json={"phone": resident.phone, "name": "王", "role": "volunteer"})
    assert r.status_code == 201 and r.json()["pending"] is True
    context = browser.new_context(**PHONE)
    context.add_cookies([{"name": "linli_session", "value": resident.token, "url": live_server},
                         {"name": "linli_csrf", "value": resident.csrf, "url": live_server}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/")
    row = page.locator("#invitations li", has_text="审批社区")
    row.wait_for()
    assert "审批社区管理员" in row.inner_text()
    screenshot(page, "me-invitation-360")
    row.get_by_role("button", name="接受并加入").click()
    page.locator("#invitations-card").wait_for(state="hidden")
    me = httpx.get(f"{live_server}/api/me", headers=resident.headers).json()
    assert other.id in [m["community_id"] for m in me["memberships"]]
    context.close()
    assert not errors, errors

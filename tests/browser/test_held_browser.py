"""Issue 30 in Chromium, on a phone: the street manager opens 待复核, sees a manager's mark held above
the threshold (with its maker and why), approves it, and marks a warning about that manager checked."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from domain.core import db
from domain.people import orgs
from tests.conftest import PHONE, World, in_thread, screenshot

pytestmark = pytest.mark.browser


def build(database_url: str):
    """A community, its street's manager and a member, made through the domain on a thread of its own."""
    result = {}

    async def make() -> None:
        pool = await db.create_pool(database_url, min_size=1, max_size=2)
        try:
            world = World(pool)
            c = await world.community("复核社区")
            street = await world.person("李书记")
            admin = await world.actor(await world.admin())
            async with pool.acquire() as conn:
                await orgs.appoint_manager(conn, admin, c.street_id, street.id)
            result["world"] = (c, street, await world.member(c, "王大爷"))
        finally:
            await pool.close()

    in_thread(make)
    return result["world"]


def test_the_street_manager_approves_a_held_mark_on_a_phone(live_server, browser, database_url):
    c, street, member = build(database_url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    h = c.manager.headers
    activity = httpx.post(f"{live_server}/api/activities", headers=h, json={
        "community_id": c.id, "title": "整理图书角", "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=12)).isoformat(), "points": 5}).json()
    assert httpx.post(f"{live_server}/api/activities/{activity['id']}/publish", headers=h).status_code == 200
    r = httpx.post(f"{live_server}/api/activities/{activity['id']}/attendance/mark", headers=h,
                   json={"user_ids": [member.id], "reason": "忘带手机", "minutes": 700})
    assert r.status_code == 202, r.text

    context = browser.new_context(**PHONE)
    context.add_cookies([{"name": "linli_session", "value": street.token, "url": live_server},
                         {"name": "linli_csrf", "value": street.csrf, "url": live_server}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/held.html")
    item = page.locator("#items li", has_text="补录签到")
    item.wait_for()
    text = item.inner_text()
    assert "复核社区管理员" in text and "超过门槛" in text and "700 分钟" in text, text
    flag = page.locator("#flag-list li", has_text="超过社区门槛")
    flag.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "held-queue-360")
    item.get_by_role("button", name="批准").click()
    page.locator("#items-empty").wait_for()
    flag.get_by_role("textbox").fill("已电话核实")
    flag.get_by_role("button", name="标记已核实").click()
    page.locator("#flags-empty").wait_for()
    screenshot(page, "held-queue-done-360")
    context.close()
    assert not errors, errors
    minutes = httpx.get(f"{live_server}/api/me/balances", headers=member.headers).json()["minutes"]["balance"]
    assert minutes == 700
    inbox = httpx.get(f"{live_server}/api/me/messages", headers=h).json()["items"]
    assert inbox[0]["kind"] == "held_decided" and "补录签到" in inbox[0]["text"]

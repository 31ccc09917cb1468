"""The dashboard, rankings and public posting pages in Chromium, at 360 px and on a desktop, with
demo-like data: twelve weeks of awards from rankings.seed_demo plus weekly redemptions (issue 9)."""

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from domain import demo, ledger
from domain.core import clock
from domain.demo import rankings
from domain.people import auth, orgs
from tests.conftest import new_phone, screenshot

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    community: int
    posting: int
    manager: tuple[str, str]    # session token, csrf
    member: tuple[str, str]     # 刘芳
    outsider: tuple[str, str]   # a member of another community


async def _seed(url: str) -> Seeded:
    conn = await asyncpg.connect(url)
    try:
        admin_id = await auth.create_user(conn, phone=new_phone(), password=None, name="王主任", is_admin=True)
        admin = await orgs.load_actor(conn, admin_id)
        district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
        street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
        sansu = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
        other = await orgs.create_org(conn, admin, kind="community", name="裕丰社区", parent_id=street.id)
        manager = await auth.create_user(conn, phone=new_phone(), password=None, name="李晓梅")
        await orgs.appoint_manager(conn, admin, sansu.id, manager)
        volunteers = {}
        for name in ("刘芳", "陈伟", "杨丽", "周秀英"):
            volunteers[name] = await auth.create_user(conn, phone=new_phone(), password=None, name=name)
            await orgs.add_member(conn, admin, sansu.id, volunteers[name], "volunteer")
        outsider = await auth.create_user(conn, phone=new_phone(), password=None, name="赵强")
        await orgs.add_member(conn, admin, other.id, outsider, "volunteer")
        team = await orgs.create_team(conn, admin, "区政务服务中心党支部", sansu.id)
        city = demo.City(admin=admin_id, managers={"李晓梅": manager}, volunteers=volunteers, couriers={},
                         communities={"三苏社区": sansu.id}, grids={}, streets={"苏祠街道": street.id}, team=team.id)
        await rankings.seed_demo(conn, city)

        # Redemptions most weeks, back-dated, so the chart compares both series.
        shop = await ledger.org_account(conn, sansu.id, "supermarket", "points")
        now = clock.now()
        try:
            for week in range(12):
                if week % 4 == 1:
                    continue
                clock.freeze(now - timedelta(weeks=11 - week, days=-1))
                name = ("刘芳", "陈伟")[week % 2]
                async with conn.transaction():
                    await ledger.post(conn, unit="points", debit=await ledger.user_account(conn, volunteers[name], "points", sansu.id),
                                      credit=shop, amount=10 + 5 * (week % 3), kind="redemption", memo="洗衣液")
        finally:
            clock.unfreeze()
        # Three people earn today, so "active this month" has them whatever the date (the awards
        # above are weeks apart: on the 1st of a month none of them may fall in it).
        issuing = await ledger.org_account(conn, sansu.id, "issuing", "points")
        for name in ("刘芳", "陈伟", "杨丽"):
            async with conn.transaction():
                await ledger.post(conn, unit="points", debit=issuing, amount=5, kind="award", memo="今日服务",
                                  credit=await ledger.user_account(conn, volunteers[name], "points", sansu.id))
        posting = await conn.fetchval("select max(id) from postings where community_id = $1", sansu.id)
        sessions = [await auth._new_session(conn, uid) for uid in (manager, volunteers["刘芳"], outsider)]
        return Seeded(sansu.id, posting, *((s.token, s.csrf) for s in sessions))
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def seeded(database_url, live_server) -> Seeded:
    """Seed on a loop of its own, in a thread: the test session's loop belongs to pytest-asyncio."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(_seed(database_url))))
    thread.start()
    thread.join()
    assert result, "seeding failed (see the thread's traceback above)"
    return result[0]


def log_in(page, base: str, session: tuple[str, str]) -> None:
    page.context.add_cookies([{"name": "linli_session", "value": session[0], "url": base},
                              {"name": "linli_csrf", "value": session[1], "url": base}])


@pytest.fixture
def desktop_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


def check_dashboard(page, base, seeded: Seeded, shot: str) -> None:
    log_in(page, base, seeded.manager)
    page.goto(f"{base}/dashboard.html?community_id={seeded.community}")
    page.locator("#chart svg.chart-svg").wait_for()
    assert page.locator("#chart rect.bar-issued").count() == 12
    assert page.locator("#chart rect.bar-redeemed").count() == 12
    heights = page.eval_on_selector_all("#chart rect.bar-issued", "els => els.map(e => +e.getAttribute('height'))")
    assert sum(h > 0 for h in heights) >= 10  # most weeks had awards
    redeemed = page.eval_on_selector_all("#chart rect.bar-redeemed", "els => els.map(e => +e.getAttribute('height'))")
    assert sum(h > 0 for h in redeemed) >= 6
    assert int(page.locator("#kpi-active").inner_text()) >= 3
    assert page.get_by_text("待审批的兑换申请").is_visible()
    # The chart fits the page: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, shot)


def test_dashboard_renders_its_charts_on_a_phone(live_server, phone_page, seeded):
    check_dashboard(phone_page, live_server, seeded, "dashboard-360")
    phone_page.click(".lang-switch")
    phone_page.get_by_text("Points issued and redeemed, last 12 weeks").wait_for()
    phone_page.locator("#chart rect.bar-issued").first.wait_for()
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone_page, "dashboard-en-360")
    phone_page.click(".lang-switch")  # back to Chinese for the next tests' context (storage is per context)


def test_dashboard_renders_its_charts_on_a_desktop(live_server, desktop_page, seeded):
    check_dashboard(desktop_page, live_server, seeded, "dashboard-desktop")
    # Resizing redraws the chart to the new width.
    desktop_page.set_viewport_size({"width": 800, "height": 900})
    desktop_page.wait_for_function("() => +document.querySelector('#chart svg').getAttribute('width') < 800")


@pytest.mark.parametrize("size", ["360", "desktop"])
def test_rankings_page(live_server, request, seeded, size):
    page = request.getfixturevalue("phone_page" if size == "360" else "desktop_page")
    log_in(page, live_server, seeded.manager)
    page.goto(f"{live_server}/rankings.html?community_id={seeded.community}")
    page.locator("#ranking-rows tr").first.wait_for()
    assert page.locator("#ranking-rows tr").count() == 4
    assert "刘芳" in page.locator("#ranking-rows").inner_text()
    assert "format=csv" in page.locator("#csv").get_attribute("href")
    page.select_option("#scope", "household")
    page.get_by_text("刘家").wait_for()
    page.locator("#postings li").first.wait_for()
    screenshot(page, f"rankings-{size}")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .map(e => e.tagName + '#' + e.id + '.' + e.className)""")
    assert wide == [], wide


def test_public_posting_appeal_and_end(live_server, phone_page, seeded):
    page = phone_page
    page.goto(f"{live_server}/posting.html?id={seeded.posting}")  # no login
    page.locator(".posting-entry").first.wait_for()
    text = page.locator("#entries").inner_text()
    assert "刘*" in text and "刘芳" not in text and "陈伟" not in text
    assert page.locator("#appeal-login").is_visible()
    screenshot(page, "posting-public-360")

    log_in(page, live_server, seeded.member)
    page.reload()
    page.fill("#reason", "9月28日的敬老院慰问活动我参加了，积分好像没有记上")
    page.click("#appeal-form button[type=submit]")
    page.get_by_text("待答复").wait_for()
    screenshot(page, "posting-appeal-360")

    log_in(page, live_server, seeded.outsider)
    page.reload()
    page.get_by_text("只有本社区居民可以提出异议。").wait_for()

    clock.freeze(clock.now() + timedelta(days=8))  # the live server shares this process's clock
    try:
        page.reload()
        page.get_by_text("公示已结束").first.wait_for()
        assert page.locator("#appeal-form").is_hidden()
        screenshot(page, "posting-ended-360")
    finally:
        clock.unfreeze()

"""Pages each person would choose (issue 22), in Chromium: a manager's home leads with real queue
counts that drop after a decision; a volunteer joins a full activity's waiting list and is promoted
when someone cancels; a volunteer sees their rank; a large adjustment asks first, naming the amount."""

from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from domain import ledger, supermarket
from domain.checkin import activities, signups
from domain.core import db
from domain.people import auth, orgs
from tests.conftest import PHONE, Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}


def run(database_url: str, build) -> dict:
    result: dict = {}

    async def go():
        conn = await asyncpg.connect(database_url)
        await db._init_connection(conn)
        try:
            await build(conn, result)
        finally:
            await conn.close()

    in_thread(go)
    assert result, "building the world failed"
    return result


async def community_with_people(conn, result, names=("刘芳", "陈伟", "杨丽")):
    async def person(name, admin=False):
        user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name, is_admin=admin)
        return Login(await auth._new_session(conn, user_id), name)
    admin = await orgs.load_actor(conn, (await person("王主任", admin=True)).id)
    district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
    street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
    community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
    manager = await person("李晓梅")
    await orgs.appoint_manager(conn, admin, community.id, manager.id)
    people = [await person(n) for n in names]
    for p in people:
        await orgs.add_member(conn, admin, community.id, p.id, "volunteer")
        async with conn.transaction():
            await ledger.post(conn, unit="points", debit=await ledger.org_account(conn, community.id, "issuing", "points"),
                              credit=await ledger.user_account(conn, p.id, "points", community.id), amount=300,
                              kind="adjustment", cause=("adjustment", community.id), reason="开户")
    result.update(manager=manager, people=people, community=community.id)
    return await orgs.load_actor(conn, manager.id)


def page_for(browser, base, person, size=PHONE):
    context = browser.new_context(**size)
    context.add_cookies(person.cookies(base))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    return context, page, errors


def test_the_managers_home_counts_what_waits(live_server, browser, database_url):
    async def build(conn, result):
        manager = await community_with_people(conn, result)
        reward = await supermarket.create_reward(conn, manager, community_id=result["community"], name="大米 5kg",
                                                 description="", cost_points=100, stock=10)
        for p in result["people"][:2]:
            await supermarket.request(conn, await orgs.load_actor(conn, p.id), reward.id, 1)
    world = run(database_url, build)
    for size, width in ((DESKTOP, 1280), (PHONE, 360)):
        context, page, errors = page_for(browser, live_server, world["manager"], size)
        try:
            page.goto(f"{live_server}/")
            tile = page.locator(".queue-tile", has_text="兑换待审核")
            tile.wait_for()
            assert tile.locator(".queue-count").inner_text() == "2"
            assert page.locator("#balance-card").is_hidden()  # the manager's own zero balance stays out of the way
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"home-manager-{width}")
            # Issue 33: each tile opens its queue itself, 新建活动 opens the form.
            hrefs = page.eval_on_selector_all(".queue-tile", "(tiles) => tiles.map((a) => a.getAttribute('href'))")
            assert f"/joining.html?community={world['community']}" in hrefs
            assert f"/baodao.html?community_id={world['community']}#queue-card" in hrefs
            if width == 1280:
                page.get_by_role("link", name="新建活动").click()
                page.locator("#new-form").wait_for()
                page.wait_for_function("() => document.activeElement && document.activeElement.id === 'f-title'")
                page.goto(f"{live_server}/")
            if width == 360:
                page.goto(f"{live_server}/redemptions.html")
                page.locator(".queue-item").first.get_by_role("button", name="同意").click()
                page.locator("#count-requested").filter(has_text="1").wait_for()
                page.goto(f"{live_server}/")
                page.locator(".queue-tile", has_text="兑换待审核").locator(".queue-count").filter(has_text="1").wait_for()
            assert not errors, errors
        finally:
            context.close()


def test_a_volunteer_waits_for_a_full_activity_and_moves_up(live_server, browser, database_url):
    async def build(conn, result):
        manager = await community_with_people(conn, result)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        activity = await activities.create(conn, manager, community_id=result["community"], title="周末义诊",
                                           place="社区服务中心", starts_at=now + timedelta(days=2),
                                           ends_at=now + timedelta(days=2, hours=2), capacity=1, points=10)
        await activities.publish(conn, manager, activity.id)
        await signups.sign_up(conn, await orgs.load_actor(conn, result["people"][0].id), activity.id)
        result["activity"] = activity.id
    world = run(database_url, build)
    first, second = world["people"][0], world["people"][1]
    context, page, errors = page_for(browser, live_server, second)
    try:
        page.goto(f"{live_server}/activity.html?id={world['activity']}")
        page.locator("#places", has_text="名额已满").wait_for()
        page.get_by_role("button", name="排队候补").click()
        page.locator("#my-state", has_text="候补名单第 1 位").wait_for()
        screenshot(page, "activity-detail-waiting-360")
        other, other_page, _ = page_for(browser, live_server, first)
        other_page.on("dialog", lambda d: d.accept())
        other_page.goto(f"{live_server}/activity.html?id={world['activity']}")
        other_page.get_by_role("button", name="取消报名").click()
        other_page.get_by_role("button", name="排队候补").wait_for()  # the place went to the one waiting
        other.close()
        page.reload()
        page.locator("#my-state", has_text="您已报名").wait_for()
        screenshot(page, "activity-detail-promoted-360")
        # Issue 33: the person moved up hears it, and the message opens the activity.
        page.goto(f"{live_server}/messages.html")
        page.locator(".message-title", has_text="候补已转正").click()
        page.wait_for_url(f"**/activity.html?id={world['activity']}")
        page.goto(f"{live_server}/activities.html")
        page.locator("#mine .activity-item", has_text="周末义诊").wait_for()
        assert not errors, errors
    finally:
        context.close()


def test_a_volunteer_sees_their_rank(live_server, browser, database_url):
    async def build(conn, result):
        await community_with_people(conn, result)
    world = run(database_url, build)
    context, page, errors = page_for(browser, live_server, world["people"][0])
    try:
        page.goto(f"{live_server}/")
        line = page.locator("#my-rank .rank-line", has_text="三苏社区")
        line.wait_for()
        assert "本季度第 1 名（共 3 人），300 积分" in line.inner_text()
        page.goto(f"{live_server}/rankings.html")
        page.locator("#my-ranks .rank-line").first.wait_for()
        names = page.locator("#my-ranks .rank-line").all_inner_texts()
        assert any("刘芳" in n for n in names) and any("陈*" in n for n in names)
        screenshot(page, "rankings-volunteer-360")
        assert not errors, errors
    finally:
        context.close()


def test_a_large_adjustment_asks_first_with_the_amount(live_server, browser, database_url):
    async def build(conn, result):
        await community_with_people(conn, result)
    world = run(database_url, build)
    context, page, errors = page_for(browser, live_server, world["manager"], DESKTOP)
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()  # the manager meant 15: nothing moves
    page.on("dialog", answer)
    try:
        page.goto(f"{live_server}/console.html")
        page.click("#tab-members")
        row = page.locator("#members li", has_text="刘芳")
        row.wait_for()
        row.click()
        form = page.locator("#member-detail form", has_text="调整积分或时间")
        form.wait_for()
        form.locator("input[name=amount]").fill("1500")
        form.locator("input[name=reason]").fill("补录纸质记录")
        form.get_by_role("button", name="确认调整").click()
        page.wait_for_timeout(300)
        assert asked == ["将给 刘芳 增加 1500 积分。确定吗？"]
        balance = page.evaluate("fetch('/api/members/' + %d).then(r => r.json())" % world["people"][0].id)
        assert balance["balances"]["points"]["balance"] == 300
        assert not errors, errors
    finally:
        context.close()


LARGE_TEXT = "localStorage.setItem('linli.large_text', 'on')"  # 大字模式, as the header's switch leaves it

# Every control on the page that someone taps, shown and smaller than 44 px high (issue 33).
SMALL_TARGETS = """() => [...document.querySelectorAll('button, .btn, input:not([type=hidden]):not([type=file]), select, [role=tab]')]
  .filter((e) => e.offsetParent && !e.closest('.visually-hidden'))
  .map((e) => [e.id || e.textContent.trim().slice(0, 12), Math.round(e.getBoundingClientRect().height)])
  .filter(([, h]) => h < 44)"""


def test_an_elder_reads_her_hours_and_statement_in_large_text(live_server, browser, database_url):
    """Issue 33, the elder in large text at 360 px: her 1728 banked minutes read "28小时48分", the same
    on the home page and in 明细, each number on one line with its unit; 明细 rows stack so names are
    not squeezed; the time bank's tabs sit apart; no control is under 44 px; nothing runs off the screen."""
    async def build(conn, result):
        await community_with_people(conn, result, names=("周秀英",))
        elder, community = result["people"][0], result["community"]
        async with conn.transaction():
            await ledger.post(conn, unit="minutes", debit=await ledger.org_account(conn, community, "issuing", "minutes"),
                              credit=await ledger.user_account(conn, elder.id, "minutes", community), amount=1728,
                              kind="adjustment", cause=("adjustment", community), reason="纸质台账迁移：2019 至 2025 年社区助老服务")
    world = run(database_url, build)
    context, page, errors = page_for(browser, live_server, world["people"][0])
    context.add_init_script(LARGE_TEXT)
    # Each number with its unit on one line ("28小时" then "48分" may take two lines in a narrow box,
    # but "小时" never leaves its 28).
    one_line = """(e) => { const kept = [...e.querySelectorAll('.nowrap')];
      return kept.length > 0 && kept.map((k) => k.textContent).join('') === e.textContent.trim()
        && kept.every((k) => k.getClientRects().length === 1); }"""
    try:
        page.goto(f"{live_server}/")
        page.wait_for_selector("html.large-text[data-ready]", state="attached")
        hours = page.locator("#hours-available")
        assert hours.inner_text() == "28小时48分" and hours.evaluate(one_line)
        assert page.locator("#points-available").inner_text() == "300"
        assert "积分" in page.locator("#balance-card").inner_text()     # the number has its unit label
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.evaluate(SMALL_TARGETS) == []
        screenshot(page, "elder33-home-large-360")

        page.goto(f"{live_server}/statement.html?unit=minutes")
        entry = page.locator(".entry", has_text="纸质台账迁移")
        entry.wait_for()
        amount = entry.locator(".entry-amount")
        assert "28小时48分" in amount.inner_text() and amount.evaluate(one_line)  # same format as the home page
        # Rows stack: the words get the row's whole width, not two characters a line beside the amount.
        widths = entry.evaluate("(e) => [e.getBoundingClientRect().width, e.querySelector('.entry-meta, .entry-note, .entry-title').getBoundingClientRect().width]")
        assert widths[1] >= 0.9 * widths[0], widths
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.evaluate(SMALL_TARGETS) == []
        screenshot(page, "elder33-statement-large-360")

        page.goto(f"{live_server}/timebank.html")
        tabs = page.get_by_role("tab").all()
        boxes = [t.bounding_box() for t in tabs]
        assert len(boxes) == 4 and all(b["height"] >= 44 for b in boxes)
        for a, b in zip(boxes, boxes[1:]):  # apart: side by side without touching, or on the next line
            assert a["x"] + a["width"] <= b["x"] or b["y"] >= a["y"] + a["height"] - 1, (a, b)
        assert all(t.evaluate("(e) => e.scrollWidth <= e.clientWidth") for t in tabs)  # no label cut off
        assert page.locator("#hours-available").inner_text() == "28小时48分"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.evaluate(SMALL_TARGETS) == []
        screenshot(page, "elder33-timebank-large-360")
        assert not errors, errors
    finally:
        context.close()

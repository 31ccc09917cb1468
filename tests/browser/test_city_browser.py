"""A city loads itself and is run from pages (issue 31), in Chromium at 360 px and 1280 px, as each
role: an admin loads a small city from .xlsx with planted errors; a street manager names a unit's
administrator; a party member reports, claims a need, serves it and sees the credit and the card;
a 邻里长 marks a phoneless resident; a new resident finds their community and asks to join. Every
step is on a page: the world is built through the domain, never through the API."""

import io
import secrets

import asyncpg
import openpyxl
import pytest

from domain import units
from domain.core import db
from domain.people import auth, orgs
from tests.conftest import PHONE, Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}
SIZES = [PHONE, DESKTOP]


def with_connection(database_url: str, build) -> dict:
    """Run `build(conn, person)` on a connection of its own, in a thread (the browser's loop is the main one)."""
    result: dict = {}

    async def run():
        conn = await asyncpg.connect(database_url)
        await db._init_connection(conn)
        try:
            async def person(name, admin=False, phone=True):
                user_id = await auth.create_user(conn, phone=new_phone() if phone else None, password=None, name=name,
                                                 is_admin=admin)
                login = Login(await auth._new_session(conn, user_id), name)
                login.phone = await conn.fetchval("select phone from users where id = $1", user_id)
                return login
            result.update(await build(conn, person))
        finally:
            await conn.close()

    in_thread(run)
    assert result, "building the world failed"
    return result


async def street(conn, person, tag: str) -> dict:
    """A district, a street with its manager, a community with its manager and a grid."""
    admin_login = await person("平台管理员", admin=True)
    admin = await orgs.load_actor(conn, admin_login.id)
    district = await orgs.create_org(conn, admin, kind="district", name=f"东坡区{tag}", parent_id=None)
    s = await orgs.create_org(conn, admin, kind="street", name=f"苏祠街道{tag}", parent_id=district.id)
    community = await orgs.create_org(conn, admin, kind="community", name=f"三苏社区{tag}", parent_id=s.id)
    grid = await orgs.create_org(conn, admin, kind="grid", name="第一网格", parent_id=community.id)
    secretary, manager = await person("街道书记"), await person("社区书记")
    await orgs.appoint_manager(conn, admin, s.id, secretary.id)
    await orgs.appoint_manager(conn, admin, community.id, manager.id)
    return {"admin": admin_login, "admin_actor": admin, "district": district.id, "street": s.id,
            "community": community.id, "grid": grid.id, "secretary": secretary, "manager": manager}


def open_page(browser, base, person, size):
    context = browser.new_context(**size)
    context.add_cookies(person.cookies(base))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    return context, page, errors


def fits(page, size) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= size["viewport"]["width"]


def xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: str(s["viewport"]["width"]))
def test_an_admin_loads_a_small_city_with_errors_by_row(live_server, browser, database_url, tmp_path, size):
    async def build(conn, person):
        return {"admin": await person("平台管理员", admin=True)}
    world = with_connection(database_url, build)
    p = secrets.token_hex(3).upper()
    path = tmp_path / "city.xlsx"
    path.write_bytes(xlsx([["层级", "编码", "名称", "上级编码", "地址"],
                           ["区", f"{p}-D", "东坡区", "", ""],
                           ["街道", f"{p}-S", "苏祠街道", f"{p}-D", ""],
                           ["社区", f"{p}-C", "三苏社区", f"{p}-S", "纱縠行南段12号"],
                           ["网格", f"{p}-G", "第一网格", f"{p}-C", ""],
                           ["网格", f"{p}-X", "第二网格", f"{p}-NOPE", ""],       # row 6: no such parent
                           ["小区", f"{p}-Y", "某小区", f"{p}-C", ""]]))          # row 7: no such level
    context, page, errors = open_page(browser, live_server, world["admin"], size)
    try:
        page.goto(f"{live_server}/city.html")
        page.locator("#page").wait_for()
        page.select_option("#kind", "tree")
        page.set_input_files("#file", str(path))
        page.locator("#check").click()
        page.locator("#errors li").first.wait_for()
        assert page.locator("#errors li[data-row='6']").inner_text().startswith("第 6 行")
        assert "找不到上级" in page.locator("#errors li[data-row='6']").inner_text()
        assert "层级应为" in page.locator("#errors li[data-row='7']").inner_text()
        fits(page, size)
        screenshot(page, f"city-check-{size['viewport']['width']}")
        page.locator("#commit").click()
        page.locator("#done").wait_for()
        assert "新增 4 行" in page.locator("#done").inner_text()
        # the same file again: nothing to load
        page.locator("#check").click()
        page.locator("#nothing").wait_for()
        screenshot(page, f"city-again-{size['viewport']['width']}")
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: str(s["viewport"]["width"]))
def test_a_street_manager_names_a_unit_administrator_who_accepts(live_server, browser, database_url, size):
    async def build(conn, person):
        w = await street(conn, person, secrets.token_hex(2))
        actor = await orgs.load_actor(conn, w["secretary"].id)
        unit = await units.create_unit(conn, actor, name="区税务局党支部", kind="government", parent_id=w["street"])
        return w | {"unit": unit.id, "chosen": await person("赵支书")}
    world = with_connection(database_url, build)
    width = size["viewport"]["width"]
    context, page, errors = open_page(browser, live_server, world["secretary"], size)
    try:
        page.goto(f"{live_server}/levels.html")
        page.locator(f"#admin-unit option[value='{world['unit']}']").wait_for(state="attached")
        page.select_option("#admin-unit", str(world["unit"]))
        page.fill("#admin-name", "赵支书")
        page.fill("#admin-phone", world["chosen"].phone)
        page.locator("#admin-invite").click()
        page.locator("#unit-list li", has_text="赵支书（待对方接受）").wait_for()
        fits(page, size)
        screenshot(page, f"levels-unit-admin-{width}")
        assert not errors, errors
    finally:
        context.close()
    context, page, errors = open_page(browser, live_server, world["chosen"], size)
    try:
        page.goto(f"{live_server}/")
        row = page.locator("#invitations li[data-kind='unit_admin']")
        row.wait_for()
        assert "区税务局党支部" in row.inner_text() and "单位管理员" in row.inner_text()
        screenshot(page, f"home-role-invite-{width}")
        row.get_by_role("button", name="接受并加入").click()
        page.locator("#features a[href='/units.html']").wait_for()
        page.goto(f"{live_server}/units.html")
        page.locator("#page").wait_for()
        assert "区税务局党支部" in page.locator("#unit").inner_text()
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: str(s["viewport"]["width"]))
def test_a_party_member_reports_claims_serves_and_sees_credit_and_card(live_server, browser, database_url, size):
    async def build(conn, person):
        w = await street(conn, person, secrets.token_hex(2))
        actor = await orgs.load_actor(conn, w["secretary"].id)
        unit = await units.create_unit(conn, actor, name="市税务局党支部", kind="government", parent_id=w["street"])
        manager = await orgs.load_actor(conn, w["manager"].id)
        need = await units.create_need(conn, manager, w["community"], title="周末楼道清理", description="3栋至5栋",
                                       kind="post", slots=2)
        return w | {"unit": unit.id, "need": need.id, "member": await person("王党员")}
    world = with_connection(database_url, build)
    width = size["viewport"]["width"]
    member_ctx, member, member_errors = open_page(browser, live_server, world["member"], size)
    manager_ctx, manager, manager_errors = open_page(browser, live_server, world["manager"], size)
    try:
        member.goto(f"{live_server}/baodao.html")
        for select in ("district", "street", "community", "grid"):
            member.locator(f"#{select} option[value='{world[select]}']").wait_for(state="attached")
            member.select_option(f"#{select}", str(world[select]))
        member.select_option("#unit", str(world["unit"]))
        member.get_by_role("button", name="提交报到").click()
        member.locator("#mine .badge", has_text="待社区确认").wait_for()

        manager.goto(f"{live_server}/baodao.html")
        manager.locator("#queue li", has_text="王党员").get_by_role("button", name="确认报到").click()
        manager.locator("#queue li", has_text="没有待确认的报到").wait_for()

        member.reload()
        need = member.locator(f"#needs li[data-need='{world['need']}']")
        need.get_by_role("button", name="我来认领").click()
        need.get_by_role("button", name="我已完成服务").wait_for()
        need.locator("input").fill("清理了三层楼道")
        need.get_by_role("button", name="我已完成服务").click()
        member.locator(f"#needs li[data-need='{world['need']}'] .badge", has_text="已服务，待社区确认").wait_for()
        fits(member, size)
        screenshot(member, f"baodao-served-{width}")

        manager.reload()
        claim = manager.locator("#claims li", has_text="王党员")
        claim.get_by_label("服务时长（小时）").fill("2")
        claim.get_by_label("积分").fill("10")
        claim.get_by_label("会议纪要（社区确认记录）").fill("12月居民议事会：楼道已清理，确认2小时")
        fits(manager, size)
        screenshot(manager, f"baodao-confirm-{width}")
        claim.get_by_role("button", name="确认服务并记入").click()
        manager.locator("#claims li", has_text="没有待处理的认领").wait_for()

        member.reload()
        member.locator("#record-needs li", has_text="周末楼道清理").wait_for()
        assert "2小时 · 10 积分" in member.locator("#record-needs li", has_text="周末楼道清理").inner_text()
        screenshot(member, f"baodao-card-{width}")
        member.goto(f"{live_server}/")
        member.locator("#points-available", has_text="10").wait_for()
        assert not member_errors and not manager_errors, member_errors + manager_errors
    finally:
        member_ctx.close()
        manager_ctx.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: str(s["viewport"]["width"]))
def test_a_new_resident_finds_their_community_and_asks_to_join(live_server, browser, database_url, size):
    tag = secrets.token_hex(2)

    async def build(conn, person):
        w = await street(conn, person, tag)
        await conn.execute("update orgs set address = '纱縠行南段12号' where id = $1", w["community"])
        return w | {"newcomer": await person("新居民")}
    world = with_connection(database_url, build)
    width = size["viewport"]["width"]
    context, page, errors = open_page(browser, live_server, world["newcomer"], size)
    try:
        page.goto(f"{live_server}/")
        page.locator("#join-hint a").click()                 # the home page says how to join
        page.wait_for_url("**/find.html")
        page.fill("#q", f"苏祠街道{tag}")
        page.locator("#search").click()
        hit = page.locator(f"#results li[data-community='{world['community']}']")
        hit.wait_for()
        assert "纱縠行南段12号" in hit.inner_text()
        hit.get_by_role("button", name="就是这里").click()
        page.fill("#building", "3栋")
        page.fill("#unit-no", "2单元501")
        fits(page, size)
        screenshot(page, f"find-ask-{width}")
        page.locator("#ask").click()
        page.locator("#asked-text", has_text=f"已向三苏社区{tag}提交申请").wait_for()
        assert not errors, errors
    finally:
        context.close()
    context, page, errors = open_page(browser, live_server, world["newcomer"], size)
    try:  # rankings and activities say why they are empty, and how to join
        for path in ("/rankings.html", "/activities.html"):
            page.goto(f"{live_server}{path}")
            page.locator("#join-hint a[href='/find.html']").wait_for()
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: str(s["viewport"]["width"]))
def test_a_neighbourhood_head_marks_a_phoneless_resident(live_server, browser, database_url, size):
    from datetime import datetime, timedelta, timezone

    from domain.checkin import activities
    from domain.people import invites, micro, residents

    async def build(conn, person):
        w = await street(conn, person, secrets.token_hex(2))
        manager = await orgs.load_actor(conn, w["manager"].id)
        leader = await person("邻里长王")
        await orgs.add_member(conn, w["admin_actor"], w["community"], leader.id, "volunteer")
        m = await micro.create(conn, manager, w["grid"], name="3栋微网格", buildings="3栋")
        elder = await residents.create(conn, manager, w["community"], name="李奶奶", household="3栋101")
        await micro.place(conn, manager, m.id, elder.id)
        invite = await invites.invite(conn, manager, kind="micro_leader", phone=leader.phone, name="邻里长王",
                                      micro_grid_id=m.id)
        await invites.answer(conn, await orgs.load_actor(conn, leader.id), invite.id, accept=True)
        now = datetime.now(timezone.utc)
        activity = await activities.create(conn, manager, community_id=w["community"], title="重阳节包饺子",
                                           starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2),
                                           points=5)
        await activities.publish(conn, manager, activity.id)
        return w | {"leader": leader, "elder": elder.id, "micro": m.id, "activity": activity.id}
    world = with_connection(database_url, build)
    width = size["viewport"]["width"]
    context, page, errors = open_page(browser, live_server, world["leader"], size)
    try:
        page.goto(f"{live_server}/micro.html")
        card = page.locator(f".micro-mine[data-micro='{world['micro']}']")
        card.wait_for()
        page.locator(f"#micro-list li[data-micro='{world['micro']}']", has_text="邻里长：邻里长王").wait_for()
        card.locator(f"option[value='{world['activity']}']").wait_for(state="attached")
        card.get_by_label("李奶奶").check()
        fits(page, size)
        screenshot(page, f"micro-mark-{width}")
        card.get_by_role("button", name="登记参加").click()
        page.locator(".toast", has_text="已登记 1 人").wait_for()
        assert not errors, errors
    finally:
        context.close()

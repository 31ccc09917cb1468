"""The time bank in Chromium at 360 px, two people on two phones: A posts a request, B accepts it and
marks it done, A confirms the actual minutes; B approves A's family link and sees the certificate."""


import httpx
import pytest

from domain import ledger
from domain.people import auth, orgs
from tests.conftest import PHONE, Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser


def build_community(database_url: str) -> dict:
    """A community with a manager, two residents (A has banked time) and an elder without a login,
    made through the domain in a thread of its own (the test session's event loop is not ours)."""
    import asyncpg
    result: dict = {}

    async def build():
        conn = await asyncpg.connect(database_url)
        try:
            people = {}
            for role, name in (("admin", "王主任"), ("manager", "李晓梅"), ("a", "刘芳"), ("b", "陈伟"),
                               ("elder", "周秀英")):
                phone = new_phone()
                user_id = await auth.create_user(conn, phone=phone, password=None, name=name, is_admin=role == "admin")
                people[role] = Login(await auth._new_session(conn, user_id), name, phone)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
            await orgs.appoint_manager(conn, admin, community.id, people["manager"].id)
            for role in ("a", "b", "elder"):
                await orgs.add_member(conn, admin, community.id, people[role].id, "volunteer")
            async with conn.transaction():
                await ledger.post(conn, unit="minutes", debit=await ledger.org_account(conn, community.id, "issuing", "minutes"),
                                  credit=await ledger.user_account(conn, people["a"].id, "minutes", community.id), amount=300,
                                  kind="adjustment", cause=("adjustment", community.id), reason="纸质台账迁移")
            result.update(people, community=community.id)
        finally:
            await conn.close()

    in_thread(build)
    assert "a" in result, "setting up the community failed"
    return result


def phone_context(browser, base: str, person: Login):
    context = browser.new_context(**PHONE)
    context.add_cookies(person.cookies(base))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    return context, page, errors


def minutes_of(base: str, person: Login) -> dict:
    return httpx.get(f"{base}/api/me/balances", headers=person.headers).json()["minutes"]


def as_minutes(text: str) -> int:
    """"28小时48分", "45分钟", "2小时" → minutes."""
    import re
    hours = re.search(r"(\d+)小时", text)
    rest = re.search(r"(\d+)分", text)
    return (int(hours.group(1)) * 60 if hours else 0) + (int(rest.group(1)) if rest else 0)


def test_post_accept_complete_confirm_on_two_phones(live_server, database_url, browser):
    city = build_community(database_url)
    a, b, manager = city["a"], city["b"], city["manager"]
    # the pool pays for the elder: something for the hall and the pool card to show
    httpx.post(f"{live_server}/api/timebank/pool/credits", headers=manager.headers,
               json={"community_id": city["community"], "minutes": 600, "reason": "街道拨付"}).raise_for_status()
    httpx.post(f"{live_server}/api/timebank/requests", headers=manager.headers,
               json={"title": "陪周奶奶去社区医院复诊", "minutes_estimate": 90, "for_user_id": city["elder"].id,
                     "use_pool": True, "place": "3 栋 2 单元", "when": "2026-10-09T09:30:00+08:00",
                     "description": "周奶奶腿脚不便，需要有人陪同步行去医院，并帮忙取药。"}).raise_for_status()

    ctx_a, page_a, errors_a = phone_context(browser, live_server, a)
    ctx_b, page_b, errors_b = phone_context(browser, live_server, b)
    try:
        # A posts a request for 60 minutes
        page_a.goto(f"{live_server}/timebank.html")
        page_a.get_by_role("button", name="＋ 发布求助").click()
        page_a.get_by_label("需要什么帮助").fill("帮忙修理厨房水龙头")
        page_a.get_by_role("button", name="1小时", exact=True).click()
        page_a.get_by_label("地点").fill("5 栋 401")
        page_a.get_by_label("说明").fill("水龙头一直滴水，需要换一个阀芯，工具我家有。")
        screenshot(page_a, "timebank-post-form")
        page_a.get_by_role("button", name="发布", exact=True).click()
        card_a = page_a.locator(".tb-request", has_text="帮忙修理厨房水龙头")
        card_a.get_by_text("待接单").wait_for()
        assert page_a.get_by_role("tab", name="我的求助").get_attribute("aria-selected") == "true"

        # B finds it in the hall and accepts: A's 60 minutes are held
        page_b.goto(f"{live_server}/timebank.html")
        card_b = page_b.locator(".tb-request", has_text="帮忙修理厨房水龙头")
        card_b.get_by_role("button", name="我来帮忙").wait_for()
        screenshot(page_b, "timebank-hall")
        card_b.get_by_role("button", name="我来帮忙").click()
        card_b.get_by_text("服务中").wait_for()
        assert minutes_of(live_server, a) == {"balance": 300, "held": 60, "available": 240}

        # B marks it done from "my services"
        page_b.get_by_role("tab", name="我的服务").click()
        card_b = page_b.locator(".tb-request", has_text="帮忙修理厨房水龙头")
        card_b.get_by_role("button", name="服务已完成").click()
        card_b.get_by_text("待确认").wait_for()

        # A confirms 45 minutes from the message (issue 33: it used to open the hall): the link lands on
        # the request with its confirm form open. Above the estimate a reason would be asked for.
        page_a.goto(f"{live_server}/messages.html")
        page_a.locator(".message-title", has_text="服务已完成，请确认").click()
        page_a.wait_for_url("**/timebank.html*")
        card_a = page_a.locator(".tb-request", has_text="帮忙修理厨房水龙头")
        minutes = card_a.get_by_label("实际服务时长（分钟）")
        minutes.wait_for()
        assert page_a.evaluate("document.activeElement.name") == "minutes"
        minutes.fill("75")
        card_a.get_by_label("超出预计的原因").wait_for()
        screenshot(page_a, "timebank-confirm")
        minutes.fill("45")
        assert card_a.get_by_label("超出预计的原因").is_hidden()
        card_a.get_by_role("button", name="确认并支付").click()
        card_a.get_by_text("已完成").wait_for()
        card_a.get_by_text("实际服务 45分钟").wait_for()
        page_a.locator("#hours-available", has_text="4小时15分").wait_for()     # 255 minutes, one format
        screenshot(page_a, "timebank-confirmed")
        assert minutes_of(live_server, a) == {"balance": 255, "held": 0, "available": 255}
        assert minutes_of(live_server, b) == {"balance": 45, "held": 0, "available": 45}

        # family: A invites B by phone, B approves, A gives B time
        page_a.get_by_role("tab", name="亲情").click()
        page_a.get_by_placeholder("家人的手机号").fill(b.phone)
        page_a.get_by_role("button", name="发送邀请").click()
        # Asked by phone: no name until B accepts (issue 16), only the number A typed, masked.
        asked = page_a.locator(".family-row", has_text=b.phone[:3] + "****" + b.phone[-4:])
        asked.get_by_text("等待对方确认").wait_for()
        assert "陈伟" not in asked.inner_text()
        page_b.goto(f"{live_server}/timebank.html?tab=family")
        page_b.get_by_role("button", name="同意").click()
        page_b.locator(".family-row", has_text="刘芳").get_by_text("已关联").wait_for()
        screenshot(page_b, "timebank-family")
        page_a.reload()
        page_a.get_by_label("分钟数", exact=True).fill("30")
        page_a.get_by_role("button", name="赠送", exact=True).click()
        page_a.get_by_text("已赠送 30分钟 给 陈伟").wait_for()
        assert minutes_of(live_server, b)["balance"] == 75

        # B's certificate lists the confirmed service
        page_b.goto(f"{live_server}/certificate.html")
        page_b.get_by_role("cell", name="帮忙修理厨房水龙头").wait_for()
        assert "刘*" in page_b.locator("#cert-rows").inner_text()
        # Issue 33: the rows add up to the total (every source of hours has a row).
        rows = page_b.locator("#cert-rows td.num").all_inner_texts()
        assert sum(as_minutes(r) for r in rows) == as_minutes(page_b.locator("#cert-total").inner_text()) == 45
        screenshot(page_b, "timebank-certificate")
        page_b.emulate_media(media="print")
        screenshot(page_b, "timebank-certificate-print")
    finally:
        ctx_a.close()
        ctx_b.close()
    assert not errors_a and not errors_b, errors_a + errors_b


def test_manager_sees_pool_and_proxy_request(live_server, database_url, browser):
    city = build_community(database_url)
    manager = city["manager"]
    httpx.post(f"{live_server}/api/timebank/pool/credits", headers=manager.headers,
               json={"community_id": city["community"], "minutes": 600, "reason": "街道拨付"}).raise_for_status()
    ctx, page, errors = phone_context(browser, live_server, manager)
    try:
        page.goto(f"{live_server}/timebank.html")
        page.get_by_role("button", name="＋ 发布求助").click()
        page.get_by_label("为谁求助").select_option(label="社区居民（管理员代发）")
        page.get_by_label("查找居民").fill("周")
        page.get_by_role("button", name="周秀英").click()
        page.get_by_text("服务对象：周秀英").wait_for()
        assert page.get_by_label("由社区公益时间池支付").is_checked()   # the usual case for an elder
        page.get_by_label("需要什么帮助").fill("每周二上门送午餐")
        page.get_by_label("预计时长（分钟）").fill("40")
        screenshot(page, "timebank-manager-post")
        page.get_by_role("button", name="发布", exact=True).click()
        card = page.locator(".tb-request", has_text="每周二上门送午餐")
        card.get_by_text("管理员代发").wait_for()
        card.get_by_text("公益时间池支付").wait_for()
        page.get_by_role("tab", name="求助大厅").click()
        page.locator("#pool-value", has_text="10").wait_for()
        screenshot(page, "timebank-manager-hall")
        page.get_by_role("button", name="切换语言 / Switch language").click()
        page.get_by_role("tab", name="Open").wait_for()
        page.locator(".tb-request", has_text="每周二上门送午餐").get_by_text("Posted by a manager").wait_for()
        screenshot(page, "timebank-manager-hall-en")
    finally:
        ctx.close()
    assert not errors, errors
    listed = httpx.get(f"{live_server}/api/timebank/requests?mine=requested", headers=manager.headers).json()["items"]
    assert (listed[0]["beneficiary"]["name"], listed[0]["use_pool"], listed[0]["proxy"]) == ("周秀英", True, True)



def bank(database_url: str, person: Login, community_id: int, minutes: int) -> None:
    """An opening balance of minutes (a paper ledger moved over), in a thread of its own."""
    import asyncpg

    async def post():
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await ledger.post(conn, unit="minutes", kind="adjustment", cause=("adjustment", community_id),
                                  debit=await ledger.org_account(conn, community_id, "issuing", "minutes"),
                                  credit=await ledger.user_account(conn, person.id, "minutes", community_id),
                                  amount=minutes, reason="纸质台账迁移")
        finally:
            await conn.close()

    in_thread(post)


def test_a_newcomer_with_3_minutes_is_offered_a_smaller_request_or_the_pool(live_server, database_url, browser):
    """Issue 33: the newcomer with 3 minutes banked asks for an hour. The server refuses it and nothing
    is posted; the page shows the server's answer in Chinese, what is banked, a 3-minute request and
    the community pool. The smaller request then goes through and volunteers see it."""
    city = build_community(database_url)
    newcomer, volunteer = city["b"], city["a"]
    bank(database_url, newcomer, city["community"], 3)
    ctx, page, errors = phone_context(browser, live_server, newcomer)
    try:
        page.goto(f"{live_server}/timebank.html")
        page.get_by_role("button", name="＋ 发布求助").click()
        page.get_by_label("需要什么帮助").fill("陪我去社区医院")
        page.get_by_role("button", name="1小时", exact=True).click()
        page.get_by_role("button", name="发布", exact=True).click()
        offer = page.locator(".tb-afford")
        offer.wait_for()
        assert offer.get_attribute("role") == "alert"
        text = offer.inner_text()
        assert "您存储的时间不够支付这次求助" in text            # the server's answer, as it came
        assert "您的时间银行可用 3分钟，不够这次求助的 1小时" in text
        assert "公益时间池" in text
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "timebank-newcomer-short-360")
        mine = httpx.get(f"{live_server}/api/timebank/requests?mine=requested", headers=newcomer.headers).json()
        assert mine["items"] == []                                 # refused by the server: nothing posted

        offer.get_by_role("button", name="改为 3分钟 的求助").click()
        assert page.get_by_label("预计时长（分钟）").input_value() == "3"
        assert page.locator(".tb-afford").count() == 0
        page.get_by_role("button", name="发布", exact=True).click()
        page.locator(".tb-request", has_text="陪我去社区医院").get_by_text("待接单").wait_for()
        hall = httpx.get(f"{live_server}/api/timebank/requests?state=open", headers=volunteer.headers).json()
        assert [(r["title"], r["minutes_estimate"]) for r in hall["items"] if r["title"] == "陪我去社区医院"] == [
            ("陪我去社区医院", 3)]
    finally:
        ctx.close()
    assert not errors, errors

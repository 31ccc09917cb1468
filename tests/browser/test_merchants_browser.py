"""爱心商家 in Chromium at 360 px (issue 35), the acceptance's journey: a street invites a barber, who
accepts with a code and adds a staff member; the barber publishes an offer and the community approves
it; a resident of another community in the street's spending area finds it and shows a voucher; the
staff scan it with the fake camera and the points move; the month's statement shows it, and the
street's settlement shows it against the issuing community. Screenshots: tests/artifacts/merchants35-*.png."""

from datetime import datetime

import httpx
import pytest

from domain import ledger
from domain.core import clock, codes
from domain.people import auth, orgs
from tests.browser.test_checkin_browser import with_connection
from tests.browser.test_scanning_browser import camera_browser, new_page, qr_video
from tests.browser.test_timebank_browser import phone_context
from tests.conftest import Login, new_phone, register_sync, screenshot

pytestmark = pytest.mark.browser


def street(database_url: str) -> dict:
    """A street of two communities (甲 where the barber is, 乙 where the resident lives, with 100
    points of 乙's), its manager, 甲's manager, and the person who will be the barber's staff."""
    async def build(conn):
        people = {}
        for role, name in (("admin", "区管理员"), ("street", "街道刘主任"), ("ma", "甲社区主任"), ("mb", "乙社区主任"),
                           ("resident", "张三明"), ("staff", "小李")):
            user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                             is_admin=role == "admin")
            people[role] = Login(await auth._new_session(conn, user_id), name,
                                 await conn.fetchval("select phone from users where id = $1", user_id))
        admin = await orgs.load_actor(conn, people["admin"].id)
        district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
        s = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
        a = await orgs.create_org(conn, admin, kind="community", name="甲社区", parent_id=s.id)
        b = await orgs.create_org(conn, admin, kind="community", name="乙社区", parent_id=s.id)
        await orgs.appoint_manager(conn, admin, s.id, people["street"].id)
        await orgs.appoint_manager(conn, admin, a.id, people["ma"].id)
        await orgs.appoint_manager(conn, admin, b.id, people["mb"].id)
        await orgs.add_member(conn, admin, b.id, people["resident"].id, "volunteer")
        async with conn.transaction():
            await ledger.post(conn, unit="points", debit=await ledger.org_account(conn, b.id, "issuing", "points"),
                              credit=await ledger.user_account(conn, people["resident"].id, "points", b.id),
                              amount=500, kind="adjustment", cause=("adjustment", b.id), reason="志愿服务")
        return {**people, "street_id": s.id, "a": a.id, "b": b.id}
    return with_connection(database_url, build)


def points_of(base: str, person: Login) -> int:
    return httpx.get(f"{base}/api/me/balances", headers=person.headers).json()["points"]["balance"]


def test_a_barber_joins_the_street_and_is_paid_at_the_counter(live_server, database_url, browser, tmp_path):
    city = street(database_url)
    base = live_server
    owner_phone = new_phone()

    # 1. The street invites the barber, serving 甲社区.
    context, page, errors = phone_context(browser, base, city["street"])
    page.goto(f"{base}/merchants.html?org={city['street_id']}")
    page.fill("#m-name", "老王理发店")
    page.fill("#m-category", "理发")
    page.fill("#m-address", "幸福路12号")
    page.fill("#m-owner", "王师傅")
    page.fill("#m-phone", owner_phone)
    page.locator("#m-communities label", has_text="甲社区").click()
    page.get_by_role("button", name="发送邀请").click()
    page.locator("#merchant-list li", has_text="老王理发店").wait_for()
    screenshot(page, "merchants35-street-invites-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()

    # 2. The owner registers with the SMS code (claiming the account the invitation made), accepts on
    #    the merchant page and invites a staff member, who accepts on theirs.
    registered = register_sync(base, owner_phone, "barber-pass-1", "王师傅")
    assert registered.status_code == 201, registered.text
    r = registered.json()
    owner = Login(auth.Login(token=r["token"], csrf=r["csrf"], user_id=r["user_id"]), "王师傅", owner_phone)
    context, page, errors = phone_context(browser, base, owner)
    page.goto(f"{base}/merchant.html")
    page.locator("#invitation-list li", has_text="老王理发店").wait_for()
    page.get_by_role("button", name="接受").click()
    page.wait_for_selector("#staff:not([hidden])")
    page.fill("#staff-name", "小李")
    page.fill("#staff-phone", city["staff"].phone)
    page.get_by_role("button", name="邀请店员").click()
    page.locator(".toast", has_text="邀请已发送").wait_for()

    # 3. The barber publishes an offer (valid all day, every day).
    page.fill("#offer-name", "理发一次")
    page.fill("#offer-price", "200")
    page.fill("#offer-limit", "2")
    page.fill("#offer-stock", "20")
    page.fill("#offer-opens", "00:00")
    page.fill("#offer-closes", "23:59")
    page.get_by_role("button", name="提交社区审核").click()
    page.locator("#offer-list li", has_text="待审核").wait_for()
    screenshot(page, "merchants35-owner-offer-360")
    merchant_id = httpx.get(f"{base}/api/merchants", headers=owner.headers).json()[0]["id"]
    context.close()

    context, page, errors = phone_context(browser, base, city["staff"])
    page.goto(f"{base}/merchant.html")
    page.locator("#invitation-list li", has_text="老王理发店").wait_for()
    page.get_by_role("button", name="接受").click()
    page.wait_for_selector("#counter:not([hidden])")
    context.close()

    # 4. 甲社区's manager approves the offer.
    context, page, errors = phone_context(browser, base, city["ma"])
    page.goto(f"{base}/merchants.html?org={city['a']}")
    page.locator("#pending-list li", has_text="理发一次").wait_for()
    page.locator("#pending-list li", has_text="理发一次").get_by_role("button", name="通过").click()
    page.locator(".toast", has_text="已通过").wait_for()
    context.close()

    # 5. A resident of 乙社区 (the same spending area) finds it and shows a voucher.
    page_setup = httpx.put(f"{base}/api/orgs/{city['street_id']}/spending-area", headers=city["street"].headers,
                           json={"unit": "points", "enabled": True})
    assert page_setup.status_code == 200, page_setup.text
    before = points_of(base, city["resident"])
    context, page, errors = phone_context(browser, base, city["resident"])
    page.goto(f"{base}/offers.html")
    offer = page.locator("#offer-list li", has_text="理发一次")
    offer.wait_for()
    assert "老王理发店" in offer.inner_text() and "200" in offer.inner_text()
    offer.get_by_role("button", name="出示兑换码").click()
    page.wait_for_selector("#voucher:not([hidden])")
    shown = page.text_content("#voucher-code").replace(" ", "").lower()
    screenshot(page, "merchants35-resident-voucher-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert errors == []
    context.close()

    # 6. The staff scan it with the (fake) camera, see the offer and the masked name, and confirm.
    video = qr_video(codes.url_for(shown), tmp_path, "voucher")
    chromium = camera_browser(browser, video)
    try:
        page, cam_errors = new_page(chromium, city["staff"].cookies(base))
        page.goto(f"{base}/merchant.html")
        page.wait_for_selector("#camera-start:not([hidden])")
        page.click("#camera-start")
        page.wait_for_selector("#preview:not([hidden])")
        assert page.text_content("#preview-offer") == "理发一次"
        assert "张*明" in page.text_content("#preview-person")
        page.click("#confirm")
        page.locator("#today li", has_text="理发一次").wait_for()
        screenshot(page, "merchants35-staff-scanned-360")
        assert cam_errors == []
    finally:
        chromium.close()
    assert points_of(base, city["resident"]) == before - 200

    # 7. The month's statement (on the barber's page) shows it; the street's settlement shows it
    #    against the issuing community, 乙社区.
    context, page, errors = phone_context(browser, base, owner)
    page.goto(f"{base}/merchant.html?id={merchant_id}")
    page.locator("#statement-totals", has_text="兑换 1 笔").wait_for()
    assert "200" in page.text_content("#statement-totals")
    assert "乙社区" in page.text_content("#statement-issuers")
    month = datetime.now(clock.zone()).strftime("%Y-%m")
    assert page.get_attribute("#statement-pdf", "href").endswith(f"month={month}&format=pdf")
    pdf = httpx.get(f"{base}{page.get_attribute('#statement-pdf', 'href')}", headers=owner.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    screenshot(page, "merchants35-statement-360")
    context.close()

    context, page, errors = phone_context(browser, base, city["street"])
    page.goto(f"{base}/settlement.html?org={city['street_id']}")
    page.wait_for_selector("#merchants:not([hidden])")
    row = page.locator("#merchant-rows tr", has_text="老王理发店").inner_text()
    assert "乙社区" in row and "200" in row
    screenshot(page, "merchants35-settlement-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()

    # The English switch: the barber's page reads in English, in large text, still inside 360 px.
    context, page, errors = phone_context(browser, base, city["staff"])
    context.add_init_script("localStorage.setItem('linli.lang', 'en'); localStorage.setItem('linli.large_text', 'on')")
    page.goto(f"{base}/merchant.html")
    page.locator("#today li", has_text="理发一次").wait_for()
    assert page.text_content("#counter-title") == "At the counter"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "merchants35-staff-english-large-360")
    assert errors == []
    context.close()

"""The settlement page in Chromium at 360 px (issue 19): the street's admin opens points spending
for the street, a volunteer of 甲 redeems in 乙's shop, and the month's settlement shows 甲 → 乙."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from domain import ledger
from domain.core import clock
from domain.people import auth, orgs
from tests.browser.test_timebank_browser import phone_context
from tests.conftest import Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser


def build(database_url: str) -> dict:
    import asyncpg
    result: dict = {}

    async def run():
        conn = await asyncpg.connect(database_url)
        try:
            people = {}
            for role, name in (("admin", "区管理员"), ("ma", "甲主任"), ("mb", "乙主任"), ("v", "王芳")):
                user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                                 is_admin=role == "admin")
                people[role] = Login(await auth._new_session(conn, user_id), name)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
            a = await orgs.create_org(conn, admin, kind="community", name="甲社区", parent_id=street.id)
            b = await orgs.create_org(conn, admin, kind="community", name="乙社区", parent_id=street.id)
            await orgs.appoint_manager(conn, admin, a.id, people["ma"].id)
            await orgs.appoint_manager(conn, admin, b.id, people["mb"].id)
            await orgs.add_member(conn, admin, a.id, people["v"].id, "volunteer")
            async with conn.transaction():
                await ledger.post(conn, unit="points", debit=await ledger.org_account(conn, a.id, "issuing", "points"),
                                  credit=await ledger.user_account(conn, people["v"].id, "points", a.id), amount=200,
                                  kind="adjustment", cause=("adjustment", a.id), reason="活动积分")
            result.update(people, street=street.id, a=a.id, b=b.id)
        finally:
            await conn.close()

    in_thread(run)
    assert "v" in result
    return result


def test_admin_opens_the_street_and_reads_its_settlement(live_server, database_url, browser):
    city = build(database_url)
    context, page, errors = phone_context(browser, live_server, city["admin"])
    try:
        # The phone's calendar is two months behind: the page still opens on the community's own
        # month (the server's), where today's spending is (the phone's month showed nothing).
        page.clock.set_fixed_time(datetime.now(timezone.utc) - timedelta(days=60))
        page.goto(f"{live_server}/settlement.html?org={city['street']}")
        page.wait_for_selector("#policy-form:not([hidden])")
        assert "未开通" in page.text_content("#policy-points")
        page.get_by_role("button", name="开通").click()
        page.locator("#policy-points").filter(has_text="已开通").wait_for()

        reward = httpx.post(f"{live_server}/api/rewards", headers=city["mb"].headers, json={
            "community_id": city["b"], "name": "大米 5kg", "cost_points": 80, "stock": 5}).json()
        asked = httpx.post(f"{live_server}/api/redemptions", headers=city["v"].headers,
                           json={"reward_id": reward["id"], "quantity": 1})
        assert asked.status_code == 201, asked.text
        assert httpx.post(f"{live_server}/api/redemptions/{asked.json()['id']}/approve",
                          headers=city["mb"].headers).status_code == 200

        page.reload()
        page.wait_for_selector("#pairs:not([hidden])")
        row = page.locator("#pair-rows tr").first.inner_text()
        assert "甲社区" in row and "乙社区" in row and "80" in row
        month = datetime.now(clock.zone()).strftime("%Y-%m")  # the deployment's zone
        assert page.input_value("#month") == month
        assert page.get_attribute("#csv", "href").endswith(f"month={month}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, "settlement-street-360")
        assert not errors, errors

        # Issue 33: spending in another community, the volunteer chooses the shop by its community.
        httpx.post(f"{live_server}/api/rewards", headers=city["ma"].headers, json={
            "community_id": city["a"], "name": "食用油", "cost_points": 50, "stock": 5}).raise_for_status()
        shopper, shop, shop_errors = phone_context(browser, live_server, city["v"])
        try:
            shop.goto(f"{live_server}/shop.html")
            shop.locator("#rewards li", has_text="食用油").wait_for()
            shop.select_option("#shop-community", label="乙社区")
            shop.locator("#rewards li", has_text="食用油").wait_for(state="detached")
            shop.locator("#rewards li", has_text="大米 5kg").wait_for()
            assert shop.evaluate("document.documentElement.scrollWidth") <= 360
            screenshot(shop, "shop-choose-community-360")
            assert not shop_errors, shop_errors
        finally:
            shopper.close()
    finally:
        context.close()

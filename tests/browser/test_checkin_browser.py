"""QR check-in in Chromium at 360 px (issue 5): a volunteer opens /s/<code> logged out, logs in on the
real login page and lands back checked in; the kiosk's QR decodes to the rotating code and changes
after the rotation period; a manager annuls a check-in from the attendance page and the volunteer's
balance drops back. Screenshots land in tests/artifacts/ (checkin-*.png)."""

import io
import json
from datetime import timedelta

import httpx
import pytest
import zxingcpp
from PIL import Image

from domain.checkin import activities
from domain.core import clock, codes, qr
from domain.people import auth, orgs
from tests.conftest import in_thread, new_phone, register_sync, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "secret-pass-1"


class Login:
    def __init__(self, user_id: int, token: str, csrf: str):
        self.id, self.token, self.csrf = user_id, token, csrf

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cookies(self, base: str) -> list[dict]:
        return [{"name": "linli_session", "value": self.token, "url": base},
                {"name": "linli_csrf", "value": self.csrf, "url": base}]


def with_connection(database_url: str, build) -> dict:
    """Run `build(conn) -> dict` on a connection of its own, in a thread with its own event loop
    (browser tests are synchronous; the session's event loop is not ours)."""
    import asyncpg
    result: dict = {}

    async def run():
        conn = await asyncpg.connect(database_url)
        try:
            await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
            result.update(await build(conn))
        finally:
            await conn.close()

    in_thread(run)
    assert result, "setting up the data failed"
    return result


def city(database_url: str, **activity) -> dict:
    """An admin, a community with its manager, and one published activity running now."""
    async def build(conn):
        people = {}
        for role, name in (("admin", "王主任"), ("manager", "李晓梅")):
            user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                             is_admin=role == "admin")
            login = await auth._new_session(conn, user_id)
            people[role] = Login(user_id, login.token, login.csrf)
        admin = await orgs.load_actor(conn, people["admin"].id)
        district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
        street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
        community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
        await orgs.appoint_manager(conn, admin, community.id, people["manager"].id)
        manager = await orgs.load_actor(conn, people["manager"].id)
        now = clock.now()
        made = await activities.create(conn, manager, community_id=community.id, **{
            "title": "垃圾分类宣传", "place": "三苏社区党群服务中心", "starts_at": now - timedelta(minutes=20),
            "ends_at": now + timedelta(hours=2), "points": 10, **activity})
        await activities.publish(conn, manager, made.id)
        poster = await codes.latest(conn, "poster", made.id)
        return {**people, "community": community.id, "activity": made.id, "poster": poster.code}
    return with_connection(database_url, build)


def add_member(database_url: str, admin: Login, community_id: int, user_id: int) -> None:
    async def build(conn):
        await orgs.add_member(conn, await orgs.load_actor(conn, admin.id), community_id, user_id, "volunteer")
        return {"ok": True}
    with_connection(database_url, build)


def volunteer(base: str, database_url: str, world: dict, name: str = "刘芳") -> tuple[Login, str]:
    """A person registered through the API (with a password), made a member of the community."""
    phone = new_phone()
    with httpx.Client(base_url=base) as http:
        r = register_sync(base, phone, PASSWORD, name)
        assert r.status_code == 201, r.text
        body = r.json()
    add_member(database_url, world["admin"], world["community"], body["user_id"])
    return Login(body["user_id"], body["token"], body["csrf"]), phone


def balances(base: str, person: Login) -> dict:
    r = httpx.get(f"{base}/api/me/balances", headers=person.headers)
    return {unit: r.json()[unit]["balance"] for unit in ("points", "minutes")}


def decode_page(page) -> zxingcpp.Result:
    image = Image.open(io.BytesIO(page.screenshot())).convert("L")
    found = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1, f"expected one QR on the page, found {len(found)}"
    return found[0]


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_logged_out_scan_logs_in_and_lands_back_checked_in(live_server, phone_page, database_url):
    world = city(database_url)
    person, phone = volunteer(live_server, database_url, world)
    page = phone_page
    page.goto(f"{live_server}/s/{world['poster']}")
    page.wait_for_url("**/login.html?next=*")
    assert f"/s/{world['poster']}" in page.url.replace("%2F", "/")
    screenshot(page, "checkin-login-360")

    # A phone that never logged in here opens on 注册 (issue 33); this person has an account.
    page.click("#tab-login")
    page.fill("#login-phone", phone)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**/s/{world['poster']}")
    page.locator("#result-title", has_text="已签到").wait_for()
    assert "+10 积分" in page.locator("#result-amounts").inner_text()
    assert "垃圾分类宣传" in page.locator("#activity-title").inner_text()
    no_sideways_scroll(page)
    screenshot(page, "checkin-checked-in-360")
    assert balances(live_server, person) == {"points": 10, "minutes": 0}

    # Reloading the page replays its own scan: still checked in, nothing credited twice.
    page.reload()
    page.locator("#result-title", has_text="已签到").wait_for()
    page.locator("#result-note", has_text="无需重复扫码").wait_for()
    assert balances(live_server, person) == {"points": 10, "minutes": 0}

    # A refused scan reads as words, not a stack trace.
    page.goto(f"{live_server}/s/{codes.new_code()}")
    page.locator("#result-title", has_text="没有这个编号").wait_for()
    screenshot(page, "checkin-unknown-code-360")

    # The in-page scanner takes a pasted link.
    page.goto(f"{live_server}/scan.html")
    page.fill("#paste-code", codes.url_for(world["poster"]))
    page.click("#paste-form button[type=submit]")
    page.wait_for_url(f"**/s/{world['poster']}")
    page.locator("#result-title", has_text="已签到").wait_for()
    page.goto(f"{live_server}/scan.html")
    no_sideways_scroll(page)
    screenshot(page, "checkin-scanner-360")


def test_kiosk_shows_the_rotating_code_and_changes_it(live_server, phone_page, database_url):
    world = city(database_url, rotation_seconds=3)
    person, _ = volunteer(live_server, database_url, world, "陈伟")
    page = phone_page
    page.context.add_cookies(world["manager"].cookies(live_server))
    page.goto(f"{live_server}/kiosk/{world['activity']}")
    page.wait_for_function("() => document.getElementById('qr').dataset.code"
                           " && document.getElementById('qr-image').complete")
    first = page.locator("#qr").get_attribute("data-code")
    result = decode_page(page)
    assert result.text == codes.url_for(first) and int(result.extra["Version"]) <= qr.MAX_VERSION
    assert page.locator("#title").inner_text() == "垃圾分类宣传"
    no_sideways_scroll(page)
    screenshot(page, "checkin-kiosk-360")

    # The screen's current code checks people in, and the live count follows.
    r = httpx.post(f"{live_server}/api/scans", json={"code": first, "nonce": "kiosk-1"}, headers=person.headers)
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text

    page.wait_for_function("(first) => document.getElementById('qr').dataset.code !== first", arg=first, timeout=15000)
    page.wait_for_function("() => document.getElementById('qr-image').complete")
    second = page.locator("#qr").get_attribute("data-code")
    assert second != first and decode_page(page).text == codes.url_for(second)
    page.locator("#inside", has_text="1").wait_for(timeout=15000)
    screenshot(page, "checkin-kiosk-rotated-360")
    page.set_viewport_size({"width": 1280, "height": 800})  # the screen at the venue
    assert decode_page(page).text.startswith(codes.url_for(""))
    screenshot(page, "checkin-kiosk-1280")


def test_manager_annuls_a_check_in_and_the_balance_drops_back(live_server, phone_page, database_url):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "杨丽")
    other, _ = volunteer(live_server, database_url, world, "赵强")
    for who in (person, other):
        r = httpx.post(f"{live_server}/api/scans", json={"code": world["poster"]}, headers=who.headers)
        assert r.json()["action"] == "checked_in", r.text
    assert balances(live_server, person) == {"points": 10, "minutes": 0}

    page = phone_page
    page.context.add_cookies(world["manager"].cookies(live_server))
    page.goto(f"{live_server}/activities.html?id={world['activity']}")
    row = page.locator("#att-rows li", has_text="杨丽")
    row.wait_for()
    assert page.locator("#s-inside").inner_text() == "2"
    screenshot(page, "checkin-attendance-360")

    row.get_by_role("button", name="作废").click()
    page.locator("#annul-dialog").wait_for()
    page.fill("#annul-reason", "代签，本人不在现场")
    screenshot(page, "checkin-annul-dialog-360")
    page.click("#annul-confirm")
    page.locator("#att-rows li", has_text="杨丽").locator(".badge", has_text="已作废").wait_for()
    assert page.locator("#s-inside").inner_text() == "1" and page.locator("#s-annulled").inner_text() == "1"
    page.locator(".toast").wait_for(state="detached")
    page.set_viewport_size({"width": 360, "height": 1700})  # the whole page, without the tab bar over it
    screenshot(page, "checkin-annulled-360")
    assert balances(live_server, person) == {"points": 0, "minutes": 0}
    assert balances(live_server, other) == {"points": 10, "minutes": 0}


def test_card_station_and_lists_at_360(live_server, phone_page, database_url):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "周秀英")
    page = phone_page

    # The volunteer's own card, and the upcoming list.
    page.context.add_cookies(person.cookies(live_server))
    page.goto(f"{live_server}/card.html")
    page.wait_for_function("() => document.getElementById('qr-image').complete"
                           " && !document.getElementById('card').hidden")
    card = httpx.get(f"{live_server}/api/me/card", headers=person.headers).json()
    assert decode_page(page).text == card["url"]
    no_sideways_scroll(page)
    screenshot(page, "checkin-card-360")
    page.goto(f"{live_server}/activities.html")
    page.locator(".activity-item", has_text="垃圾分类宣传").wait_for()
    screenshot(page, "checkin-upcoming-360")

    # The manager's station checks the card's owner in from a typed code.
    page.context.clear_cookies()
    page.context.add_cookies(world["manager"].cookies(live_server))
    page.goto(f"{live_server}/station.html?activity={world['activity']}")
    page.fill("#member-code", card["url"])
    page.click("#code-submit")
    page.locator(".scan-log li", has_text="周秀英").wait_for()
    assert "已签到" in page.locator(".scan-log li").first.inner_text()
    page.locator("#count-inside", has_text="现场 1 人").wait_for()
    no_sideways_scroll(page)
    screenshot(page, "checkin-station-360")
    assert balances(live_server, person)["points"] == 10

    page.goto(f"{live_server}/activities.html")
    page.locator(".activity-item", has_text="垃圾分类宣传").wait_for()
    page.click("#new-toggle")
    page.fill("#f-title", "周末义诊")
    no_sideways_scroll(page)
    screenshot(page, "checkin-activities-new-360")
    page.click("#new-form button[type=submit]")
    page.wait_for_url("**/activities.html?id=*")
    page.locator("#d-title", has_text="周末义诊").wait_for()
    page.get_by_role("button", name="发布").click()
    page.locator("#d-state .badge", has_text="已发布").wait_for()
    screenshot(page, "checkin-activity-published-360")

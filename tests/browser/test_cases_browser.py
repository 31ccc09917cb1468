"""The grid loop (闭环) in Chromium, at 360 px and at 1280 px: a courier reports a hazard with a photo;
the community merges a duplicate and sends the case up; the street dispatches it to a property company
with a 48-hour deadline; the company's handler accepts it, adds a photo and marks it done; the courier
gets the message and the bonus at closure and rates it 满意. A second case misses its deadline and
escalates to the street, then the district, each with a message (frozen clock, the sweep called)."""

import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from PIL import Image, ImageDraw

from domain import cases, partners
from domain.core import clock, db
from domain.people import auth, orgs
from tests.conftest import ARTIFACTS, Login, in_thread, new_phone

pytestmark = [pytest.mark.browser, pytest.mark.heavy]  # the longest journey (minutes): started first

T0 = datetime(2026, 6, 2, 1, 30, tzinfo=timezone.utc)  # 09:30 in Shanghai


def with_pool(make):
    """Run `make(pool)` on a pool of its own, on an event loop of its own (the browser tests are synchronous)."""
    async def run():
        pool = await db.create_pool(DATABASE["url"], min_size=1, max_size=2)
        try:
            return await make(pool)
        finally:
            await pool.close()

    return in_thread(run)


DATABASE: dict = {}


def build_street(tag: str) -> dict:
    """A district, a street with a 48-hour category and a property company (its handler joined by
    invitation), a community with a grid, its manager and a courier; each person logged in."""
    async def make(pool):
        people = {}
        async with pool.acquire() as conn:
            for role, name in (("admin", "王主任"), ("manager", "李晓梅"), ("street", "张书记"), ("district", "赵区长"),
                               ("courier", "马骏"), ("handler", "陈师傅")):
                user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                                 is_admin=role == "admin")
                phone = await conn.fetchval("select phone from users where id = $1", user_id)
                people[role] = Login(await auth._new_session(conn, user_id), name, phone)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name=f"苏祠街道{tag}", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
            grid = await orgs.create_org(conn, admin, kind="grid", name="第一网格", parent_id=community.id)
            await orgs.appoint_manager(conn, admin, community.id, people["manager"].id)
            await orgs.appoint_manager(conn, admin, street.id, people["street"].id)
            await orgs.appoint_manager(conn, admin, district.id, people["district"].id)
            await orgs.add_member(conn, admin, grid.id, people["courier"].id, "courier")
            street_actor = await orgs.load_actor(conn, people["street"].id)
            await cases.set_category(conn, street_actor, street.id, name="占道堵塞", deadline_hours=48)
            company = await partners.create(conn, street_actor, kind="property", name="蜀润物业", parent_id=street.id)
            invitation = await partners.invite(conn, street_actor, company.id, phone=people["handler"].phone,
                                               name="陈师傅")
            await partners.answer(conn, await orgs.load_actor(conn, people["handler"].id), invitation.id, accept=True)
        return {**people, "community": community.id, "street_id": street.id, "company": company.id}
    return with_pool(make)


def street_photo(color=(52, 86, 160)) -> bytes:
    image = Image.new("RGB", (1600, 1200), (186, 198, 210))
    ImageDraw.Draw(image).rectangle((400, 500, 1200, 1000), fill=color)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def sweep(case_id: int) -> int:
    return with_pool(lambda pool: cases.escalate_overdue(pool, clock.now(), case_ids=[case_id]))


def api(base: str, person: Login, method: str, path: str, **kwargs) -> dict:
    r = httpx.request(method, f"{base}{path}", headers=person.headers, timeout=30, **kwargs)
    assert r.status_code in (200, 201), (path, r.status_code, r.text)
    return r.json()


def file_report(base: str, courier: Login, text: str) -> int:
    return api(base, courier, "POST", "/api/reports", files={
        "kind": (None, "hazard"), "text": (None, text), "place": (None, "北门"),
        "photo": ("p.jpg", street_photo((160, 60, 40)), "image/jpeg")})["id"]


def case_of(base: str, manager: Login, community: int, report_id: int) -> int:
    page = api(base, manager, "GET", f"/api/cases?view=community&org_id={community}")
    return next(k["id"] for k in page["items"] if k["report_id"] == report_id)


class Pages:
    """One browser context per person, at the journey's width; console errors fail the test."""

    def __init__(self, browser, base: str, width: int):
        self.browser, self.base, self.width, self.errors, self.contexts = browser, base, width, [], []

    def open(self, person: Login, path: str):
        context = self.browser.new_context(viewport={"width": self.width, "height": 800}, device_scale_factor=1)
        context.add_cookies(person.cookies(self.base))
        context.grant_permissions(["geolocation"], origin=self.base)
        context.set_geolocation({"latitude": 30.0421, "longitude": 103.8313, "accuracy": 12})
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
                else None)
        self.contexts.append(context)
        page.goto(f"{self.base}{path}")
        return page

    def shot(self, page, name: str) -> None:
        """The viewport stretched to the page, so the fixed header and tab bar sit where they belong."""
        page.evaluate("document.getElementById('toast-region')?.replaceChildren()")
        ARTIFACTS.mkdir(exist_ok=True)
        page.set_viewport_size({"width": self.width, "height": max(800, page.evaluate("document.documentElement.scrollHeight"))})
        page.screenshot(path=str(ARTIFACTS / f"cases-{name}-{self.width}.png"))
        page.set_viewport_size({"width": self.width, "height": 800})

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def open_case(page, case_id: int) -> None:
    page.locator(f"a.case-item[data-case-id='{case_id}']").click()
    page.locator("#detail:not([hidden]) h2").wait_for()


def test_the_grid_loop_from_a_couriers_photo_to_a_rating_and_an_overdue_case_escalating(
        live_server, database_url, browser):
    DATABASE["url"] = database_url
    for width in (360, 1280):
        clock.freeze(T0)
        world = build_street(str(width))
        courier, manager, street, handler = world["courier"], world["manager"], world["street"], world["handler"]
        pages = Pages(browser, live_server, width)

        # The courier reports a hazard with a photo from the phone page.
        phone = pages.open(courier, "/courier.html")
        phone.click(".kind-button[data-kind=hazard]")
        phone.locator("#geo-status.is-ok").wait_for()
        phone.fill("#text", "北门消防通道被一辆面包车占用")
        phone.fill("#place", "三苏社区北门")
        phone.set_input_files("#photo", files=[{"name": "IMG_1.jpg", "mimeType": "image/jpeg", "buffer": street_photo()}])
        phone.locator("#photo-preview:not([hidden])").wait_for()
        phone.click("#submit")
        phone.locator("#mine .report-item[data-state=pending]").wait_for()
        [report] = api(live_server, courier, "GET", "/api/reports?mine=true")["items"]
        duplicate = file_report(live_server, courier, "北门通道又被面包车堵住")
        for report_id in (report["id"], duplicate):  # the community confirms both (reports.html has its own test)
            api(live_server, manager, "POST", f"/api/reports/{report_id}/verify")
        first = case_of(live_server, manager, world["community"], report["id"])
        second = case_of(live_server, manager, world["community"], duplicate)
        points_before = api(live_server, courier, "GET", "/api/me")["balances"]["points"]["balance"]

        # The community merges the duplicate into the first case and sends that one up.
        desk = pages.open(manager, "/cases.html")
        open_case(desk, second)
        desk.select_option("#detail select[name=into]", str(first))
        desk.get_by_role("button", name="合并").click()
        desk.locator("#detail .badges", has_text="已合并").wait_for()
        desk.goto(f"{live_server}/cases.html#case-{first}")
        desk.locator("#detail:not([hidden]) h2").wait_for()
        desk.locator("#detail select[name=priority]").select_option("urgent")
        pages.shot(desk, "community-sort")
        desk.get_by_role("button", name="上报街道派单").click()
        desk.locator("#detail .badges", has_text="已梳理").wait_for()
        assert desk.locator("#detail .case-history").get_by_text("上报街道").count() == 1

        # The street dispatches it to the property company: 48 hours from now.
        office = pages.open(street, "/cases.html")
        open_case(office, first)
        office.locator("#detail select[name=handler_id]").select_option(str(world["company"]))
        pages.shot(office, "street-dispatch")
        office.get_by_role("button", name="派单", exact=True).click()
        office.locator("#detail .badges", has_text="已派单").wait_for()
        shown = api(live_server, street, "GET", f"/api/cases/{first}")
        assert datetime.fromisoformat(shown["deadline"]) == T0 + timedelta(hours=48)

        # The company's handler accepts it, adds a photo and marks it done.
        clock.advance(timedelta(hours=6))
        work = pages.open(handler, "/cases.html")
        open_case(work, first)
        work.get_by_role("button", name="受理", exact=True).click()
        work.locator("#detail .badges", has_text="办理中").wait_for()
        work.locator("#detail textarea[name=note]").first.fill("已联系车主挪车，通道已畅通")
        work.set_input_files("#detail input[type=file]", files=[{"name": "after.jpg", "mimeType": "image/jpeg",
                                                                 "buffer": street_photo((40, 150, 70))}])
        work.get_by_role("button", name="提交进展").click()
        work.locator("#detail .case-history img").first.wait_for()
        work.get_by_role("button", name="确认办结").click()
        work.locator("#detail .badges", has_text="已办结").wait_for()
        pages.shot(work, "handler-done")

        # The courier gets the message and the bonus paid at closure, then rates it 满意.
        inbox = pages.open(courier, "/messages.html")
        inbox.get_by_text("按时办结奖励").first.wait_for()
        inbox.get_by_text("事项已办结，请评价").first.wait_for()
        points = api(live_server, courier, "GET", "/api/me")["balances"]["points"]["balance"]
        assert points == points_before + cases.rules.DEFAULT_CASE_BONUS
        mine = pages.open(courier, f"/cases.html#case-{first}")
        mine.locator("#detail:not([hidden]) h2").wait_for()
        pages.shot(mine, "courier-rate")
        mine.get_by_role("button", name="满意", exact=True).click()
        mine.locator("#detail .badges", has_text="已评价").wait_for()
        assert api(live_server, courier, "GET", "/api/me")["balances"]["points"]["balance"] == points

        # A second case misses its 48 hours: the street, then the district, each get a message.
        late = file_report(live_server, courier, "7栋楼道堆放杂物")
        api(live_server, manager, "POST", f"/api/reports/{late}/verify")
        late_case = case_of(live_server, manager, world["community"], late)
        api(live_server, manager, "POST", f"/api/cases/{late_case}/sort", json={"send_up": True})
        category = api(live_server, street, "GET", f"/api/streets/{world['street_id']}/case-categories")[0]["id"]
        api(live_server, street, "POST", f"/api/cases/{late_case}/dispatch",
            json={"handler_id": world["company"], "category_id": category})
        clock.advance(timedelta(hours=49))
        assert sweep(late_case) == 1
        office.goto(f"{live_server}/cases.html")
        office.locator(f"a.case-item[data-case-id='{late_case}'].is-overdue", has_text="已升级至街道").wait_for()
        pages.shot(office, "street-overdue")
        street_inbox = pages.open(street, "/messages.html")
        street_inbox.get_by_text("超期事项督办").first.wait_for()
        clock.advance(timedelta(hours=24))
        assert sweep(late_case) == 1
        district_inbox = pages.open(world["district"], "/messages.html")
        district_inbox.get_by_text("已升级至区督办").first.wait_for()
        assert api(live_server, world["district"], "GET", f"/api/cases/{late_case}")["escalation"] == 2

        # The English switch: the same case, in English.
        office.goto(f"{live_server}/cases.html#case-{late_case}")
        office.locator("#detail:not([hidden]) h2").wait_for()
        office.click(".lang-switch")
        office.get_by_text("Escalated to the district").first.wait_for()
        pages.shot(office, "street-overdue-en")
        office.click(".lang-switch")
        pages.close()
        assert not pages.errors, pages.errors
        clock.unfreeze()

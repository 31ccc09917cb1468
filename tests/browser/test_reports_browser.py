"""Courier reports in Chromium at 360 px: a courier files a hazard with a photo from the page, the
manager verifies it in the queue, the courier sees the points; and a report filed offline waits
on the phone and is sent exactly once when the network is back."""

import io

import httpx
import pytest
from PIL import ExifTags, Image, ImageDraw
from playwright.sync_api import expect

from domain.people import auth, orgs
from tests.conftest import ARTIFACTS, PHONE, Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser


def build_grid(database_url: str) -> dict:
    """A community with a grid, its manager and two couriers, made through the domain in a thread of
    its own (the browser tests are synchronous; the test session's event loop is not ours to use)."""
    import asyncpg
    result: dict = {}

    async def build():
        conn = await asyncpg.connect(database_url)
        try:
            people = {}
            for role, name in (("admin", "王主任"), ("manager", "李晓梅"), ("courier", "马骏"), ("rival", "孙浩")):
                user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                                 is_admin=role == "admin")
                people[role] = Login(await auth._new_session(conn, user_id), name)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
            grid = await orgs.create_org(conn, admin, kind="grid", name="第一网格", parent_id=community.id)
            await orgs.appoint_manager(conn, admin, community.id, people["manager"].id)
            for role in ("courier", "rival"):
                await orgs.add_member(conn, admin, grid.id, people[role].id, "courier")
            result.update(people, community=community.id, grid=grid.id)
        finally:
            await conn.close()

    in_thread(build)
    assert "courier" in result, "setting up the grid failed"
    return result


def street_photo() -> bytes:
    """A 2400×1800 'phone photo' with GPS in its EXIF, so the page has something to compress."""
    image = Image.new("RGB", (2400, 1800), (186, 198, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 1100, 2400, 1800), fill=(110, 114, 120))
    draw.rectangle((150, 1250, 2250, 1330), fill=(232, 196, 38))
    draw.rectangle((700, 700, 1750, 1300), fill=(52, 86, 160))
    draw.ellipse((780, 1220, 980, 1420), fill=(25, 25, 25))
    draw.ellipse((1450, 1220, 1650, 1420), fill=(25, 25, 25))
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 2.0, 31.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def shot(page, name: str) -> None:
    """A full-page screenshot with the viewport stretched to the page, so the phone's fixed tab bar
    sits at the bottom instead of covering the middle of a long page; toasts are cleared first."""
    page.evaluate("document.getElementById('toast-region')?.replaceChildren()")
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 360, "height": max(740, height)})
    screenshot(page, name)
    page.set_viewport_size(PHONE["viewport"])


def shot_of(locator, name: str) -> None:
    """One part of a page, at the phone's width."""
    page = locator.page
    page.evaluate("document.getElementById('toast-region')?.replaceChildren()")
    page.set_viewport_size({"width": 360, "height": max(740, page.evaluate("document.documentElement.scrollHeight"))})
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size(PHONE["viewport"])


def phone_context(browser, base: str, person: Login, errors: list[str], *, expected=()):
    context = browser.new_context(**PHONE)
    context.add_cookies(person.cookies(base))
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
            and not any(x in m.text for x in expected) else None)
    return context, page


def test_courier_files_with_a_photo_manager_verifies_courier_sees_points(live_server, database_url, browser):
    grid = build_grid(database_url)
    courier, manager = grid["courier"], grid["manager"]
    errors: list[str] = []
    context, page = phone_context(browser, live_server, courier, errors)
    context.grant_permissions(["geolocation"], origin=live_server)
    context.set_geolocation({"latitude": 30.0421, "longitude": 103.8313, "accuracy": 12})

    page.goto(f"{live_server}/courier.html")
    page.locator(".kind-button[data-kind=hazard]").wait_for()
    assert page.locator("#grid-name").text_content() == "第一网格"
    assert page.locator("#stat-rank").text_content() == "暂无"
    shot(page, "reports-courier-home-360")

    page.click(".kind-button[data-kind=hazard]")
    page.locator("#geo-status.is-ok").wait_for()
    page.click("#submit")  # nothing typed: the page says what is missing, nothing is sent
    page.locator("#text-error").wait_for()
    page.fill("#text", "北门消防通道被一辆面包车占用，车主电话无人接听")
    page.fill("#place", "三苏社区北门")
    page.click("#submit")
    page.get_by_text("隐患排查需要现场照片").wait_for()
    page.set_input_files("#photo", files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": street_photo()}])
    page.locator("#photo-preview:not([hidden])").wait_for()
    shot(page, "reports-courier-form-360")
    shot_of(page.locator("#report-form"), "reports-courier-form-part-360")
    page.click("#submit")
    page.locator("#mine .report-item[data-state=pending]").wait_for()
    assert page.locator("#report-form").is_hidden()
    shot(page, "reports-courier-sent-360")

    mine = httpx.get(f"{live_server}/api/reports?mine=true", headers=courier.headers).json()["items"]
    assert len(mine) == 1 and mine[0]["lat"] == pytest.approx(30.0421) and mine[0]["photo_url"]
    stored = httpx.get(f"{live_server}{mine[0]['photo_url']}", headers=courier.headers)
    image = Image.open(io.BytesIO(stored.content))
    assert max(image.size) <= 1600 and not image.getexif()  # compressed by the page, cleaned by the server

    manager_errors: list[str] = []
    manager_context, review = phone_context(browser, live_server, manager, manager_errors)
    review.goto(f"{live_server}/reports.html")
    card = review.locator(f".review-card[data-id='{mine[0]['id']}']")
    card.wait_for()
    card.locator(".review-photo img").wait_for()
    review.wait_for_function("() => [...document.querySelectorAll('.review-photo img')].every(i => i.complete && i.naturalWidth > 0)")
    assert "uri.amap.com/marker" in card.locator(".map-link").get_attribute("href")
    assert "核实 +10 分" in card.locator("[data-action=verify]").text_content()
    shot(review, "reports-queue-360")
    shot_of(card, "reports-queue-card-360")
    card.locator("[data-action=verify]").click()
    review.locator(f".review-card[data-id='{mine[0]['id']}'][data-state=verified]").wait_for()
    review.get_by_text("已获得 10 分").first.wait_for()
    shot(review, "reports-queue-verified-360")
    shot_of(review.locator(f".review-card[data-id='{mine[0]['id']}']"), "reports-queue-card-verified-360")

    page.reload()
    page.locator("#mine .report-item[data-state=verified]").wait_for()
    assert page.locator("#stat-points").text_content() == "10"
    assert page.locator("#stat-rank").text_content() == "1/2 人"
    assert "已获得 10 分" in page.locator("#mine .report-item").first.text_content()
    shot(page, "reports-courier-points-360")
    shot_of(page.locator("#mine"), "reports-courier-mine-360")

    page.click(".lang-switch")
    page.get_by_text("Earned 10 points").wait_for()
    shot(page, "reports-courier-points-en-360")
    manager_context.close()
    context.close()
    assert not errors and not manager_errors, errors + manager_errors


def test_a_report_filed_offline_waits_and_is_sent_once_when_back_online(live_server, database_url, browser):
    grid = build_grid(database_url)
    courier = grid["rival"]
    errors: list[str] = []
    # Requests that fail while offline are the point of this test, not page errors.
    context, page = phone_context(browser, live_server, courier, errors,
                                  expected=("ERR_INTERNET_DISCONNECTED", "Failed to fetch"))
    page.goto(f"{live_server}/courier.html")
    page.locator(".kind-button[data-kind=service]").wait_for()

    context.set_offline(True)
    page.click(".kind-button[data-kind=service]")
    page.fill("#text", "帮 7 栋独居的周奶奶把米和油搬上五楼")
    page.fill("#place", "三苏社区 7 栋")
    page.set_input_files("#photo", files=[{"name": "help.jpg", "mimeType": "image/jpeg", "buffer": street_photo()}])
    page.locator("#photo-preview:not([hidden])").wait_for()
    page.click("#submit")

    pending = page.locator("#outbox .outbox-item")
    pending.wait_for()
    assert "待发送" in pending.text_content()
    assert page.locator("#outbox-title").text_content() == "待发送 1 条"
    shot(page, "reports-courier-offline-360")
    assert httpx.get(f"{live_server}/api/reports?mine=true", headers=courier.headers).json()["items"] == []

    context.set_offline(False)
    page.locator("#outbox-card").wait_for(state="hidden")
    page.locator("#mine .report-item[data-state=pending]").wait_for()
    shot(page, "reports-courier-back-online-360")

    # A reload retries nothing more: the outbox is empty and the server holds exactly one report.
    page.reload()
    page.locator("#mine .report-item").first.wait_for()
    mine = httpx.get(f"{live_server}/api/reports?mine=true", headers=courier.headers).json()["items"]
    assert [(r["kind"], r["text"], r["photo_url"] is not None) for r in mine] == [
        ("service", "帮 7 栋独居的周奶奶把米和油搬上五楼", True)]
    context.close()
    assert not errors, errors


def test_the_same_key_after_a_lost_answer_files_nothing_twice(live_server, database_url, browser):
    """The first upload reaches the server but its answer is lost; the page retries with the same key."""
    grid = build_grid(database_url)
    courier = grid["courier"]
    errors: list[str] = []
    context, page = phone_context(browser, live_server, courier, errors, expected=("Failed to fetch", "ERR_FAILED"))
    lost = {"count": 0}

    def lose_first_answer(route):
        response = route.fetch()  # the server does file the report...
        if lost["count"] == 0:
            lost["count"] += 1
            route.abort()          # ...but the phone never hears back
        else:
            route.fulfill(response=response)

    page.route("**/api/reports", lambda route: lose_first_answer(route) if route.request.method == "POST"
               else route.continue_())
    page.goto(f"{live_server}/courier.html")
    page.click(".kind-button[data-kind=civility]")
    page.fill("#text", "劝导两位居民不要在绿化带里晾晒被子")
    page.click("#submit")
    page.locator("#outbox .outbox-item").wait_for()
    page.click("#retry-now")
    page.locator("#outbox-card").wait_for(state="hidden")
    page.locator("#mine .report-item").first.wait_for()

    mine = httpx.get(f"{live_server}/api/reports?mine=true", headers=courier.headers).json()["items"]
    assert len(mine) == 1 and mine[0]["text"] == "劝导两位居民不要在绿化带里晾晒被子"
    context.close()
    assert not errors, errors



def test_manager_sees_a_likely_duplicate_and_rejects_it_with_a_reason_the_courier_reads(
        live_server, database_url, browser):
    grid = build_grid(database_url)
    courier, manager = grid["courier"], grid["manager"]
    photo = street_photo()
    filed = []
    for text in ("南门车棚电线私拉乱接，给电动车充电", "南门车棚有人私拉电线充电"):
        answer = httpx.post(f"{live_server}/api/reports", headers=courier.headers, files={
            "kind": (None, "hazard"), "text": (None, text), "place": (None, "三苏社区南门车棚"),
            "lat": (None, "30.04105"), "lng": (None, "103.83052"), "photo": ("p.jpg", photo, "image/jpeg")})
        assert answer.status_code == 201, answer.text
        filed.append(answer.json()["id"])
    errors: list[str] = []
    context, review = phone_context(browser, live_server, manager, errors)

    review.goto(f"{live_server}/reports.html")
    duplicate = review.locator(f".review-card[data-id='{filed[1]}']")
    duplicate.locator(".flag").wait_for()
    assert f"#{filed[0]}" in duplicate.locator(".flag").text_content()
    duplicate.get_by_text("最近上报").click()
    duplicate.locator(".history-item").first.wait_for()
    shot_of(duplicate, "reports-queue-flagged-360")
    duplicate.locator("[data-action=reject]").click()
    duplicate.locator("button[type=submit]").click()  # no reason yet: the page asks for one
    duplicate.get_by_text("请填写驳回原因").wait_for()
    duplicate.get_by_text("与之前的上报重复").click()
    duplicate.locator("button[type=submit]").click()
    review.locator(f".review-card[data-id='{filed[1]}'][data-state=rejected]").wait_for()
    shot(review, "reports-queue-rejected-360")

    courier_context, page = phone_context(browser, live_server, courier, errors)
    page.goto(f"{live_server}/courier.html")
    note = page.locator(f"#mine .report-item[data-id='{filed[1]}'] .report-note")
    note.wait_for()
    assert note.text_content() == "未通过原因：与之前的上报重复"
    shot_of(page.locator("#mine"), "reports-courier-rejected-360")
    courier_context.close()
    context.close()
    assert not errors, errors


LARGE_TEXT = "localStorage.setItem('linli.large_text', 'on')"  # 大字模式, as the header's switch leaves it


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"


def test_the_couriers_messages_open_the_report_and_the_form_in_large_text(live_server, database_url, browser):
    """Issue 33, the courier's journey: a verified report and a rejected one each reach the inbox; the
    first opens the report in 我的上报, the second opens the form again with its words and the reason,
    to add what was missing and send it. At 360 px in large text nothing runs off the screen."""
    grid = build_grid(database_url)
    courier, manager = grid["courier"], grid["manager"]
    filed = {}
    for name, text in (("kept", "帮助独居老人搬运煤气罐到五楼"), ("sent_back", "楼道里有杂物")):
        answer = httpx.post(f"{live_server}/api/reports", headers=courier.headers, files={
            "kind": (None, "civility"), "text": (None, text), "place": (None, "三苏社区 5 栋")})
        assert answer.status_code == 201, answer.text
        filed[name] = answer.json()["id"]
    httpx.post(f"{live_server}/api/reports/{filed['kept']}/verify", headers=manager.headers).raise_for_status()
    httpx.post(f"{live_server}/api/reports/{filed['sent_back']}/reject", headers=manager.headers,
               json={"reason": "请写明是哪个单元、几楼"}).raise_for_status()

    errors: list[str] = []
    context, page = phone_context(browser, live_server, courier, errors)
    context.add_init_script(LARGE_TEXT)
    try:
        page.goto(f"{live_server}/messages.html")
        page.wait_for_selector("html.large-text[data-ready]", state="attached")
        no_sideways_scroll(page)
        page.locator(".message-title", has_text="上报已核实").click()
        page.wait_for_url(f"**/courier.html#report-{filed['kept']}")
        item = page.locator(f"#report-{filed['kept']}")
        expect(item).to_be_focused()
        assert "is-linked" in item.get_attribute("class") and "已获得" in item.inner_text()
        no_sideways_scroll(page)
        shot(page, "reports33-courier-verified-large-360")

        page.goto(f"{live_server}/messages.html")
        page.locator(".message-title", has_text="上报未通过").click()
        page.wait_for_url(f"**/courier.html#report-{filed['sent_back']}")
        form = page.locator("#report-form")
        form.wait_for()
        assert page.locator("#text").input_value() == "楼道里有杂物"
        assert page.locator("#place").input_value() == "三苏社区 5 栋"
        assert "请写明是哪个单元、几楼" in page.locator("#form-again").inner_text()
        expect(page.locator("#text")).to_be_focused()
        no_sideways_scroll(page)
        # every control of the form is a 44 px target in large text
        small = page.evaluate("""() => [...document.querySelectorAll('#report-form button, #report-form input:not([type=file]), #report-form textarea, #report-form label.photo-pick')]
            .filter((e) => e.offsetParent).map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert small == [], small
        shot(page, "reports33-courier-form-again-large-360")
        page.fill("#text", "3 单元 4 楼楼道里堆放纸箱，已劝导住户清理")
        page.click("#submit")
        page.locator("#mine .report-item[data-state=pending]", has_text="3 单元 4 楼").wait_for()
        assert page.locator("#form-again").is_hidden()
        no_sideways_scroll(page)
    finally:
        context.close()
    assert not errors, errors

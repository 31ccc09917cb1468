"""Scanning everywhere in Chromium (issue 21): the camera reads a real activity code and a real member
card from a fake camera (a y4m video made here, BarcodeDetector removed, as on an iPhone or in
WeChat) and completes the check-in alone; a station offline keeps three scans and uploads them once,
at their scan times; a second scan asks before checking out; a kiosk paired with a one-time code
fits 1366×768, 1920×1080 and 800×1280; several posters print on A4 pages; the scan page stays under
50 KB and fetches its decoder only after the camera button. Screenshots: tests/artifacts/scan21-*.png."""

import io
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import qrcode
import zxingcpp
from PIL import Image

from bench import page_weight
from domain.core import clock, codes
from tests.browser.test_checkin_browser import balances, city, volunteer, with_connection
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot

pytestmark = pytest.mark.browser

W, H = 640, 480


def qr_video(text: str, folder: Path, name: str, frames: int = 6) -> Path:
    """A y4m file (a header, then raw I420 frames) of a QR code of `text` on a light background."""
    image = qrcode.make(text, box_size=8, border=4).get_image().convert("L")
    side = min(W, H) - 40
    image = image.resize((side, side), Image.NEAREST)
    frame = Image.new("L", (W, H), 235)
    frame.paste(image, ((W - side) // 2, (H - side) // 2))
    y = frame.tobytes()
    uv = bytes([128]) * (W // 2 * H // 2)
    path = folder / f"{name}.y4m"
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + y + uv + uv)
    return path


def camera_browser(browser, video: Path):
    """A Chromium of its own whose camera plays `video` (the flags are per browser launch)."""
    return browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])


def new_page(browser, cookies, viewport=(360, 740)):
    # The service worker allowed: the offline station and scan pages open and queue through it.
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1,
                                  service_workers="allow")
    context.add_cookies(cookies)
    context.add_init_script("delete window.BarcodeDetector;")  # as on iPhone Safari and in WeChat
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def attendances(database_url: str, activity_id: int) -> list[dict]:
    async def build(conn):
        rows = await conn.fetch("select user_id, state, source, checked_in_at, in_received_at, minutes, points "
                                "from attendances where activity_id = $1 order by user_id", activity_id)
        return {"rows": [dict(r) for r in rows]}
    return with_connection(database_url, build)["rows"]


# The service worker has installed (its shell cached) and is active: the page's next loads may go offline.
SW_READY = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (worker.state !== "activated") {
    await new Promise((done) => worker.addEventListener("statechange", () => worker.state === "activated" && done()));
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise((done) => navigator.serviceWorker.addEventListener("controllerchange", done, { once: true }));
  }
  // The page's answers are fetched once more through the worker (api.js): ready again when they are in.
  await new Promise((done) => setTimeout(done, 0));
  while (!document.documentElement.dataset.ready) await new Promise((done) => setTimeout(done, 20));
  return worker.state;
}"""


def card_of(base: str, person) -> dict:
    return httpx.get(f"{base}/api/me/card", headers=person.headers).json()


# ---- the camera, without BarcodeDetector ------------------------------------------------------

def test_the_scan_page_checks_in_from_the_camera_alone(live_server, browser, database_url, tmp_path):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "刘芳")
    video = qr_video(codes.url_for(world["poster"]), tmp_path, "poster")
    chromium = camera_browser(browser, video)
    try:
        page, errors = new_page(chromium, person.cookies(live_server))
        decoder: list[str] = []
        page.on("request", lambda r: decoder.append(r.url) if "/vendor/jsqr/" in r.url else None)
        page.goto(f"{live_server}/scan.html")
        page.locator("#camera-start").wait_for()
        assert page.evaluate("'BarcodeDetector' in window") is False
        assert decoder == []  # nothing of the decoder before the camera opens
        # Issue 33: a refused camera says how to allow it in WeChat, Safari and Chrome, and offers typing.
        page.evaluate("""() => {
          const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
          navigator.mediaDevices.getUserMedia = () => {
            navigator.mediaDevices.getUserMedia = real;  // refused once, as when the person taps 拒绝
            return Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
          };
        }""")
        page.click("#camera-start")
        help_box = page.locator(".camera-help")
        help_box.wait_for()
        assert all(word in help_box.inner_text() for word in ("微信", "Safari", "Chrome"))
        screenshot(page, "scan33-camera-refused-360")
        page.click(".camera-help button")
        assert page.evaluate("document.activeElement.id") == "paste-code"
        page.click("#camera-start")  # allowed this time
        page.wait_for_url(f"**/s/{world['poster']}", timeout=20000)
        page.locator("#result-title", has_text="已签到").wait_for()
        assert len(decoder) == 1
        screenshot(page, "scan21-camera-checked-in-360")
        assert errors == []
    finally:
        chromium.close()
    assert balances(live_server, person) == {"points": 10, "minutes": 0}


TORCH_AND_ZOOM = """
window.appliedConstraints = [];
MediaStreamTrack.prototype.getCapabilities = function () {
  return { torch: true, zoom: { min: 1, max: 5, step: 0.5 } };
};
MediaStreamTrack.prototype.applyConstraints = async function (c) { window.appliedConstraints.push(c); };
"""


def test_the_station_checks_a_member_card_in_from_the_camera(live_server, browser, database_url, tmp_path):
    world = city(database_url)
    elder, _ = volunteer(live_server, database_url, world, "周秀英")
    video = qr_video(card_of(live_server, elder)["url"], tmp_path, "card")
    chromium = camera_browser(browser, video)
    try:
        page, errors = new_page(chromium, world["manager"].cookies(live_server))
        # A camera that offers a torch and zoom (the fake one does not): the controls appear and act.
        page.add_init_script(TORCH_AND_ZOOM)
        page.goto(f"{live_server}/station.html?activity={world['activity']}")
        page.click("#camera-start")
        page.locator(".scan-log li", has_text="周秀英").first.wait_for(timeout=20000)
        assert "已签到" in page.locator(".scan-log li").last.inner_text()
        page.click("#camera-torch")
        assert page.get_attribute("#camera-torch", "aria-pressed") == "true"
        page.locator("#camera-zoom").fill("3")
        assert page.evaluate("window.appliedConstraints") == [{"advanced": [{"torch": True}]},
                                                               {"advanced": [{"zoom": 3}]}]
        assert "拖动滑块放大" in page.locator("#camera-hint").inner_text()
        screenshot(page, "scan21-station-camera-open-360")
        page.locator("#camera-stop").click()
        screenshot(page, "scan21-station-camera-360")
        assert errors == []
    finally:
        chromium.close()
    assert balances(live_server, elder)["points"] == 10


def test_voucher_hand_over_and_on_the_spot_read_codes_from_the_camera(live_server, browser, database_url, tmp_path):
    from tests.browser.test_supermarket_browser import build_shop
    shop = build_shop(database_url)
    volunteer_headers, manager_headers = shop["volunteer"].headers, shop["manager"].headers
    r = httpx.post(f"{live_server}/api/redemptions", json={"reward_id": shop["rice"], "quantity": 1},
                   headers=volunteer_headers)
    assert r.status_code in (200, 201), r.text
    redemption = r.json()["id"]
    assert httpx.post(f"{live_server}/api/redemptions/{redemption}/approve", headers=manager_headers).status_code == 200
    voucher = httpx.get(f"{live_server}/api/redemptions/{redemption}/voucher", headers=volunteer_headers).json()

    chromium = camera_browser(browser, qr_video(voucher["url"], tmp_path, "voucher"))
    try:
        page, errors = new_page(chromium, shop["manager"].cookies(live_server))
        page.goto(f"{live_server}/redemptions.html")
        page.click("#voucher-camera-start")
        page.locator(".result-ok").filter(has_text="核销成功").wait_for(timeout=20000)
        assert "大米 5kg × 1 · 刘芳" in page.locator("#voucher-result").inner_text()
        assert errors == []
    finally:
        chromium.close()

    chromium = camera_browser(browser, qr_video(codes.url_for(shop["card"]), tmp_path, "spot-card"))
    try:
        page, errors = new_page(chromium, shop["manager"].cookies(live_server))
        page.goto(f"{live_server}/redemptions.html")
        page.get_by_role("tab", name="现场兑换").click()
        page.click("#spot-camera-start")
        page.wait_for_function("() => document.getElementById('spot-member').value !== ''", timeout=20000)
        assert page.input_value("#spot-member") == codes.url_for(shop["card"])
        page.locator("#spot-camera-box").wait_for(state="hidden")  # closed once the card is read
        screenshot(page, "scan21-spot-camera-360")
        assert errors == []
    finally:
        chromium.close()


# ---- offline station ------------------------------------------------------------------------

QUEUE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("linli-scans", 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction("queue").objectStore("queue").getAll();
    get.onsuccess = () => { resolve(get.result); open.result.close(); };
  };
})"""


def test_an_offline_station_uploads_its_three_scans_once_at_their_scan_times(live_server, browser, database_url):
    world = city(database_url)
    people = [volunteer(live_server, database_url, world, name)[0] for name in ("张三", "李四", "王五")]
    cards = [card_of(live_server, p) for p in people]
    page, errors = new_page(browser, world["manager"].cookies(live_server))  # offline: failed loads are expected
    page.goto(f"{live_server}/station.html?activity={world['activity']}")
    page.locator("#member-code").wait_for()
    assert page.evaluate(SW_READY) == "activated"

    # Issue 33: the network is cut before the station page is opened again; it loads from the service worker.
    page.context.set_offline(True)
    page.goto(f"{live_server}/station.html?activity={world['activity']}")
    page.locator("#member-code").wait_for()
    for n, card in enumerate(cards, start=1):
        page.fill("#member-code", card["url"])
        page.click("#code-submit")
        page.wait_for_function("(n) => document.querySelectorAll('.scan-log li').length === n", arg=n)
    page.locator("#pending", has_text="3 条待上传").wait_for()
    queued = page.evaluate(QUEUE)
    assert len(queued) == 3 and all(item["body"]["scanned_at"] for item in queued)
    screenshot(page, "scan21-station-offline-360")
    assert attendances(database_url, world["activity"]) == []

    page.context.set_offline(False)
    page.locator("#pending").wait_for(state="hidden", timeout=20000)
    for name in ("张三", "李四", "王五"):
        page.locator(".scan-log li", has_text=name).first.wait_for()
    assert page.evaluate(QUEUE) == []
    # Issue 33: each upload's answer replaced its "已保存" row; no stale row stays beside it.
    assert page.locator(".scan-log li", has_text="已保存").count() == 0
    assert page.locator(".scan-log li").count() == 3
    screenshot(page, "scan21-station-uploaded-360")

    rows = attendances(database_url, world["activity"])
    assert sorted(r["user_id"] for r in rows) == sorted(p.id for p in people)  # once each
    scanned = sorted(item["body"]["scanned_at"] for item in queued)
    assert sorted(r["checked_in_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z") for r in rows) == scanned
    assert all(r["in_received_at"] is not None and r["in_received_at"] >= r["checked_in_at"] for r in rows)
    for p in people:
        assert balances(live_server, p) == {"points": 10, "minutes": 0}

    # A fourth upload of the same queue (another tab, a retry) credits nothing.
    for item in queued:
        r = httpx.post(f"{live_server}{item['path']}", json=item["body"], headers=world["manager"].headers)
        assert r.status_code == 200 and r.json()["action"] == "already_checked_in", r.text
    for p in people:
        assert balances(live_server, p) == {"points": 10, "minutes": 0}
    assert len(attendances(database_url, world["activity"])) == 3
    assert errors == []
    page.context.close()


def test_the_scan_page_keeps_an_offline_scan_and_checks_in_when_back_online(live_server, browser, database_url):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "赵敏")
    page, errors = new_page(browser, person.cookies(live_server))
    page.goto(f"{live_server}/scan.html")
    page.locator("#paste-code").wait_for()
    assert page.evaluate(SW_READY) == "activated"
    # Issue 33: a poster's QR opened with no network (after one earlier visit) loads from the service
    # worker and keeps the scan.
    page.context.set_offline(True)
    page.goto(codes.url_for(world["poster"]))
    page.locator("#result-note", has_text="已保存在手机上").wait_for()
    queued = page.evaluate(QUEUE)
    assert [item["body"]["code"] for item in queued] == [world["poster"]]
    screenshot(page, "scan21-scan-offline-360")
    assert attendances(database_url, world["activity"]) == []

    page.context.set_offline(False)
    page.locator(".toast", has_text="已签到").wait_for(timeout=20000)
    page.locator("#pending").wait_for(state="hidden")
    [row] = attendances(database_url, world["activity"])
    assert row["user_id"] == person.id and row["in_received_at"] is not None
    scanned = row["checked_in_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert scanned == queued[0]["body"]["scanned_at"]
    assert balances(live_server, person) == {"points": 10, "minutes": 0}

    # The card opens offline from what the worker kept; logging out forgets it (issue 33).
    page.goto(f"{live_server}/card.html")
    kept = """async () => { const out = [];
      for (const name of await caches.keys()) if (name.startsWith("linli-personal-"))
        for (const r of await (await caches.open(name)).keys()) out.push(new URL(r.url).pathname);
      return out; }"""
    assert "/api/me/card" in page.evaluate(kept)
    page.goto(f"{live_server}/")
    page.click("#logout")
    page.wait_for_url("**/login.html")
    assert page.evaluate(kept) == []
    assert errors == []
    page.context.close()


# ---- check-out on purpose -------------------------------------------------------------------

def test_a_second_scan_ten_minutes_later_checks_out_only_when_confirmed(live_server, phone_page, database_url):
    clock.freeze(clock.now())
    world = city(database_url, points_per_hour=6)
    person, _ = volunteer(live_server, database_url, world, "杨丽")
    page = phone_page
    page.context.add_cookies(person.cookies(live_server))
    page.goto(f"{live_server}/s/{world['poster']}")
    page.locator("#result-title", has_text="已签到").wait_for()

    clock.advance(timedelta(minutes=10))
    page.goto(f"{live_server}/s/{world['poster']}")  # scanned again "to make sure"
    page.locator("#result-title", has_text="现在签退吗？已服务 10 分钟").wait_for()
    screenshot(page, "scan21-confirm-checkout-360")
    assert [r["state"] for r in attendances(database_url, world["activity"])] == ["inside"]
    assert balances(live_server, person) == {"points": 10, "minutes": 0}

    page.click("#checkout-cancel")
    page.locator("#result-title", has_text="已签到").wait_for()
    assert [r["state"] for r in attendances(database_url, world["activity"])] == ["inside"]

    clock.advance(timedelta(minutes=20))
    page.goto(f"{live_server}/s/{world['poster']}")
    page.locator("#result-title", has_text="已服务 30 分钟").wait_for()
    page.click("#checkout-confirm")
    page.locator("#result-title", has_text="已签退").wait_for()
    assert "30分钟" in page.locator("#result-amounts").inner_text().replace(" ", "")
    screenshot(page, "scan21-checked-out-360")
    assert balances(live_server, person) == {"points": 13, "minutes": 30}  # 10 + 6 an hour for half an hour


def test_finding_5_a_geofenced_scan_without_location_is_refused_then_retried(live_server, browser, database_url):
    world = city(database_url, lat=30.0, lng=104.0, radius_m=300)
    person, _ = volunteer(live_server, database_url, world, "孙强")
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    context.add_cookies(person.cookies(live_server))
    page = context.new_page()
    page.goto(f"{live_server}/s/{world['poster']}")  # location not allowed: no coordinates
    page.locator("#result-title", has_text="需要定位").wait_for(timeout=15000)
    screenshot(page, "scan21-location-required-360")
    assert attendances(database_url, world["activity"]) == []
    context.grant_permissions(["geolocation"], origin=live_server)
    context.set_geolocation({"latitude": 30.0005, "longitude": 104.0})
    page.get_by_role("button", name="重试").click()
    page.locator("#result-title", has_text="已签到").wait_for(timeout=15000)
    assert [r["user_id"] for r in attendances(database_url, world["activity"])] == [person.id]
    context.close()


# ---- kiosk pairing and layouts ----------------------------------------------------------------

def fits(page) -> None:
    """Nothing cut off: no scrolling, and every visible part of the screen inside the viewport."""
    size = page.viewport_size
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert page.evaluate("document.documentElement.scrollHeight") <= size["height"]
    outside = page.evaluate("""([w, h]) => [...document.querySelectorAll('#screen *')].filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && (r.left < 0 || r.top < 0 || r.right > w + 0.5 || r.bottom > h + 0.5);
      }).map((el) => el.id || el.className)""", [size["width"], size["height"]])
    assert outside == []


def decoded(page) -> str:
    image = Image.open(io.BytesIO(page.screenshot())).convert("L")
    found = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1
    return found[0].text


def test_a_kiosk_paired_with_a_code_shows_the_code_at_three_sizes_until_revoked(live_server, browser, database_url):
    world = city(database_url, title="社区义诊志愿服务：测量血压与健康咨询")
    manager_context = browser.new_context(viewport={"width": 360, "height": 740})
    manager_context.add_cookies(world["manager"].cookies(live_server))
    manager = manager_context.new_page()
    manager.goto(f"{live_server}/activities.html?id={world['activity']}")
    manager.click("#kiosk-pair")
    code = manager.locator("#kiosk-pair-code").inner_text()
    assert re.fullmatch(r"\d{8}", code)
    screenshot(manager, "scan21-kiosk-pairing-360")

    screen_context = browser.new_context(viewport={"width": 1366, "height": 768})  # no login at all
    screen = screen_context.new_page()
    errors: list[str] = []
    screen.on("pageerror", lambda e: errors.append(str(e)))
    screen.goto(f"{live_server}/kiosk/pair")
    screen.fill("#pair-code", code)
    screen.click("#pair-form button[type=submit]")
    screen.wait_for_url(f"**/kiosk/{world['activity']}")
    for width, height in ((1366, 768), (1920, 1080), (800, 1280)):
        screen.set_viewport_size({"width": width, "height": height})
        screen.wait_for_function("() => document.getElementById('qr').dataset.code"
                                 " && document.getElementById('qr-image').complete")
        screen.wait_for_timeout(200)
        fits(screen)
        assert decoded(screen) == codes.url_for(screen.locator("#qr").get_attribute("data-code"))
        screenshot(screen, f"scan21-kiosk-{width}x{height}")

    manager.reload()
    manager.locator("#kiosks li", has_text="已配对").get_by_role("button", name="撤销").click()
    manager.locator("#kiosks li", has_text="已撤销").wait_for()
    screen.reload()
    screen.locator("#pair").wait_for()
    screen.locator("#pair-error", has_text="已被撤销").wait_for()
    assert errors == []
    manager_context.close()
    screen_context.close()


# ---- the review list ----------------------------------------------------------------------------

def test_a_manager_annuls_a_flagged_scan_from_the_review_list(live_server, phone_page, database_url):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "吴刚")
    r = httpx.post(f"{live_server}/api/scans", json={"code": world["poster"], "device": "phone-x"},
                   headers=person.headers)
    assert r.json()["action"] == "checked_in"

    async def build(conn):  # a burst flag as the check-in would have written it with a lower limit
        await conn.execute(
            """insert into scan_flags (activity_id, attendance_id, user_id, reason, details, created_at)
               select activity_id, id, user_id, 'device_burst', '{"people": 6, "minutes": 10}', now()
               from attendances where activity_id = $1 and user_id = $2""", world["activity"], person.id)
        return {"ok": True}
    with_connection(database_url, build)

    page = phone_page
    page.context.add_cookies(world["manager"].cookies(live_server))
    page.goto(f"{live_server}/activities.html?id={world['activity']}")
    item = page.locator("#flags li", has_text="吴刚")
    item.wait_for()
    assert "同一部手机短时间内为多人签到" in item.inner_text() and "10 分钟内 6 人" in item.inner_text()
    item.get_by_role("textbox").fill("代签，本人不在现场")
    screenshot(page, "scan21-flags-360")
    item.get_by_role("button", name="作废签到").click()
    page.locator("#flags li", has_text="吴刚").locator(".badge", has_text="已作废").wait_for()
    page.locator("#att-rows li", has_text="吴刚").locator(".badge", has_text="已作废").wait_for()
    assert balances(live_server, person) == {"points": 0, "minutes": 0}

    async def audited(conn):
        return {"acts": [r["act"] for r in await conn.fetch(
            "select act from audit_log where actor_id = $1 and target_id = $2 order by id",
            world["manager"].id, person.id)]}
    assert with_connection(database_url, audited)["acts"][-1:] == ["checkin_annul"]


# ---- posters ----------------------------------------------------------------------------------

def test_several_posters_print_on_a4_pages(live_server, browser, database_url):
    first = city(database_url)
    second = city(database_url, title="周末义诊")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.add_cookies(first["manager"].cookies(live_server))
    page = context.new_page()
    page.goto(f"{live_server}/poster-print.html?ids={first['activity']}&copies=2")
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert page.locator(".poster-sheet").count() == 2
    page.locator("#summary", has_text="共 2 页").wait_for()
    screenshot(page, "scan21-posters-360")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2
    context.close()
    # the other community's manager sees only their own activity to tick
    other = browser.new_context(viewport={"width": 360, "height": 740})
    other.add_cookies(second["manager"].cookies(live_server))
    page = other.new_page()
    page.goto(f"{live_server}/poster-print.html?ids={first['activity']},{second['activity']}")
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert page.locator(".poster-sheet").count() == 1
    other.close()


# ---- page weight --------------------------------------------------------------------------------

def test_the_scan_page_is_light_and_fetches_its_decoder_only_for_the_camera(live_server, browser, database_url):
    world = city(database_url)
    person, _ = volunteer(live_server, database_url, world, "陈伟")
    weight = page_weight._measure(browser, live_server, "/scan.html", person.token, person.csrf)
    print(f"/scan.html first load: {weight['wire_bytes']} bytes on the wire in {weight['requests']} requests")
    assert weight["status"] == 200 and weight["page_errors"] == []
    assert weight["wire_bytes"] <= 50 * 1024, weight["largest"]
    assert not any("/vendor/" in item["path"] for item in weight["items"])
    deferred = page_weight.decoder_deferred(live_server, person.token, person.csrf, browser_type=browser.browser_type)
    print(f"decoder: {deferred}")
    assert deferred["before_click"] is False and deferred["after_click"] is True, deferred

"""The moral supermarket in Chromium at 360 px (issue 6): a volunteer requests a reward in the shop,
the manager approves it in the queue, the volunteer sees the voucher QR, the manager's voucher
hand-over marks it fulfilled; and the manager's reward tools and on-the-spot redemption.
Screenshots land in tests/artifacts/."""

import io

import httpx
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from domain import ledger, supermarket
from domain.core import codes
from domain.people import auth, orgs
from tests.conftest import PHONE, Login, in_thread, new_phone, screenshot

pytestmark = pytest.mark.browser


def rice_picture() -> bytes:
    image = Image.new("RGB", (900, 900), (246, 240, 228))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((220, 160, 680, 780), radius=60, fill=(214, 70, 31))
    draw.rectangle((270, 330, 630, 560), fill=(250, 246, 236))
    draw.ellipse((380, 380, 520, 510), fill=(236, 196, 80))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def build_shop(database_url: str) -> dict:
    """A community, its manager, a volunteer with 320 points and three rewards, through the domain in
    a thread of its own (browser tests are synchronous; the session's event loop is not ours)."""
    import asyncpg
    result: dict = {}

    async def build():
        conn = await asyncpg.connect(database_url)
        try:
            people = {}
            for role, name in (("admin", "王主任"), ("manager", "李晓梅"), ("volunteer", "刘芳")):
                user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                                 is_admin=role == "admin")
                people[role] = Login(await auth._new_session(conn, user_id), name)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
            await orgs.appoint_manager(conn, admin, community.id, people["manager"].id)
            await orgs.add_member(conn, admin, community.id, people["volunteer"].id, "volunteer")
            async with conn.transaction():
                await ledger.post(conn, unit="points", debit=await ledger.org_account(conn, community.id, "issuing", "points"),
                                  credit=await ledger.user_account(conn, people["volunteer"].id, "points", community.id), amount=320,
                                  kind="adjustment", cause=("adjustment", community.id), reason="opening balance")
            manager = await orgs.load_actor(conn, people["manager"].id)
            rice = await supermarket.create_reward(conn, manager, community_id=community.id, name="大米 5kg",
                                                   description="东北长粒香大米，5 公斤装。", cost_points=200, stock=10,
                                                   per_person_limit=1)
            await supermarket.set_image(conn, manager, rice.id, rice_picture())
            await supermarket.create_reward(conn, manager, community_id=community.id, name="洗衣液 2kg",
                                            description="薰衣草香型。", cost_points=80, stock=0)
            await supermarket.create_reward(conn, manager, community_id=community.id, name="纯棉毛巾",
                                            description="加厚纯棉，颜色随机。", cost_points=30, stock=40)
            card = await codes.member_card(conn, people["volunteer"].id)
            result.update(people, community=community.id, rice=rice.id, card=card.code)
        finally:
            await conn.close()

    in_thread(build)
    assert "volunteer" in result, "setting up the shop failed"
    return result


def phone(browser, base: str, person: Login):
    context = browser.new_context(**PHONE)
    context.add_cookies(person.cookies(base))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    return context, page, errors


def decode_qr(png: bytes) -> str:
    image = Image.open(io.BytesIO(png)).convert("L")
    found = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert found, "no QR code found in the voucher"
    return found[0].text


def test_request_approve_voucher_and_hand_over(live_server, browser, database_url):
    shop = build_shop(database_url)
    base = live_server
    volunteer_ctx, volunteer, volunteer_errors = phone(browser, base, shop["volunteer"])
    manager_ctx, manager, manager_errors = phone(browser, base, shop["manager"])
    try:
        # The volunteer browses the shop and asks for one bag of rice.
        volunteer.goto(f"{base}/shop.html")
        rice = volunteer.locator(".reward", has_text="大米 5kg")
        rice.wait_for()
        volunteer.locator("#available").filter(has_text="320").wait_for()
        assert volunteer.locator(".reward", has_text="洗衣液").get_by_text("已兑完").is_visible()
        volunteer.wait_for_function("() => [...document.images].every((i) => i.complete)")  # a function: polled without eval, which the CSP forbids
        screenshot(volunteer, "supermarket-shop-catalogue-360")
        rice.get_by_role("button", name="兑换").click()
        assert rice.locator(".stepper-value").inner_text() == "1"
        assert rice.get_by_role("button", name="增加一件").is_disabled()  # monthly limit 1
        screenshot(volunteer, "supermarket-shop-request-360")
        rice.get_by_role("button", name="提交兑换申请").click()
        mine = volunteer.locator("#panel-mine .redemption", has_text="大米 5kg × 1")
        mine.wait_for()
        assert mine.locator(".badge").inner_text() == "待审批"
        volunteer.locator("#available").filter(has_text="120").wait_for()
        assert "冻结中 200 分" in volunteer.locator("#held").inner_text()
        screenshot(volunteer, "supermarket-shop-requested-360")

        # The manager sees it first in the queue, with the requester's balance, and approves.
        manager.goto(f"{base}/redemptions.html")
        item = manager.locator("#list-requested .queue-item", has_text="刘芳")
        item.wait_for()
        assert "积分余额 320（冻结 200）" in item.inner_text()
        assert manager.locator("#count-requested").inner_text() == "1"
        screenshot(manager, "supermarket-queue-360")
        item.get_by_role("button", name="同意").click()
        manager.get_by_text("没有待审批的申请。").wait_for()
        manager.locator("#count-approved").filter(has_text="1").wait_for()

        # The volunteer sees the voucher, a QR that decodes to the voucher's /s/ URL.
        volunteer.goto(f"{base}/shop.html?tab=mine")
        voucher = volunteer.locator(".redemption.is-approved .voucher-qr img")
        voucher.wait_for()
        volunteer.wait_for_function("() => document.querySelector('.voucher-qr img').complete")
        assert volunteer.locator("#mine-badge").inner_text() == "1"
        url = decode_qr(voucher.screenshot())
        code = volunteer.locator(".redemption.is-approved .qr-caption").inner_text().replace(" ", "")
        assert code.isupper() and url == f"{base}/s/{code.lower()}"  # shown upper case, l and 1 told apart
        screenshot(volunteer, "supermarket-shop-voucher-360")

        # At the counter the manager's scanner types the URL into the hand-over box.
        manager.get_by_role("tab", name="待领取").click()
        manager.locator("#list-approved .queue-item", has_text="刘芳").wait_for()
        manager.fill("#voucher-code", url)
        manager.press("#voucher-code", "Enter")
        manager.locator(".result-ok").filter(has_text="核销成功").wait_for()
        assert "大米 5kg × 1 · 刘芳" in manager.locator("#voucher-result").inner_text()
        manager.get_by_text("没有待领取的凭证。").wait_for()
        screenshot(manager, "supermarket-handover-360")
        manager.fill("#voucher-code", code)
        manager.click("#voucher-form button[type=submit]")
        manager.locator(".result-bad").filter(has_text="该凭证已使用").wait_for()
        assert "已于" in manager.locator("#voucher-result").inner_text()
        screenshot(manager, "supermarket-handover-again-360")

        volunteer.reload()
        done = volunteer.locator(".redemption", has_text="大米 5kg × 1")
        done.locator(".badge", has_text="已领取").wait_for()
        volunteer.locator("#available").filter(has_text="120").wait_for()
        assert volunteer.locator("#held").inner_text() == ""
        screenshot(volunteer, "supermarket-shop-fulfilled-360")

        mine_now = httpx.get(f"{base}/api/redemptions", headers=shop["volunteer"].headers).json()["items"]
        assert [(r["state"], r["points"]) for r in mine_now] == [("fulfilled", 200)]
    finally:
        volunteer_ctx.close()
        manager_ctx.close()
    assert not volunteer_errors and not manager_errors, volunteer_errors + manager_errors


def test_manager_reward_tools_and_on_the_spot(live_server, browser, database_url, tmp_path):
    shop = build_shop(database_url)
    base = live_server
    context, page, errors = phone(browser, base, shop["manager"])
    try:
        page.goto(f"{base}/redemptions.html?tab=rewards")
        page.locator(".manage-item", has_text="大米 5kg").wait_for()

        # A new reward with a picture from the phone.
        picture = tmp_path / "towel.jpg"
        picture.write_bytes(rice_picture())
        page.get_by_role("button", name="＋ 新增商品").click()
        form = page.locator("#new-reward form")
        form.get_by_label("名称").fill("理发券")
        form.get_by_label("说明").fill("社区便民理发点，凭券理发一次。")
        form.get_by_label("所需积分").fill("50")
        form.get_by_label("库存").fill("15")
        form.get_by_label("每人每月限兑").fill("2")
        form.get_by_label("图片").set_input_files(str(picture))
        screenshot(page, "supermarket-new-reward-360")
        form.get_by_role("button", name="新增").click()
        created = page.locator(".manage-item", has_text="理发券")
        created.wait_for()
        created.locator("img.reward-img").wait_for()
        assert "库存 15" in created.inner_text()

        # Stock changes need a reason and are listed with who and why.
        created.get_by_role("button", name="调整库存").click()
        created.get_by_label("数量变化（进货填正数，出库填负数）").fill("-3")
        created.get_by_text("库存 15 → 12").wait_for()
        created.get_by_role("button", name="保存库存").click()
        created.get_by_text("请填写原因").wait_for()
        created.get_by_role("button", name="损坏报废").click()
        created.get_by_role("button", name="保存库存").click()
        page.locator(".manage-item", has_text="理发券").get_by_text("库存 12").wait_for()
        refreshed = page.locator(".manage-item", has_text="理发券")
        refreshed.get_by_role("button", name="库存记录").click()
        refreshed.locator(".stock-change", has_text="损坏报废").wait_for()
        assert "李晓梅" in refreshed.locator(".stock-history").inner_text()
        screenshot(page, "supermarket-rewards-360")
        page.set_viewport_size({"width": 1024, "height": 800})
        screenshot(page, "supermarket-rewards-1024")
        page.set_viewport_size(PHONE["viewport"])

        # On the spot: the member card, a reward, done at once.
        page.get_by_role("tab", name="现场兑换").click()
        page.fill("#spot-member", f"{base}/s/{shop['card']}")
        page.select_option("#spot-reward", label="纯棉毛巾 · 30 分 · 库存 40")
        page.fill("#spot-quantity", "2")
        page.get_by_text("将扣除 60 分").wait_for()
        page.click("#spot-form button[type=submit]")
        page.locator(".result-ok").filter(has_text="兑换完成").wait_for()
        assert "刘芳：纯棉毛巾 × 2，扣除 60 分" in page.locator("#spot-result").inner_text()
        screenshot(page, "supermarket-on-the-spot-360")

        balances = httpx.get(f"{base}/api/me/balances", headers=shop["volunteer"].headers).json()["points"]
        assert balances == {"balance": 260, "held": 0, "available": 260}
    finally:
        context.close()
    assert not errors, errors


def test_shop_in_english_and_for_someone_who_is_no_manager(live_server, browser, database_url):
    shop = build_shop(database_url)
    context, page, errors = phone(browser, live_server, shop["volunteer"])
    try:
        page.goto(f"{live_server}/shop.html")
        page.evaluate("localStorage.setItem('linli.lang', 'en')")
        page.reload()
        page.locator(".reward", has_text="大米 5kg").get_by_role("button", name="Redeem").wait_for()
        page.get_by_text("Sold out").wait_for()
        screenshot(page, "supermarket-shop-en-360")
        page.goto(f"{live_server}/redemptions.html")
        page.get_by_text("Only community managers handle redemptions.").wait_for()
    finally:
        context.close()
    assert not errors, errors


"""The console in Chromium (issue 12, acceptance 1): an admin builds a community and appoints its
manager; the manager logs in, invites a courier by phone and finds them in the members list."""

import json

import asyncpg
import httpx
import pytest

from domain.people import auth
from tests.conftest import in_thread, new_phone, register_sync, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "console-pass-1"


def create_admin(database_url: str) -> tuple[str, int]:
    """No HTTP route makes admins (that is `linli create-admin`): write one straight to the database,
    on a thread of its own so its event loop cannot meet the test's."""
    phone, result = new_phone(), {}

    async def make() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            result["id"] = await auth.create_user(conn, phone=phone, password=PASSWORD, name="王主任", is_admin=True)
        finally:
            await conn.close()

    in_thread(make)
    return phone, result["id"]


def log_in(context, live_server: str, phone: str) -> dict:
    r = httpx.post(f"{live_server}/api/auth/login", json={"phone": phone, "password": PASSWORD})
    assert r.status_code == 200
    login = r.json()
    context.add_cookies([{"name": "linli_session", "value": login["token"], "url": live_server},
                         {"name": "linli_csrf", "value": login["csrf"], "url": live_server}])
    return {"Authorization": f"Bearer {login['token']}"}


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    return errors


def shot(page, name: str, width: int | None = None) -> None:
    """Screenshot from the top, without passing toasts; at phone width, nothing may stick out sideways."""
    page.evaluate("document.getElementById('toast-region')?.replaceChildren(); window.scrollTo(0, 0)")
    if width:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, name)


def create_org(page, kind: str, name: str, parent: str | None = None) -> None:
    page.select_option("#org-kind", kind)
    page.fill("#org-name", name)
    if parent:
        page.select_option("#org-parent", label=parent)
    page.click("#org-form button[type=submit]")
    page.locator(".tree-name", has_text=name).wait_for()


def test_admin_sets_up_a_community_and_its_manager_invites_a_courier(live_server, browser, phone_page, database_url):
    admin_phone, _ = create_admin(database_url)
    manager_phone, courier_phone = new_phone(), new_phone()
    r = register_sync(live_server, manager_phone, PASSWORD, "李晓梅")
    assert r.status_code == 201
    manager_id = r.json()["user_id"]

    # The admin, at a desk.
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    admin_headers = log_in(desk, live_server, admin_phone)
    page = desk.new_page()
    errors = watch_errors(page)
    page.goto(f"{live_server}/console.html?tab=orgs")
    page.locator("#org-form").wait_for()
    tag = new_phone()[-4:]  # other tests share the database: names of this run are its own
    district, street, name, grid = f"东坡区{tag}", f"苏祠街道{tag}", f"三苏社区{tag}", f"第一网格{tag}"
    create_org(page, "district", district)
    create_org(page, "street", street, district)
    create_org(page, "community", name, street)
    create_org(page, "grid", grid, name)
    tree = httpx.get(f"{live_server}/api/console/tree", headers=admin_headers).json()
    community = next(c for d in tree["roots"] if d["name"] == district for s in d["children"] for c in s["children"]
                     if c["name"] == name)
    node = page.locator(f'li[data-org="{community["id"]}"]')
    node.locator('input[aria-label="管理员手机号"]').fill(manager_phone)
    node.get_by_role("button", name="任命").click()
    page.locator(".toast", has_text="已邀请李晓梅").wait_for()  # a manager by consent (issue 31): they accept
    shot(page, "console-admin-tree")
    # Rename the grid in place.
    grid_node = page.locator(".tree-node", has=page.locator(".tree-name", has_text=grid)).last
    grid_node.get_by_role("button", name="编辑").click()
    grid_node.locator("input[name=name]").fill(f"{grid}北")
    grid_node.get_by_role("button", name="保存").click()
    page.locator(".tree-name", has_text=f"{grid}北").wait_for()
    grid = f"{grid}北"
    # Find the new manager among all people: the admin sees the number masked.
    page.click("#tab-people")
    page.fill("#people-q", manager_phone[-6:])
    page.click("#people-form button[type=submit]")
    hit = page.locator("#people li", has_text="李晓梅")
    hit.wait_for()
    assert manager_phone[:3] + "****" + manager_phone[-4:] in hit.inner_text()
    shot(page, "console-admin-people")
    assert not errors, errors
    desk.close()

    # The manager logs in on a phone, accepts on the home page and lands in the console.
    page = phone_page
    page.goto(f"{live_server}/login.html?next=/")
    page.fill("#login-phone", manager_phone)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.locator("#invitations li[data-kind='manager']").get_by_role("button", name="接受并加入").click()
    page.locator("#features a[href='/console.html']").wait_for()
    managers = httpx.get(f"{live_server}/api/console/tree", headers=admin_headers).json()
    assert any(m["id"] == manager_id for d in managers["roots"] for s in d["children"] for c in s["children"]
               for m in c["managers"])
    page.goto(f"{live_server}/console.html")
    page.locator("#queues .queue").first.wait_for()
    assert page.locator("#community").input_value() == str(community["id"])
    shot(page, "console-manager-overview-360", 360)

    page.click("#tab-members")
    page.locator("#members-status", has_text="还没有成员").wait_for()
    page.fill("#invite-phone", courier_phone)
    page.fill("#invite-name", "马骏")
    page.select_option("#invite-role", "courier")
    assert page.locator("#invite-grid option").all_inner_texts() == [grid]
    page.click("#invite-form button[type=submit]")
    # The same answer for any phone (issue 30): an invitation waits for the person.
    page.get_by_text("已邀请马骏，对方接受后加入").wait_for()
    # The courier has no account yet: they sign up with the number and accept, like anyone invited.
    r = register_sync(live_server, courier_phone, PASSWORD, "马骏")
    assert r.status_code == 201
    courier = {"Authorization": f"Bearer {r.json()['token']}"}
    invitation = httpx.get(f"{live_server}/api/me/invitations", headers=courier).json()["items"][0]
    assert httpx.post(f"{live_server}/api/me/invitations/{invitation['id']}/accept", headers=courier).status_code == 200
    page.reload()
    page.locator("html[data-ready]").wait_for(state="attached")
    page.click("#tab-members")
    row = page.locator("#members li", has_text="马骏")
    row.wait_for()
    assert courier_phone in row.inner_text()  # their own manager sees the whole number
    assert "网格员" in row.inner_text() and grid in row.inner_text()
    shot(page, "console-manager-members-360", 360)

    # The member's page: statement, history (the answered invitation), and the manager's actions.
    row.click()
    page.locator("#member-detail h2", has_text="马骏").wait_for()
    page.locator("#member-detail .audit-entry", has_text="答复邀请").wait_for()
    shot(page, "console-manager-member-detail-360", 360)

    page.click("#tab-audit")
    # Two rows name 马骏: the answer to the invitation, and the look at the number on the member's page (issue 16).
    page.locator("#audit .audit-entry", has_text="马骏").filter(has_text="答复邀请").wait_for()
    page.locator("#audit .audit-entry", has_text="马骏").filter(has_text="查看完整手机号").wait_for()
    assert page.locator("#member-detail").is_hidden()
    shot(page, "console-manager-audit-360", 360)
    page.click(".lang-switch")
    page.locator("#tab-audit", has_text="Audit").wait_for()
    page.locator("#audit .audit-entry", has_text="Invitation answered").wait_for()
    shot(page, "console-manager-audit-en-360", 360)


def test_privacy_page_downloads_my_data(live_server, phone_page):
    phone = new_phone()
    r = register_sync(live_server, phone, PASSWORD, "周秀英")
    assert r.status_code == 201
    page = phone_page
    page.context.add_cookies([{"name": "linli_session", "value": r.json()["token"], "url": live_server},
                              {"name": "linli_csrf", "value": r.json()["csrf"], "url": live_server}])
    page.goto(f"{live_server}/privacy.html")
    # The records and identity above the button render when their answers arrive and push it down:
    # a click aimed before that lands where the button was (seed 2125523188, under load).
    page.locator("html[data-ready]").wait_for(state="attached")
    with page.expect_download() as download:
        page.click("#export")
    path = download.value.path()
    data = json.loads(open(path, encoding="utf-8").read())
    assert data["profile"]["phone"] == phone and data["profile"]["name"] == "周秀英"
    page.click("#close-form button[type=submit]")
    page.locator("#close-password-error").wait_for()
    shot(page, "privacy-360", 360)
    page.fill("#close-password", PASSWORD)
    page.check("#close-confirm")
    page.click("#close-form button[type=submit]")
    page.wait_for_url("**/login.html**")
    assert httpx.post(f"{live_server}/api/auth/login", json={"phone": phone, "password": PASSWORD}).status_code == 401

"""Issue 34 in Chromium at 360 px, in Chinese: a street publishes a base rulebook (积分细则) and the
district approves it; a community extends it with a deduction item and the street approves; a resident
reads it, earns by a rule and the statement names it; a deduction is proposed, appealed and decided by
a second manager; the 10-hour medal is awarded; a quarter's selection runs: a nomination, household
votes (a second vote from the same household is refused), the committee's decision confirmed by a
second manager, the 公示, an appeal, and the final result with its medal. The clock is frozen at the
real now and moved forward past the vote and the 公示."""

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from domain.core import clock, db
from domain.people import auth, orgs
from domain.rankings import rules as ranking_rules
from tests.conftest import ARTIFACTS, Login, in_thread, new_phone

pytestmark = pytest.mark.browser

WIDTH = 360
DATABASE: dict = {}


def with_pool(make):
    """Run `make(pool)` on a pool of its own, on an event loop of its own (the browser tests are synchronous)."""
    async def run():
        pool = await db.create_pool(DATABASE["url"], min_size=1, max_size=2)
        try:
            return await make(pool)
        finally:
            await pool.close()

    return in_thread(run)


def build() -> dict:
    """A district, a street, a community; its two managers, the street's and the district's managers;
    four residents in three households (张 and 李 share one)."""
    async def make(pool):
        people = {}
        async with pool.acquire() as conn:
            for role, name in (("admin", "系统管理员"), ("manager", "周主任"), ("deputy", "吴副主任"),
                               ("street", "郑书记"), ("district", "冯区长"), ("zhang", "张明华"), ("li", "李秀英"),
                               ("wang", "王建国"), ("zhao", "赵丽")):
                user_id = await auth.create_user(conn, phone=new_phone(), password=None, name=name,
                                                 is_admin=role == "admin")
                people[role] = Login(await auth._new_session(conn, user_id), name)
            admin = await orgs.load_actor(conn, people["admin"].id)
            district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
            street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
            community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
            for role, org in (("manager", community), ("deputy", community), ("street", street), ("district", district)):
                await orgs.appoint_manager(conn, admin, org.id, people[role].id)
            for role in ("zhang", "li", "wang", "zhao"):
                await orgs.add_member(conn, admin, community.id, people[role].id, "volunteer")
            for name, members in (("张家", ("zhang", "li")), ("王家", ("wang",)), ("赵家", ("zhao",))):
                household = await conn.fetchval(
                    "insert into households (community_id, name, created_at) values ($1, $2, now()) returning id",
                    community.id, name)
                for role in members:
                    await conn.execute("insert into household_members (user_id, household_id, added_at) "
                                       "values ($1, $2, now())", people[role].id, household)
        return {**people, "community": community.id, "street_id": street.id}
    return with_pool(make)


def api(base: str, person: Login, method: str, path: str, status=(200, 201), **kwargs):
    r = httpx.request(method, f"{base}{path}", headers=person.headers, timeout=30, **kwargs)
    assert r.status_code in status, (path, r.status_code, r.text)
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


class Pages:
    """One browser context per person at 360 px; console errors fail the test."""

    def __init__(self, browser, base: str):
        self.browser, self.base, self.errors, self.contexts = browser, base, [], []

    def open(self, person: Login, path: str):
        context = self.browser.new_context(viewport={"width": WIDTH, "height": 800}, device_scale_factor=1,
                                           locale="zh-CN")
        context.add_cookies(person.cookies(self.base))
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and "status of 4" not in m.text
                else None)
        self.contexts.append(context)
        self.go(page, path)
        return page

    def go(self, page, path: str) -> None:
        page.goto(f"{self.base}{path}")

    def check(self, page, name: str) -> None:
        """Nothing wider than the phone; a picture for the record."""
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, name
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"recognition-{name}-{WIDTH}.png"), full_page=True)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def fill_item(page, n: int, code: str, kind: str, title: str, points: int, clause: str = "", cap: str = "") -> None:
    page.fill(f"#code-{n}", code)
    page.select_option(f"#kind-{n}", kind)
    page.fill(f"#title-{n}", title)
    page.fill(f"#points-{n}", str(points))
    if cap:
        page.fill(f"#cap-{n}", cap)
    if clause:
        page.fill(f"#clause-{n}", clause)


def approve_in_held(pages: Pages, person: Login, text: str) -> None:
    page = pages.open(person, "/held.html")
    item = page.locator("#items li", has_text=text)
    item.wait_for()
    pages.check(page, f"held-{person.id}")
    item.get_by_role("button", name="批准").click()
    page.locator("#items li", has_text=text).wait_for(state="detached")


def test_rulebook_deduction_medal_and_a_quarters_selection_on_a_phone(live_server, database_url, browser):
    DATABASE["url"] = database_url
    now = datetime.now(timezone.utc).replace(microsecond=0)
    clock.freeze(now)
    w = build()
    base, c = live_server, w["community"]
    manager, deputy, street, district = w["manager"], w["deputy"], w["street"], w["district"]
    zhang, li, wang, zhao = w["zhang"], w["li"], w["wang"], w["zhao"]
    pages = Pages(browser, base)
    try:
        # 1. The street publishes a base rulebook; the district approves it.
        page = pages.open(street, f"/rulebook.html?org={w['street_id']}")
        page.locator("#propose-card:not([hidden])").wait_for()
        page.fill("#book-title-input", "苏祠街道积分细则")
        fill_item(page, 1, "A1", "earn", "参加志愿服务", 10, cap="30")
        page.click("#add-item")
        fill_item(page, 2, "D1", "deduct", "乱扔垃圾", 5, clause="居民公约第二条：垃圾分类投放")
        pages.check(page, "rulebook-propose")
        page.get_by_role("button", name="提交复核").click()
        page.locator("#pending li", has_text="苏祠街道积分细则").wait_for()
        approve_in_held(pages, district, "积分细则新版本")

        # 2. The community extends it with one deduction item; the street approves.
        page = pages.open(manager, f"/rulebook.html?org={c}")
        page.locator("#propose-card:not([hidden])").wait_for()
        page.fill("#book-title-input", "三苏社区积分细则")
        fill_item(page, 1, "D2", "deduct", "高空抛物", 20, clause="小区公约第三条：严禁高空抛物")
        page.get_by_role("button", name="提交复核").click()
        page.locator("#pending li", has_text="三苏社区积分细则").wait_for()
        approve_in_held(pages, street, "积分细则新版本")

        # 3. A resident reads it.
        page = pages.open(zhang, "/rulebook.html")
        page.locator("#earn li", has_text="参加志愿服务").wait_for()
        deducts = page.locator("#deduct").inner_text()
        assert "乱扔垃圾" in deducts and "高空抛物" in deducts and "小区公约第三条" in deducts, deducts
        pages.check(page, "rulebook-read")

        # 4. They earn by a rule (an activity under A1: 10 points; a stay of 10 hours), and the statement names it.
        book = api(base, zhang, "GET", f"/api/orgs/{c}/rulebook")
        a1 = next(i for i in book["items"] if i["code"] == "A1")
        activity = api(base, manager, "POST", "/api/activities", json={
            "community_id": c, "title": "清扫楼道", "rule_item_id": a1["id"],
            "starts_at": (now - timedelta(hours=11)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()})
        assert activity["points"] == 10
        api(base, manager, "POST", f"/api/activities/{activity['id']}/publish")
        for person, minutes in ((zhang, 600), (li, 60), (wang, 60), (zhao, 60)):
            api(base, manager, "POST", f"/api/activities/{activity['id']}/attendance/mark", status=(200,),
                json={"user_ids": [person.id], "reason": "现场签到", "minutes": minutes})
        page = pages.open(zhang, "/statement.html")
        rule_line = page.locator(".entry-rule", has_text="A1 参加志愿服务")
        rule_line.wait_for()
        assert "第1版" in rule_line.inner_text()
        pages.check(page, "statement-rule")

        # 5. A deduction is proposed with evidence, appealed, and decided by a second manager.
        page = pages.open(manager, "/deductions.html")
        page.locator("#propose-card:not([hidden])").wait_for()
        page.select_option("#person", str(zhang.id))
        page.select_option("#rule", label="D2 高空抛物（−20）")
        page.fill("#evidence", "11月2日晚从6楼扔下花盆，有监控截图")
        page.get_by_role("button", name="提出扣分").click()
        page.locator(".toast", has_text="已提出").wait_for()
        page = pages.open(zhang, "/deductions.html")
        mine = page.locator("#mine li", has_text="高空抛物")
        mine.wait_for()
        mine.locator("textarea").fill("当晚我不在家，请核实监控")
        mine.get_by_role("button", name="提出申诉").click()
        page.locator("#mine li", has_text="已申诉").wait_for()
        pages.check(page, "deduction-appealed")
        approve_in_held(pages, deputy, "扣分")
        pages.go(page, "/deductions.html")
        done = page.locator("#mine li", has_text="已执行").inner_text()
        assert "实际扣除 10 分" in done and "10 分不足部分只作记录" in done, done
        assert api(base, zhang, "GET", "/api/me/balances")["points"]["balance"] == 0

        # 6. Medals by rule: 10 hours served.
        page = pages.open(manager, "/selection.html")
        page.locator("#medals-card:not([hidden])").wait_for()
        page.get_by_role("button", name="按规则颁发勋章").click()
        page.locator("#medal-list li", has_text="志愿服务10小时").wait_for()
        page = pages.open(zhang, "/card.html")
        page.locator("#medal-badges li", has_text="志愿服务10小时").wait_for()
        pages.check(page, "card-medal")

        # 7. A quarter's selection: opened from the ranking (李, 王, 赵 earned; 张 is below zero).
        quarter = str(ranking_rules.quarter_of(now, clock.zone()))
        page = pages.open(manager, "/selection.html")
        page.locator("#open-card:not([hidden])").wait_for()
        page.select_option("#quarter", quarter)
        page.fill("#top_n", "2")
        page.fill("#max_votes", "2")
        page.fill("#days", "3")
        page.get_by_role("button", name="发起评选").click()
        page.locator("#detail-view:not([hidden])").wait_for()
        selection_id = int(page.url.split("id=")[1])
        # Residents find it on their home page; 李 (张家) nominates 张 with a reason and votes.
        page = pages.open(li, "/")
        page.locator("#notices li", has_text="评选").first.click()
        page.locator("#nominate-card:not([hidden])").wait_for()
        page.select_option("#nominee", str(zhang.id))
        page.fill("#nominate-reason", "常年照顾独居老人")
        page.get_by_role("button", name="提交提名").click()
        page.locator("#candidates li", has_text="提名理由：常年照顾独居老人").wait_for()
        pages.check(page, "selection-nominated")
        ids = {x["user_id"]: x["id"] for x in api(base, li, "GET", f"/api/selections/{selection_id}")["candidates"]}
        page.check(f"input[name=candidate][value='{ids[zhang.id]}']")
        page.check(f"input[name=candidate][value='{ids[wang.id]}']")
        page.get_by_role("button", name="投票").click()
        page.locator("#sel-state", has_text="您家已投票").wait_for()
        # A second vote from the same household is refused.
        r = httpx.post(f"{base}/api/selections/{selection_id}/votes", headers=zhang.headers,
                       json={"candidate_ids": [ids[wang.id]]})
        assert r.status_code == 409 and r.json()["details"]["why"] == "household_voted", r.text
        page = pages.open(zhang, f"/selection.html?id={selection_id}")
        page.locator("#sel-state", has_text="您家已投票").wait_for()
        assert page.locator("#vote-submit").is_hidden()
        page = pages.open(wang, f"/selection.html?id={selection_id}")
        page.check(f"input[name=candidate][value='{ids[zhang.id]}']")
        page.get_by_role("button", name="投票").click()
        page.locator("#sel-state", has_text="您家已投票").wait_for()

        # The vote closes; the committee decides with a reason per choice; a second manager confirms.
        clock.advance(timedelta(days=3, minutes=5))
        page = pages.open(manager, f"/selection.html?id={selection_id}")
        page.locator("#decide-card:not([hidden])").wait_for()
        page.check(f"#pick-{ids[zhang.id]}")
        page.fill(f"#why-{ids[zhang.id]}", "居民提名、得票最多，事迹突出")
        pages.check(page, "selection-decide")
        page.get_by_role("button", name="提交决定").click()
        page.locator("#sel-state", has_text="委员会决定中").wait_for()
        approve_in_held(pages, deputy, "评选决定")

        # 公示, and an appeal through it.
        page = pages.open(zhao, "/")
        page.locator("#notices li", has_text="评选结果公示").first.click()
        page.locator("#posting:not([hidden])").wait_for()
        assert "道德模范" in page.locator("#posting-kind").inner_text()
        page.fill("#reason", "请公布入选理由")
        page.get_by_role("button", name="提交异议").click()
        page.locator("#my-appeals li").wait_for()
        pages.check(page, "selection-posting")
        posting_id = api(base, zhao, "GET", f"/api/selections/{selection_id}")["posting_id"]
        [appeal] = api(base, manager, "GET", f"/api/postings/{posting_id}/appeals")["items"]
        api(base, manager, "POST", f"/api/appeals/{appeal['id']}/answer", status=(200,),
            json={"answer": "理由：居民提名、得票最多，事迹突出"})

        # The window ends: the result is final; the selected has the medal on their card.
        clock.advance(timedelta(days=8))
        page = pages.open(manager, f"/selection.html?id={selection_id}")
        page.get_by_role("button", name="公示期满，确认最终结果").click()
        page.locator("#sel-state", has_text="已揭晓").wait_for()
        pages.check(page, "selection-final")
        csv_text = api(base, manager, "GET", f"/api/selections/{selection_id}/export.csv").text
        assert "得票(户)" in csv_text and "入选" in csv_text and "张明华" in csv_text
        page = pages.open(zhang, "/card.html")
        page.locator("#medal-badges li", has_text="道德模范").wait_for()
        page = pages.open(zhang, "/certificate.html")  # and a line on their certificate
        page.locator("#cert-honours:not([hidden])", has_text="道德模范").wait_for()
        assert not pages.errors, pages.errors
    except Exception:  # what the last page showed, to read in the failure's output
        print("browser errors:", pages.errors)
        for context in pages.contexts[-1:]:
            for open_page in context.pages:
                print("last page:", open_page.url, open_page.locator("main").inner_text()[:1500])
        raise
    finally:
        pages.close()
        clock.unfreeze()

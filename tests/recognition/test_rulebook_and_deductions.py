"""Issue 34, the rulebook (积分细则) and deductions with due process, through the API: a street's base
and a community's extension take effect only when a second person approves; residents read them;
activity points come from the rulebook and every credit and deduction names its rule and version
(ledger); a deduction is proposed with evidence, appealed, decided by a second manager (never its
proposer, never its subject: refusals change nothing), posted without going below zero, and the
quarter's ranking counts it whole."""

import pytest

from domain.core import clock
from domain.recognition import rulebook
from tests.conftest import World
from tests.recognition.support import (
    BASE_ITEMS,
    T0,
    activity_under,
    adopt_loop_items,
    appoint,
    city_with_rulebook,
    close_in_time,
    grid_loop,
    grid_loop_under_rulebook,
    ok,
    verified_report,
)
from tests.snapshot import unchanged


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(T0)


async def test_a_version_takes_effect_only_when_a_second_person_approves(client, world: World, pool):
    c = await world.community("四眼社区")
    street = await appoint(client, world, c.street_id, "四眼街道")
    district = await appoint(client, world, c.district_id, "四眼区")
    member = await world.member(c, "四眼居民")
    base = await ok(client, street, "POST", "/api/rulebooks",
                    json={"org_id": c.street_id, "title": "街道积分细则", "items": BASE_ITEMS})
    assert base["state"] == "pending" and base["version"] == 1
    # Not in force yet: a resident reads no rules.
    book = await ok(client, member, "GET", f"/api/orgs/{c.id}/rulebook")
    assert book["in_force"] is None and book["items"] == [] and book["pending"] == []
    # The proposer may not approve it: nothing changes.
    async with unchanged(pool, people=[street.id], communities=[c.street_id, c.id]):
        r = await client.post(f"/api/held/rulebook/{base['id']}/approve", headers=street.headers, json={})
        assert r.status_code == 403, r.text
    # A community's manager is no second person for the street's rulebook.
    r = await client.post(f"/api/held/rulebook/{base['id']}/approve", headers=c.manager.headers, json={})
    assert r.status_code == 404, r.text
    queue = await ok(client, district, "GET", "/api/held")
    [item] = [i for i in queue["items"] if i["kind"] == "rulebook" and i["id"] == base["id"]]
    assert item["can_decide"] and item["maker"]["id"] == street.id
    await ok(client, district, "POST", f"/api/held/rulebook/{base['id']}/approve", json={})
    book = await ok(client, member, "GET", f"/api/orgs/{c.id}/rulebook")
    assert book["in_force"]["id"] == base["id"] and [i["code"] for i in book["items"]] == ["A1", "D1"]
    # A deduction item names the compact clause it enforces.
    r = await client.post("/api/rulebooks", headers=c.manager.headers, json={
        "org_id": c.id, "title": "社区积分细则", "items": [{"code": "D9", "kind": "deduct", "title": "占道", "points": 3}]})
    assert r.status_code == 422 and r.json()["details"]["field"] == "items[0].clause", r.text
    # Codes of the base may not be repeated by an extension.
    r = await client.post("/api/rulebooks", headers=c.manager.headers, json={
        "org_id": c.id, "title": "社区积分细则", "items": [dict(BASE_ITEMS[0])]})
    assert r.status_code == 422 and r.json()["details"]["field"] == "items[0].code", r.text
    # The proposer is told of the decision (held queue), with a link.
    inbox = await ok(client, street, "GET", "/api/me/messages/")
    assert any(n["kind"] == "held_decided" for n in inbox["items"])


async def test_residents_read_it_earn_by_a_rule_and_the_statement_names_it(client, world: World, pool):
    city = await city_with_rulebook(client, world, "细则社区")
    book = await ok(client, city.member, "GET", f"/api/orgs/{city.c.id}/rulebook")
    assert [i["code"] for i in book["items"]] == ["A1", "D1", "D2"]
    assert book["base"]["id"] == city.base_id and book["in_force"]["id"] == city.extension_id
    assert city.item(book, "D2")["clause"].startswith("小区公约") and book["can_propose"] is False
    # Where a community has a rulebook, an activity's points come from one of its items.
    r = await client.post("/api/activities", headers=city.c.manager.headers, json={
        "community_id": city.c.id, "title": "自定积分", "points": 99,
        "starts_at": T0.isoformat(), "ends_at": T0.replace(hour=5).isoformat()})
    assert r.status_code == 422 and r.json()["details"]["field"] == "rule_item_id", r.text
    r = await client.post("/api/activities", headers=city.c.manager.headers, json={
        "community_id": city.c.id, "title": "扣分项不能挣分", "rule_item_id": city.item(book, "D1")["id"],
        "starts_at": T0.isoformat(), "ends_at": T0.replace(hour=5).isoformat()})
    assert r.status_code == 422, r.text
    activity = await activity_under(client, city, "A1", points=99)
    assert activity["points"] == 10 and activity["daily_points_cap"] == 30
    assert activity["rule_item_id"] == city.item(book, "A1")["id"]
    await ok(client, city.c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [city.member.id], "reason": "现场签到", "minutes": 60})
    statement = await ok(client, city.member, "GET", "/api/me/statement")
    [line] = [i for i in statement["items"] if i["cause"]["type"] == "checkin"]
    assert line["amount"] == 10 and line["rule"] == "《测试街道积分细则》第1版 A1 参加志愿服务", line


async def test_a_deduction_is_proposed_appealed_decided_by_a_second_manager_and_posted(client, world: World, pool):
    city = await city_with_rulebook(client, world, "扣分社区")
    c, member = city.c, city.member
    book = await ok(client, member, "GET", f"/api/orgs/{c.id}/rulebook")
    activity = await activity_under(client, city, "A1")
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [member.id], "reason": "现场签到", "minutes": 60})
    d2 = city.item(book, "D2")
    # Proposed with evidence; the person is told and sees it.
    r = await client.post("/api/deductions", headers=c.manager.headers, files={
        "community_id": (None, str(c.id)), "user_id": (None, str(member.id)), "rule_item_id": (None, str(d2["id"])),
        "evidence": (None, "3月2日晚从6楼扔下花盆，有监控截图")})
    assert r.status_code == 201, r.text
    deduction = r.json()
    assert deduction["amount"] == 20 and deduction["state"] == "proposed" and deduction["rule"]["code"] == "D2"
    mine = await ok(client, member, "GET", "/api/me/deductions")
    assert [d["id"] for d in mine["items"]] == [deduction["id"]] and mine["items"][0]["can_appeal"]
    inbox = await ok(client, member, "GET", "/api/me/messages/")
    assert any(n["kind"] == "deduction_proposed" and n["link"] == f"/deductions.html#d-{deduction['id']}"
               for n in inbox["items"])
    people, communities = [member.id, c.manager.id, city.deputy.id], [c.id]
    # Nobody decides before the person had their say (window open, no appeal yet).
    async with unchanged(pool, people=people, communities=communities):
        r = await client.post(f"/api/held/deduction/{deduction['id']}/approve", headers=city.deputy.headers, json={})
        assert r.status_code == 409 and r.json()["details"]["why"] == "appeal_window_open", r.text
    await ok(client, member, "POST", f"/api/deductions/{deduction['id']}/appeal", json={"reason": "不是我扔的"})
    r = await client.post(f"/api/deductions/{deduction['id']}/appeal", headers=member.headers, json={"reason": "再申诉"})
    assert r.status_code == 409, r.text
    # The proposer may not decide it, the person may not, nor anyone outside.
    async with unchanged(pool, people=people, communities=communities):
        r = await client.post(f"/api/held/deduction/{deduction['id']}/approve", headers=c.manager.headers, json={})
        assert r.status_code == 403, r.text
        r = await client.post(f"/api/held/deduction/{deduction['id']}/approve", headers=member.headers, json={})
        assert r.status_code in (403, 404), r.text
    queue = await ok(client, city.deputy, "GET", "/api/held", params={"community_id": c.id})
    [item] = [i for i in queue["items"] if i["kind"] == "deduction"]
    assert item["can_decide"] and item["evidence"]["appeal_reason"] == "不是我扔的"
    decided = await ok(client, city.deputy, "POST", f"/api/held/deduction/{deduction['id']}/approve",
                       json={"reason": "监控清楚"})
    assert decided["state"] == "approved"
    after = await ok(client, member, "GET", f"/api/deductions/{deduction['id']}")
    # 10 points there: it takes 10, records 10 as unrecovered, and the balance stops at zero.
    assert (after["state"], after["taken"], after["unrecovered"]) == ("posted", 10, 10)
    assert (await ok(client, member, "GET", "/api/me/balances"))["points"]["balance"] == 0
    statement = await ok(client, member, "GET", "/api/me/statement")
    [line] = [i for i in statement["items"] if i["cause"]["type"] == "deduction"]
    assert line["amount"] == -10 and "第1版 D2 高空抛物" in line["rule"]
    # The quarter's score: earned 10 there, minus the deduction's 20.
    ranking = await ok(client, c.manager, "GET", "/api/rankings", params={"scope": "community", "org_id": c.id})
    [row] = [i for i in ranking["items"] if i["id"] == member.id]
    assert row["amount"] == 10 - 20
    assert not (await world.ledger_problems())


async def test_nobody_decides_a_deduction_of_themself(client, world: World, pool):
    city = await city_with_rulebook(client, world, "自决社区")
    c = city.c
    admin = await world.admin()
    # The deputy is also a resident of the community; the manager proposes a deduction of the deputy.
    async with pool.acquire() as conn:
        from domain.people import orgs
        await orgs.add_member(conn, await orgs.load_actor(conn, admin.id), c.id, city.deputy.id, "volunteer")
    book = await ok(client, city.member, "GET", f"/api/orgs/{c.id}/rulebook")
    r = await client.post("/api/deductions", headers=c.manager.headers, files={
        "community_id": (None, str(c.id)), "user_id": (None, str(city.deputy.id)),
        "rule_item_id": (None, str(city.item(book, "D1")["id"])), "evidence": (None, "楼道乱扔垃圾")})
    assert r.status_code == 201, r.text
    deduction = r.json()
    clock.advance(__import__("datetime").timedelta(days=8))  # the window passed without an appeal
    async with unchanged(pool, people=[city.deputy.id, c.manager.id], communities=[c.id]):
        r = await client.post(f"/api/held/deduction/{deduction['id']}/approve", headers=city.deputy.headers, json={})
        assert r.status_code == 403, r.text
        r = await client.post(f"/api/held/deduction/{deduction['id']}/reject", headers=city.deputy.headers,
                              json={"reason": "我不同意"})
        assert r.status_code == 403, r.text
        # A manager may not propose a deduction of themself either.
        r = await client.post("/api/deductions", headers=c.manager.headers, files={
            "community_id": (None, str(c.id)), "user_id": (None, str(c.manager.id)),
            "rule_item_id": (None, str(city.item(book, "D1")["id"])), "evidence": (None, "自己")})
        assert r.status_code in (403, 422), r.text
    # The street decides it (nothing to take: the balance is zero; all 5 are recorded, not owed).
    await ok(client, city.street, "POST", f"/api/held/deduction/{deduction['id']}/approve", json={})
    after = await ok(client, city.deputy, "GET", f"/api/deductions/{deduction['id']}")
    assert (after["state"], after["taken"], after["unrecovered"], after["transfer_id"]) == ("posted", 0, 5, None)


async def test_every_credit_and_deduction_under_a_rulebook_names_its_rule_and_version(client, world: World, pool):
    """Over the ledger: every transfer into or out of the community's members caused by an activity
    created under the rulebook, by a deduction, by a courier's report or a case's bonus paid under
    it, names an item and its version."""
    city = await city_with_rulebook(client, world, "账本社区")
    c = city.c
    other = await world.member(c, "账本居民二")
    loop = await grid_loop_under_rulebook(client, world, city)
    report = await verified_report(client, city, loop)
    case = await close_in_time(client, city, loop, report["id"])
    assert (report["points"], case["closed_in_time"]) == (12, True)
    book = await ok(client, city.member, "GET", f"/api/orgs/{c.id}/rulebook")
    activity = await activity_under(client, city, "A1")
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [city.member.id, other.id], "reason": "现场签到", "minutes": 30})
    r = await client.post("/api/deductions", headers=c.manager.headers, files={
        "community_id": (None, str(c.id)), "user_id": (None, str(other.id)),
        "rule_item_id": (None, str(city.item(book, "D1")["id"])), "evidence": (None, "乱扔垃圾")})
    await ok(client, other, "POST", f"/api/deductions/{r.json()['id']}/appeal", json={"reason": "请核实"})
    await ok(client, city.deputy, "POST", f"/api/held/deduction/{r.json()['id']}/approve", json={})
    rows = await pool.fetch(
        """select t.id, t.cause_type, t.cause_id, t.kind from transfers t join accounts a
             on a.id in (t.debit_account, t.credit_account)
           where a.user_id = any($1::bigint[]) and t.state = 'posted'""", [city.member.id, other.id, loop.courier.id])
    assert {r["kind"] for r in rows} == {"award", "deduction"}
    assert {r["cause_type"] for r in rows} == {"checkin", "deduction", "report", "case"}
    async with pool.acquire() as conn:
        named = await rulebook.rules_of(conn, [(r["cause_type"], r["cause_id"]) for r in rows])
    for r in rows:
        rule = named[(r["cause_type"], r["cause_id"])]
        assert rule.version >= 1 and rule.code in ("A1", "D1", "R1", "K1") and f"第{rule.version}版" in rule.label, r
        assert rule.transfer_id in (None, r["id"]), r
    # The courier's statement names the rule of the report's points and of the case's bonus.
    statement = await ok(client, loop.courier, "GET", "/api/me/statement")
    lines = {i["cause"]["type"]: (i["amount"], i["rule"]) for i in statement["items"]}
    assert lines == {"report": (12, "《账本社区积分细则》第2版 R1 隐患排查上报"),
                     "case": (8, "《账本社区积分细则》第2版 K1 上报事项按时办结")}, lines
    # The ranking score of the deducted resident: 10 earned - 5 deducted.
    ranking = await ok(client, c.manager, "GET", "/api/rankings", params={"scope": "community", "org_id": c.id})
    assert {i["id"]: i["amount"] for i in ranking["items"]}[other.id] == 5


async def test_report_points_and_case_bonuses_come_from_the_rulebook_else_the_settings(client, world: World, pool):
    """Where the rulebook in force has an item for a report kind or for a case closed in time, its
    points and daily cap pay; a kind it does not list is paid by the report settings, naming no rule.
    Such items are not for activities, and only what earns may pay for them (one item per purpose)."""
    city = await city_with_rulebook(client, world, "上报细则社区")
    c = city.c
    r = await client.post("/api/rulebooks", headers=c.manager.headers, json={"org_id": c.id, "title": "细则", "items": [
        {"code": "X1", "kind": "deduct", "title": "扣", "points": 1, "clause": "公约", "applies_to": "report_hazard"}]})
    assert r.status_code == 422 and r.json()["details"]["field"] == "items[0].applies_to", r.text
    r = await client.post("/api/rulebooks", headers=c.manager.headers, json={"org_id": c.id, "title": "细则", "items": [
        {"code": "X1", "kind": "earn", "title": "甲", "points": 1, "applies_to": "case_in_time"},
        {"code": "X2", "kind": "earn", "title": "乙", "points": 2, "applies_to": "case_in_time"}]})
    assert r.status_code == 422 and r.json()["details"]["field"] == "items[1].applies_to", r.text
    # Before the rulebook lists them, the settings pay, and the credits name no rule.
    loop = await grid_loop(client, world, city)
    before = await verified_report(client, city, loop)
    assert before["points"] == 10
    await adopt_loop_items(client, city)
    # Under it: the item's points, then its daily cap of 15 (of reports filed that day, under the item).
    first = await verified_report(client, city, loop)
    second = await verified_report(client, city, loop)
    assert (first["points"], second["points"], second["points_withheld"]) == (12, 3, 9)
    civility = await verified_report(client, city, loop, kind="civility")
    assert civility["points"] == 5  # not listed: the settings pay
    settings = await ok(client, c.manager, "GET", f"/api/communities/{c.id}/report-settings")
    assert (settings["paid"]["hazard"], settings["paid"]["civility"], settings["points"]["hazard"]) == (12, 5, 10)
    assert set(settings["rule_labels"]) == {"hazard", "case_bonus"}
    summary = await ok(client, loop.courier, "GET", "/api/couriers/me")
    assert (summary["kinds"]["hazard"], summary["kinds"]["civility"]) == (12, 5)
    case = await close_in_time(client, city, loop, first["id"])
    assert case["closed_in_time"] is True
    statement = await ok(client, loop.courier, "GET", "/api/me/statement")
    lines = {(i["cause"]["type"], i["cause"]["id"]): (i["amount"], i["rule"]) for i in statement["items"]}
    assert lines[("report", before["id"])] == (10, None) and lines[("report", civility["id"])] == (5, None)
    assert lines[("report", second["id"])] == (3, "《上报细则社区积分细则》第2版 R1 隐患排查上报")
    assert lines[("case", case["id"])] == (8, "《上报细则社区积分细则》第2版 K1 上报事项按时办结")
    # An item that pays for reports or cases is not one an activity earns by.
    book = await ok(client, city.member, "GET", f"/api/orgs/{c.id}/rulebook")
    r = await client.post("/api/activities", headers=c.manager.headers, json={
        "community_id": c.id, "title": "上报项不是活动", "rule_item_id": city.item(book, "R1")["id"],
        "starts_at": T0.isoformat(), "ends_at": T0.replace(hour=5).isoformat()})
    assert r.status_code == 422 and r.json()["details"]["field"] == "rule_item_id", r.text
    assert not (await world.ledger_problems())

"""双报到 and the city above the community (issue 20), through the HTTP API: work units under a
street, members who report to the communities they live in, what the unit administrator, the
community and the street see, and what each may not do."""

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from domain.core import clock
from domain.rankings import rules as ranking_rules
from tests.checkin.test_activities import T0, new_activity
from tests.conftest import Community, Person, appoint
from tests.snapshot import unchanged


@dataclass
class Street:
    c1: Community
    c2: Community
    manager: Person        # the street's manager
    unit: dict             # 区政务服务中心党支部
    other: dict            # 苏祠小学党支部
    unit_admin: Person
    a: Person
    b: Person
    c: Person
    d: Person


async def ok(client, person, method, url, body=None, status=200, headers=None, **kw):
    r = await client.request(method, url, json=body, headers=person.headers | (headers or {}), **kw)
    assert r.status_code == status, (url, r.status_code, r.text)
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r


async def serve(client, community: Community, people: list[Person], hours: int) -> None:
    """An activity in the past `hours` long, every person marked attended by the community's manager:
    5 points for coming plus 10 an hour, and the minutes served."""
    activity = await new_activity(client, community, points=5, points_per_hour=10, max_minutes=hours * 60,
                                  starts=T0 - timedelta(hours=hours, minutes=1), ends=T0 - timedelta(minutes=1))
    r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=community.manager.headers,
                          json={"user_ids": [p.id for p in people], "reason": "现场登记", "minutes": hours * 60})
    assert r.status_code == 200 and len(r.json()["marked"]) == len(people), r.text


async def name_admin(client, manager: Person, unit: dict, person: Person) -> None:
    """The street's manager names the unit's administrator; the person accepts (issue 31)."""
    invite = await ok(client, manager, "POST", f"/api/units/{unit['id']}/admins", {"phone": person.phone}, status=201)
    assert invite["kind"] == "unit_admin" and invite["state"] == "open"
    await ok(client, person, "POST", f"/api/me/role-invites/{invite['id']}/accept")


async def street_with_units(client, world) -> Street:
    clock.freeze(T0)
    c1 = await world.community("三苏社区")
    c2 = await world.community("裕丰社区", street_id=c1.street_id)
    admin = await world.admin()
    manager = await world.person("街道书记")
    assert (await appoint(client, admin, c1.street_id, manager)).status_code == 200
    unit = await ok(client, manager, "POST", "/api/units",
                    {"name": "区政务服务中心党支部", "kind": "government", "parent_id": c1.street_id}, status=201)
    other = await ok(client, manager, "POST", "/api/units",
                     {"name": "苏祠小学党支部", "kind": "school", "parent_id": c1.street_id}, status=201)
    unit_admin = await world.person("支部书记")
    await name_admin(client, manager, unit, unit_admin)
    a, b, c, d = [await world.person(n) for n in ("张三明", "李四", "王五", "赵六")]
    roster = f"手机号,姓名\r\n{a.phone},张三明\r\n{b.phone},李四\r\n13,坏号码\r\n".encode("utf-8-sig")
    result = await ok(client, unit_admin, "POST", f"/api/units/{unit['id']}/roster",
                      files={"file": ("名单.csv", roster, "text/csv")})
    assert (result["rows"], result["added"], result["problems"]) == (2, 2, [{"line": 4, "problem": "bad_phone"}])
    school_admin = await world.person("小学书记")
    await name_admin(client, manager, other, school_admin)
    await ok(client, school_admin, "POST", f"/api/units/{other['id']}/roster",
             files={"file": ("roster.csv", f"{d.phone},赵六\n".encode(), "text/csv")})
    return Street(c1, c2, manager, unit, other, unit_admin, a, b, c, d)


async def report(client, person, unit, community: Community, status=201):
    return await ok(client, person, "POST", "/api/unit-reports",
                    {"unit_id": unit["id"], "community_id": community.id, "grid_id": community.grid_id,
                     "party_member": True}, status=status)


async def test_a_units_members_report_serve_and_the_unit_sees_exactly_their_quarter(client, world, pool):
    s = await street_with_units(client, world)
    reports = [await report(client, s.a, s.unit, s.c1), await report(client, s.b, s.unit, s.c1),
               await report(client, s.c, s.unit, s.c2), await report(client, s.d, s.other, s.c2)]
    assert [r["state"] for r in reports] == ["pending"] * 4
    # One home: a second report while one is open is refused.
    again = await client.post("/api/unit-reports", json={"unit_id": s.unit["id"], "community_id": s.c2.id},
                              headers=s.a.headers)
    assert again.status_code == 409 and again.json()["details"]["why"] == "already_reported"

    queue = await ok(client, s.c1.manager, "GET", f"/api/communities/{s.c1.id}/unit-reports")
    assert [(r["user_name"], r["unit_name"], r["grid_name"]) for r in queue] == [
        ("张三明", "区政务服务中心党支部", "第一网格"), ("李四", "区政务服务中心党支部", "第一网格")]
    for r in reports[:2]:
        await ok(client, s.c1.manager, "POST", f"/api/unit-reports/{r['id']}/approve")
    for r in reports[2:]:
        await ok(client, s.c2.manager, "POST", f"/api/unit-reports/{r['id']}/approve")
    # Approval made them volunteers where they live: they can be marked attended there.
    await serve(client, s.c1, [s.a, s.b], hours=2)      # 120 minutes and 25 points each
    await serve(client, s.c2, [s.c], hours=1)           # 60 minutes and 15 points
    await serve(client, s.c2, [s.d], hours=3)           # the other unit's member: 180 minutes, 35 points

    view = await ok(client, s.unit_admin, "GET", f"/api/units/{s.unit['id']}/view")
    # 王五 declared but is not on the roster: the unit must confirm before it counts him.
    assert [m["name"] for m in view["members"]] == ["张三明", "李四"]
    assert [m["name"] for m in view["pending_claims"]] == ["王五"]
    await ok(client, s.unit_admin, "POST", f"/api/units/{s.unit['id']}/members/{s.c.id}/confirm", status=204)
    view = await ok(client, s.unit_admin, "GET", f"/api/units/{s.unit['id']}/view")
    lines = {m["name"]: (m["community_name"], m["minutes"], m["points"], m["party_member"]) for m in view["members"]}
    assert lines == {"张三明": ("三苏社区", 120, 25, True), "李四": ("三苏社区", 120, 25, True),
                     "王五": ("裕丰社区", 60, 15, True)}
    assert (view["minutes"], view["points"], view["reported_rate"]) == (300, 65, 100.0)
    # Ranked among the street's units by minutes: 300 against the school's 180.
    assert (view["rank"], view["units_ranked"]) == (1, 2)
    assert [(u["name"], u["rank"], u["minutes"]) for u in view["ranking"]] == [
        ("区政务服务中心党支部", 1, 300), ("苏祠小学党支部", 2, 180)]
    assert all("****" in m["phone"] for m in view["members"])

    r = await client.get(f"/api/units/{s.unit['id']}/view?format=csv", headers=s.unit_admin.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens it as UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "姓名" and rows[0][3] == "报到社区"
    assert sorted((row[0], row[3], row[5], row[6]) for row in rows[1:]) == [
        ("张三明", "三苏社区", "2.0", "25"), ("李四", "三苏社区", "2.0", "25"), ("王五", "裕丰社区", "1.0", "15")]


async def test_the_unit_administrator_sees_only_their_own_unit(client, world):
    s = await street_with_units(client, world)
    for who in (s.a, s.c1.manager, s.manager):
        r = await client.get(f"/api/units/{s.unit['id']}/view", headers=who.headers)
        assert r.status_code == 403, who.name
    other_admin = await world.person("另一位书记")
    await name_admin(client, s.manager, s.other, other_admin)
    assert (await client.get(f"/api/units/{s.unit['id']}/view", headers=other_admin.headers)).status_code == 403
    # Someone who is no manager of the street cannot add units or administrators there.
    r = await client.post("/api/units", json={"name": "冒名单位", "kind": "other", "parent_id": s.c1.street_id},
                          headers=s.c1.manager.headers)
    assert r.status_code == 403
    r = await client.post(f"/api/units/{s.unit['id']}/admins", json={"phone": s.a.phone}, headers=s.unit_admin.headers)
    assert r.status_code == 403


async def test_the_street_manager_reads_every_community_and_changes_nothing(client, world, pool):
    s = await street_with_units(client, world)
    await report(client, s.a, s.unit, s.c1)
    pending = (await ok(client, s.c1.manager, "GET", f"/api/communities/{s.c1.id}/unit-reports"))[0]
    await ok(client, s.c1.manager, "POST", f"/api/unit-reports/{pending['id']}/approve")
    await serve(client, s.c1, [s.a], hours=2)

    overview = await ok(client, s.manager, "GET", f"/api/levels/{s.c1.street_id}/overview")
    figures = {c["name"]: (c["active_volunteers"], c["minutes"], c["points_issued"], c["reported_members"])
               for c in overview["communities"]}
    assert figures == {"三苏社区": (1, 120, 25, 1), "裕丰社区": (0, 0, 0, 0)}
    dashboard = await ok(client, s.manager, "GET", f"/api/communities/{s.c1.id}/dashboard")
    assert dashboard["minutes_banked_month"] >= 0 and dashboard["community_name"] == "三苏社区"
    ranking = await ok(client, s.manager, "GET", f"/api/rankings?scope=community&org_id={s.c1.id}&unit=minutes")
    assert [(i["name"], i["amount"]) for i in ranking["items"]] == [("张*明", 120)]  # masked for the street

    before = await pool.fetchval("select count(*) from audit_log")
    attempts = [
        ("POST", "/api/activities", {"community_id": s.c1.id, "title": "街道替社区办活动", "place": "x",
                                     "starts_at": (T0 + timedelta(hours=1)).isoformat(),
                                     "ends_at": (T0 + timedelta(hours=2)).isoformat(), "points": 5}),
        ("POST", "/api/adjustments", {"user_id": s.a.id, "unit": "points", "amount": 10, "reason": "街道补发",
                                      "community_id": s.c1.id}),
        ("POST", f"/api/communities/{s.c1.id}/needs", {"title": "楼道值守", "slots": 2}),
        ("POST", f"/api/communities/{s.c1.id}/service-cards", {"user_id": s.a.id, "quarter": "2026Q4"}),
    ]
    for method, url, body in attempts:
        r = await client.request(method, url, json=body, headers=s.manager.headers)
        assert r.status_code == 403, (url, r.status_code, r.text)
    assert await pool.fetchval("select count(*) from audit_log") == before
    # Outside their street: nothing.
    elsewhere = await world.community("诗书社区")
    assert (await client.get(f"/api/levels/{elsewhere.street_id}/overview", headers=s.manager.headers)).status_code == 403
    assert (await client.get(f"/api/communities/{elsewhere.id}/dashboard", headers=s.manager.headers)).status_code == 403
    # A community manager is no street manager.
    assert (await client.get(f"/api/levels/{s.c1.street_id}/overview", headers=s.c1.manager.headers)).status_code == 403


async def test_a_community_manager_sees_other_communities_masked_in_a_street_ranking(client, world):
    s = await street_with_units(client, world)
    for person, community in ((s.a, s.c1), (s.c, s.c2)):
        r = await report(client, person, s.unit, community)
        await ok(client, community.manager, "POST", f"/api/unit-reports/{r['id']}/approve")
    await serve(client, s.c1, [s.a], hours=2)
    await serve(client, s.c2, [s.c], hours=1)
    seen = await ok(client, s.c1.manager, "GET", f"/api/rankings?scope=street&org_id={s.c1.street_id}")
    assert [(i["name"], i["amount"]) for i in seen["items"]] == [("张三明", 25), ("王*", 15)]
    # A volunteer has no street ranking (the public posting, 公示, is theirs).
    await ok(client, s.c, "GET", f"/api/rankings?scope=street&org_id={s.c1.street_id}", status=403)


async def test_party_and_unit_rankings_rank_with_shared_ties(client, world):
    s = await street_with_units(client, world)
    for person, unit, community in ((s.a, s.unit, s.c1), (s.b, s.unit, s.c1), (s.d, s.other, s.c2)):
        r = await report(client, person, unit, community)
        await ok(client, community.manager, "POST", f"/api/unit-reports/{r['id']}/approve")
    await serve(client, s.c1, [s.a, s.b], hours=1)   # 15 points each
    await serve(client, s.c2, [s.d], hours=2)        # 25 points
    party = await ok(client, s.manager, "GET", f"/api/rankings?scope=party&org_id={s.c1.street_id}")
    assert [(i["rank"], i["name"], i["amount"]) for i in party["items"]] == [(1, "赵*", 25), (2, "张*明", 15),
                                                                               (2, "李*", 15)]
    by_unit = await ok(client, s.manager, "GET", f"/api/rankings?scope=units&org_id={s.c1.street_id}&unit=minutes")
    assert [(i["rank"], i["name"], i["amount"]) for i in by_unit["items"]] == [
        (1, "区政务服务中心党支部", 120), (1, "苏祠小学党支部", 120)]
    narrowed = await ok(client, s.c1.manager, "GET",
                        f"/api/rankings?scope=community&org_id={s.c1.id}&work_unit={s.unit['id']}")
    assert [(i["rank"], i["name"]) for i in narrowed["items"]] == [(1, "张三明"), (1, "李四")]


async def unit_state(pool, community_ids: list[int]) -> tuple:
    """What a unit's refused acts must leave as it was: reports, need claims, service cards of these
    communities (tests/snapshot.py covers balances, memberships and audit rows)."""
    return (
        [tuple(r) for r in await pool.fetch("select id, state, decided_by from unit_reports "
                                            "where community_id = any($1::bigint[]) order by id", community_ids)],
        [tuple(r) for r in await pool.fetch("select c.need_id, c.user_id from need_claims c join community_needs n "
                                            "on n.id = c.need_id where n.community_id = any($1::bigint[]) "
                                            "order by 1, 2", community_ids)],
        [tuple(r) for r in await pool.fetch("select user_id, community_id, quarter, minutes from service_cards "
                                            "where community_id = any($1::bigint[]) order by 1, 2, 3", community_ids)],
    )


async def test_needs_list_cards_and_targets(client, world, pool):
    s = await street_with_units(client, world)
    for person in (s.a, s.b):
        r = await report(client, person, s.unit, s.c1)
        await ok(client, s.c1.manager, "POST", f"/api/unit-reports/{r['id']}/approve")
    need = await ok(client, s.c1.manager, "POST", f"/api/communities/{s.c1.id}/needs",
                    {"title": "周末楼道值守", "kind": "duty", "slots": 1}, status=201)
    claimed = await ok(client, s.a, "POST", f"/api/needs/{need['id']}/claim")
    assert (claimed["taken"], claimed["mine"]) == (1, True)
    stranger = await world.person("路人")
    before = await unit_state(pool, [s.c1.id])
    async with unchanged(pool, people=[s.b.id, stranger.id], communities=[s.c1.id]):
        full = await client.post(f"/api/needs/{need['id']}/claim", headers=s.b.headers)
        assert full.status_code == 409 and full.json()["error"] == "capacity_full"
        assert (await client.post(f"/api/needs/{need['id']}/claim", headers=stranger.headers)).status_code == 403
    assert await unit_state(pool, [s.c1.id]) == before

    await serve(client, s.c1, [s.a], hours=2)
    quarter = str(ranking_rules.quarter_of(T0, clock.zone()))
    card = await ok(client, s.c1.manager, "POST", f"/api/communities/{s.c1.id}/service-cards",
                    {"user_id": s.a.id, "quarter": quarter})
    assert (card["minutes"], card["points"]) == (120, 25)
    await ok(client, s.manager, "PUT", f"/api/levels/{s.c1.street_id}/service-target",
             {"year": T0.astimezone(clock.zone()).year, "minutes": 100}, status=204)
    view = await ok(client, s.unit_admin, "GET", f"/api/units/{s.unit['id']}/view?quarter={quarter}")
    lines = {m["name"]: (m["card_confirmed"], m["met_target"]) for m in view["members"]}
    assert lines == {"张三明": (True, True), "李四": (False, False)}
    assert (view["target_minutes"], view["completion_rate"], view["reported_rate"]) == (100, 50.0, 100.0)
    record = await ok(client, s.a, "GET", f"/api/me/service-record?quarter={quarter}")
    assert (record["minutes"], record["points"], record["reports"][0]["state"]) == (120, 25, "approved")
    assert record["communities"][0]["card_confirmed"] is True


async def test_nobody_decides_on_their_own_report_or_card(client, world, pool):
    s = await street_with_units(client, world)
    mine = await report(client, s.c1.manager, s.unit, s.c1)
    before = await unit_state(pool, [s.c1.id, s.c2.id])
    async with unchanged(pool, people=[s.c1.manager.id, s.c2.manager.id], communities=[s.c1.id, s.c2.id]):
        r = await client.post(f"/api/unit-reports/{mine['id']}/approve", headers=s.c1.manager.headers)
        assert r.status_code == 403
        r = await client.post(f"/api/communities/{s.c1.id}/service-cards",
                              json={"user_id": s.c1.manager.id, "quarter": "2026Q4"}, headers=s.c1.manager.headers)
        assert r.status_code == 403
        other = await client.post(f"/api/unit-reports/{mine['id']}/approve", headers=s.c2.manager.headers)
        assert other.status_code == 403  # not their community either
        rejected = await client.post(f"/api/unit-reports/{mine['id']}/reject", json={"reason": "不在本社区居住"},
                                     headers=s.c1.manager.headers)
        assert rejected.status_code == 403
    assert await unit_state(pool, [s.c1.id, s.c2.id]) == before


async def test_finding_7_appointing_a_unit_administrator_reveals_no_phone_and_needs_consent(client, world, pool):
    """Issue 30 finding 7: appointing answered 422 "no account" for an unknown phone and 204 for a
    registered one, and appointed the registered person without asking. Now both phones get the same
    kind of answer (an open invitation, masked phone, the name the manager gave) and nobody is appointed
    until they accept."""
    from tests.conftest import new_phone
    s = await street_with_units(client, world)
    person = await world.person("被任命的人")
    answers = [await client.post(f"/api/units/{s.other['id']}/admins", json={"phone": phone},
                                 headers=s.manager.headers) for phone in (person.phone, new_phone())]
    assert [r.status_code for r in answers] == [201, 201]
    shapes = [{k: v for k, v in r.json().items() if k not in ("id", "phone", "created_at")} for r in answers]
    assert shapes[0] == shapes[1] and shapes[0]["name"] == "单位管理员" and shapes[0]["state"] == "open"
    assert all("*" in r.json()["phone"] for r in answers)
    assert await pool.fetchval("select count(*) from unit_admins where unit_id = $1 and user_id = $2",
                               s.other["id"], person.id) == 0  # nobody appointed without consent
    assert (await client.get(f"/api/units/{s.other['id']}/view", headers=person.headers)).status_code == 403
    [invite] = [i for i in await ok(client, person, "GET", "/api/me/role-invites") if i["unit_id"] == s.other["id"]]
    # nobody else answers it, whatever they know of its id
    r = await client.post(f"/api/me/role-invites/{invite['id']}/accept", headers=s.a.headers)
    assert r.status_code == 404
    accepted = await ok(client, person, "POST", f"/api/me/role-invites/{invite['id']}/accept")
    assert accepted["state"] == "accepted"
    assert (await client.get(f"/api/units/{s.other['id']}/view", headers=person.headers)).status_code == 200
    r = await client.post(f"/api/me/role-invites/{invite['id']}/decline", headers=person.headers)
    assert r.status_code == 409  # answered once
    # a declined invitation appoints nobody
    other = await world.person("不想当的人")
    invite = await ok(client, s.manager, "POST", f"/api/units/{s.unit['id']}/admins", {"phone": other.phone},
                      status=201)
    assert (await ok(client, other, "POST", f"/api/me/role-invites/{invite['id']}/decline"))["state"] == "declined"
    assert await pool.fetchval("select count(*) from unit_admins where user_id = $1", other.id) == 0

"""Issue 30, findings 1 (a, b, c) and 2: one manager minted and spent with no second person. Each
test performs the attack of the finding through the API and asserts the safe outcome (held, not
credited: a before/after snapshot of what the people own), then shows the second person's approval
is what credits. Before the fix each attack credited (or handed goods over) at once.

The clock is frozen; every query is scoped to the test's own people and communities.
"""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from domain.core import clock
from domain.oversight import report
from tests.checkin.test_activities import poster_code
from tests.conftest import Community, Person, World
from tests.conftest import appoint as invite_and_accept

T0 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai, a Tuesday


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(T0)


async def snapshot(pool, people: list[int], communities: list[int]) -> tuple:
    """What these people own and did, and what these communities handed out: balances and holds,
    attendances with their minutes and points, posted transfers into their accounts, redemptions,
    stock."""
    return (
        [tuple(r) for r in await pool.fetch(
            "select user_id, unit, org_id, balance, held from accounts where user_id = any($1::bigint[]) "
            "order by user_id, unit, org_id", people)],
        [tuple(r) for r in await pool.fetch(
            "select user_id, activity_id, state, minutes, points from attendances where user_id = any($1::bigint[]) "
            "order by id", people)],
        await pool.fetchval(
            "select count(*) from transfers t join accounts a on a.id = t.credit_account "
            "where a.user_id = any($1::bigint[]) and t.state = 'posted'", people),
        [tuple(r) for r in await pool.fetch(
            "select user_id, state from redemptions where community_id = any($1::bigint[]) and state <> 'requested' "
            "order by id", communities)],
        [tuple(r) for r in await pool.fetch(
            "select id, stock from rewards where community_id = any($1::bigint[]) order by id", communities)],
    )


async def appoint(client, world: World, org_id: int, name: str) -> Person:
    """A second manager of `org_id`, appointed as the API does it: invited by phone, accepted."""
    person = await world.person(name)
    r = await invite_and_accept(client, await world.admin(), org_id, person)
    assert r.status_code in (200, 201, 204), r.text
    return person


async def balance(client, person: Person) -> int:
    return (await client.get("/api/me/balances", headers=person.headers)).json()["points"]["balance"]


async def create_activity(client, c: Community, hours: int = 6, **terms) -> dict:
    r = await client.post("/api/activities", headers=c.manager.headers, json={
        "community_id": c.id, "title": "万分活动", "starts_at": (T0 - timedelta(hours=1)).isoformat(),
        "ends_at": (T0 + timedelta(hours=hours - 1)).isoformat(), **terms})
    assert r.status_code == 201, r.text
    return r.json()


HUGE = {"points": 10_000, "points_per_hour": 10_000, "daily_points_cap": 100_000}


async def resident(client, c: Community, name: str = "王秀兰") -> dict:
    r = await client.post(f"/api/communities/{c.id}/residents", headers=c.manager.headers, json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


async def flags_about(client, viewer: Person, c: Community, manager: Person) -> set[str]:
    r = await client.get("/api/manager-flags", headers=viewer.headers, params={"community_id": c.id})
    assert r.status_code == 200, r.text
    return {f["reason"] for f in r.json()["items"] if f["manager"]["id"] == manager.id}


# ---- finding 1a -----------------------------------------------------------------------------------

async def test_finding_1a_huge_activity_points_and_marks_wait_for_a_second_manager(client, world, pool):
    c = await world.community("一甲社区")
    member = await world.member(c, "成员")
    deputy = await appoint(client, world, c.id, "副主任")
    made = await resident(client, c)
    activity = await create_activity(client, c, **HUGE)
    people = [member.id, made["id"], c.manager.id]
    before = await snapshot(pool, people, [c.id])

    # Publishing an activity that pays one person 100,000 points a day is held: it stays a draft.
    r = await client.post(f"/api/activities/{activity['id']}/publish", headers=c.manager.headers)
    assert r.status_code == 202 and r.json()["state"] == "draft" and r.json()["held_id"], r.text
    held_activity = r.json()["held_id"]
    mark = {"user_ids": [member.id, made["id"]], "reason": "补签", "minutes": 60}
    r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=c.manager.headers, json=mark)
    assert r.status_code == 409 and r.json()["error"] == "not_published", r.text
    assert await snapshot(pool, people, [c.id]) == before

    # The maker cannot approve their own activity; the deputy can. Then the mark itself (+20,000
    # each) is above the threshold: held again, nothing recorded or credited.
    assert (await client.post(f"/api/held/activity/{held_activity}/approve", headers=c.manager.headers,
                              json={})).status_code == 403
    r = await client.post(f"/api/held/activity/{held_activity}/approve", headers=deputy.headers, json={})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=c.manager.headers, json=mark)
    assert r.status_code == 202 and r.json()["marked"] == [] and r.json()["held_id"], r.text
    held_mark = r.json()["held_id"]
    assert await snapshot(pool, people, [c.id]) == before
    assert await balance(client, member) == 0
    queue = (await client.get("/api/held", headers=deputy.headers, params={"community_id": c.id})).json()
    [item] = [i for i in queue["items"] if i["kind"] == "mark"]
    assert item["maker"]["id"] == c.manager.id and item["evidence"]["above_threshold"]["points"]["amount"] == 20_000
    assert item["can_decide"] is True
    assert "large_terms" in await flags_about(client, deputy, c, c.manager)

    # With the deputy's approval the mark is recorded and credited, and the maker is told.
    r = await client.post(f"/api/held/mark/{held_mark}/approve", headers=deputy.headers, json={"reason": "核实"})
    assert r.status_code == 200, r.text
    assert await balance(client, member) == 20_000
    inbox = (await client.get("/api/me/messages", headers=c.manager.headers)).json()["items"]
    assert [m["kind"] for m in inbox].count("held_decided") == 2
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


# ---- finding 1b -----------------------------------------------------------------------------------

async def test_finding_1b_raising_ones_own_threshold_waits_and_the_big_adjustment_is_held(client, world, pool):
    c = await world.community("一乙社区")
    member = await world.member(c, "成员")
    street = await appoint(client, world, c.street_id, "街道书记")
    policy = f"/api/communities/{c.id}/adjustment-policy"
    before = await snapshot(pool, [member.id], [c.id])

    r = await client.put(policy, headers=c.manager.headers, json={"threshold_points": 1_000_000})
    assert r.status_code == 202 and r.json()["held"] is True and r.json()["threshold_points"] == 200, r.text
    held = r.json()["pending_id"]
    assert (await client.get(policy, headers=c.manager.headers)).json()["threshold_points"] == 200
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": member.id, "unit": "points", "amount": 50_000, "reason": "奖励"})
    assert r.status_code == 202 and r.json()["state"] == "pending", r.text
    assert await snapshot(pool, [member.id], [c.id]) == before
    # The maker cannot approve it; the street's manager is a second person (roles follow the tree).
    assert (await client.post(f"/api/held/policy/{held}/approve", headers=c.manager.headers,
                              json={})).status_code == 403
    assert "policy_loosen" in await flags_about(client, street, c, c.manager)
    r = await client.post(f"/api/held/policy/{held}/reject", headers=street.headers, json={"reason": "门槛过高"})
    assert r.status_code == 200, r.text
    assert (await client.get(policy, headers=c.manager.headers)).json()["threshold_points"] == 200
    # Tightening needs nobody.
    r = await client.put(policy, headers=c.manager.headers, json={"threshold_points": 100})
    assert r.status_code == 200 and r.json()["threshold_points"] == 100


async def test_finding_1b_five_adjustments_of_200_add_up(client, world, pool):
    c = await world.community("一乙二社区")
    member = await world.member(c, "成员")
    deputy = await appoint(client, world, c.id, "副主任")
    before = await snapshot(pool, [member.id], [c.id])
    answers = []
    for _ in range(5):
        r = await client.post("/api/adjustments", headers=c.manager.headers,
                              json={"user_id": member.id, "unit": "points", "amount": 200, "reason": "好人好事"})
        answers.append((r.status_code, r.json().get("why")))
    # The daily limit (500 points by default) lets two through; the rest wait for a second person.
    assert answers == [(201, None), (201, None), (202, "daily_limit"), (202, "daily_limit"), (202, "daily_limit")]
    assert await balance(client, member) == 400
    after = await snapshot(pool, [member.id], [c.id])
    assert after[2] == before[2] + 2  # two transfers, no more
    assert "daily_limit" in await flags_about(client, deputy, c, c.manager)
    held = [i for i in (await client.get("/api/held", headers=deputy.headers,
                                         params={"community_id": c.id})).json()["items"] if i["kind"] == "adjustment"]
    assert len(held) == 3 and all(i["evidence"]["why"] == "daily_limit" for i in held)
    # A new day starts a new count.
    clock.advance(timedelta(days=1))
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": member.id, "unit": "points", "amount": 200, "reason": "好人好事"})
    assert r.status_code == 201, r.text
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


# ---- finding 1c -----------------------------------------------------------------------------------

async def test_finding_1c_own_resident_credited_and_redeemed_on_the_spot_is_held(client, world, pool):
    c = await world.community("一丙社区")
    deputy = await appoint(client, world, c.id, "副主任")
    made = await resident(client, c)
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": made["id"], "unit": "points", "amount": 200, "reason": "义务劳动"})
    assert r.status_code == 201, r.text
    reward = await client.post("/api/rewards", headers=c.manager.headers,
                               json={"community_id": c.id, "name": "大米", "cost_points": 100, "stock": 50})
    assert reward.status_code == 201, reward.text
    body = {"member_code": made["card_code"], "reward_id": reward.json()["id"], "quantity": 1}
    before = await snapshot(pool, [made["id"]], [c.id])

    # 30 parallel tries: none hands goods over or spends a point; each either is held or finds the
    # points already held by the earlier ones.
    answers = await asyncio.gather(*[client.post("/api/redemptions/on-the-spot", headers=c.manager.headers,
                                                 json=body) for _ in range(30)])
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(202) == 2 and statuses.count(409) == 28, [a.text for a in answers][:3]
    assert all(a.json()["state"] == "requested" for a in answers if a.status_code == 202)
    after = await snapshot(pool, [made["id"]], [c.id])
    balances = {row[1]: row[3] for row in after[0]}
    assert balances["points"] == 200 and after[2:4] == before[2:4]  # nothing spent, nothing handed over
    assert "own_resident_redemption" in await flags_about(client, deputy, c, c.manager)

    held = [i for i in (await client.get("/api/held", headers=deputy.headers,
                                         params={"community_id": c.id})).json()["items"] if i["kind"] == "redemption"]
    assert len(held) == 2 and held[0]["maker"]["id"] == c.manager.id
    assert (await client.post(f"/api/held/redemption/{held[0]['id']}/approve", headers=c.manager.headers,
                              json={})).status_code == 403
    r = await client.post(f"/api/held/redemption/{held[0]['id']}/approve", headers=deputy.headers, json={})
    assert r.status_code == 200, r.text
    state = await pool.fetchval("select state from redemptions where id = $1", held[0]["id"])
    assert state == "approved"
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


# ---- finding 2 ------------------------------------------------------------------------------------

async def test_finding_2_own_auto_approve_then_self_scan_credits_nothing(client, world, pool):
    c = await world.community("二号社区")
    deputy = await appoint(client, world, c.id, "副主任")
    activity = await create_activity(client, c, **HUGE)
    r = await client.post(f"/api/activities/{activity['id']}/publish", headers=c.manager.headers)
    await client.post(f"/api/held/activity/{r.json()['held_id']}/approve", headers=deputy.headers, json={})
    before = await snapshot(pool, [c.manager.id], [c.id])

    r = await client.put(f"/api/communities/{c.id}/join-policy", headers=c.manager.headers,
                         json={"auto_approve": True})
    assert r.status_code == 202 and r.json()["auto_approve"] is False, r.text
    # Even once another manager turns auto-approval on, it never admits a manager of the community.
    r = await client.post(f"/api/held/policy/{r.json()['pending_id']}/approve", headers=deputy.headers, json={})
    assert r.status_code == 200, r.text
    code = (await client.get(f"/api/communities/{c.id}/join-code", headers=c.manager.headers)).json()["code"]
    asked = await client.post("/api/join-requests", headers=c.manager.headers, json={"join_code": code})
    assert asked.status_code in (200, 201) and asked.json()["state"] == "pending", asked.text
    assert await pool.fetchval("select count(*) from org_members where org_id = $1 and user_id = $2",
                               c.id, c.manager.id) == 0
    assert "own_join" in await flags_about(client, deputy, c, c.manager)

    # Another manager admits them (a second person): their own scan checks them in, credits nothing.
    r = await client.post(f"/api/join-requests/{asked.json()['id']}/approve", headers=deputy.headers)
    assert r.status_code == 200, r.text
    poster = await pool.fetchval("select code from codes where kind = 'poster' and target_id = $1", activity["id"])
    r = await client.post("/api/scans", headers=c.manager.headers, json={"code": poster, "nonce": "own-1"})
    assert r.status_code == 200 and r.json()["action"] == "checked_in" and r.json()["points"] == 0, r.text
    assert r.json()["details"]["held_id"]
    assert await balance(client, c.manager) == 0
    after = await snapshot(pool, [c.manager.id], [c.id])
    assert after[0] == before[0] and after[2] == before[2]  # an attendance, but no credit
    assert "own_credit" in await flags_about(client, deputy, c, c.manager)
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}

    # An hour later they check out: the minutes and the 10,000 points an hour are held too.
    held_in = r.json()["details"]["held_id"]
    clock.advance(timedelta(hours=1))
    r = await client.post("/api/scans", headers=c.manager.headers,
                          json={"code": poster, "nonce": "own-2", "intent": "check_out"})
    assert r.status_code == 200 and r.json()["action"] == "checked_out", r.text
    assert (r.json()["points"], r.json()["minutes"]) == (0, 0) and r.json()["details"]["held_id"]
    held_out = r.json()["details"]["held_id"]
    assert await snapshot(pool, [c.manager.id], [c.id]) == (before[0], after[1][:0] + [
        (c.manager.id, activity["id"], "done", 0, 0)], before[2], before[3], before[4])
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}

    # The deputy approves the held credits: now they are paid, by a second person.
    for held in (held_in, held_out):
        r = await client.post(f"/api/held/own_credit/{held}/approve", headers=deputy.headers, json={})
        assert r.status_code == 200, r.text
    assert await balance(client, c.manager) == 20_000
    minutes = (await client.get("/api/me/balances", headers=c.manager.headers)).json()["minutes"]["balance"]
    assert minutes == 60
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


# ---- the hostile run --------------------------------------------------------------------------------

async def test_a_hostile_run_leaves_the_audit_clean_and_the_attempts_flagged(client, world, pool):
    """Every attack of findings 1 and 2 by one manager with nobody else acting: `linli audit` finds
    nothing for the community, nothing was credited beyond the limits, and the street manager sees
    the attempts in the flag queue."""
    c = await world.community("敌意社区")
    street = await appoint(client, world, c.street_id, "街道书记")
    member = await world.member(c, "成员")
    made = await resident(client, c)
    before = await snapshot(pool, [member.id, made["id"], c.manager.id], [c.id])
    h = c.manager.headers

    activity = await create_activity(client, c, **HUGE)
    assert (await client.post(f"/api/activities/{activity['id']}/publish", headers=h)).status_code == 202
    small = await create_activity(client, c, hours=12, points=5)
    assert (await client.post(f"/api/activities/{small['id']}/publish", headers=h)).status_code == 200
    r = await client.post(f"/api/activities/{small['id']}/attendance/mark", headers=h,
                          json={"user_ids": [member.id], "reason": "补签", "minutes": 900})
    assert r.status_code == 202, r.text  # 900 minutes: above the 600-minute threshold
    assert (await client.put(f"/api/communities/{c.id}/adjustment-policy", headers=h,
                             json={"threshold_points": 1_000_000, "daily_points": 1_000_000})).status_code == 202
    assert (await client.put(f"/api/communities/{c.id}/join-policy", headers=h,
                             json={"auto_approve": True})).status_code == 202
    code = (await client.get(f"/api/communities/{c.id}/join-code", headers=h)).json()["code"]
    assert (await client.post("/api/join-requests", headers=h, json={"join_code": code})).json()["state"] == "pending"
    statuses = []
    for amount in [200] * 5 + [1] * 20:  # five of 200, then a burst of small ones: an unusual pace
        r = await client.post("/api/adjustments", headers=h,
                              json={"user_id": made["id"], "unit": "points", "amount": amount, "reason": "加分"})
        statuses.append(r.status_code)
    assert statuses.count(201) == 22 and statuses.count(202) == 3
    reward = (await client.post("/api/rewards", headers=h, json={"community_id": c.id, "name": "油",
                                                                 "cost_points": 100, "stock": 99})).json()
    spot = {"member_code": made["card_code"], "reward_id": reward["id"], "quantity": 1}
    answers = await asyncio.gather(*[client.post("/api/redemptions/on-the-spot", headers=h, json=spot)
                                     for _ in range(30)])
    assert not [a for a in answers if a.status_code == 201]  # no goods handed over by the manager alone

    after = await snapshot(pool, [member.id, made["id"], c.manager.id], [c.id])
    assert after[1] == before[1]  # no attendance recorded
    assert {row[1]: row[3] for row in after[0] if row[0] == made["id"]}["points"] == 420  # under the daily limit
    assert {row[0]: row[3] for row in after[0] if row[1] == "points"}[member.id] == 0

    # The time bank's pool: 50,000 minutes by one manager wait for a second person (nothing credited).
    r = await client.post("/api/timebank/pool/credits", headers=h,
                          json={"community_id": c.id, "minutes": 50_000, "reason": "拨入"})
    assert r.status_code == 202, r.text
    assert (await client.get("/api/timebank/pool", headers=h, params={"community_id": c.id})).json()["balance"] == 0
    # Finding 3: a queued check-in dated 55 minutes back, the close's automatic check-out, then a
    # check-out scan "from 5 s ago": held on the review list, nothing credited.
    poster = await poster_code(pool, small["id"])
    r = await client.post("/api/scans", headers=member.headers, json={
        "code": poster, "nonce": "hostile-in", "scanned_at": (T0 - timedelta(minutes=55)).isoformat()})
    assert r.json()["action"] == "checked_in" and r.json()["details"]["held"] == ["delayed"], r.text
    assert (await client.post(f"/api/activities/{small['id']}/close", headers=h)).status_code == 200
    clock.advance(timedelta(seconds=10))
    r = await client.post("/api/scans", headers=member.headers, json={
        "code": poster, "nonce": "hostile-out", "intent": "check_out",
        "scanned_at": (clock.now() - timedelta(seconds=5)).isoformat()})
    assert r.json()["action"] == "checked_out" and (r.json()["points"], r.json()["minutes"]) == (0, 0), r.text
    assert await balance(client, member) == 0

    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}  # `linli audit`
    assert await world.ledger_problems() == {}          # `linli ledger check`
    assert await flags_about(client, street, c, c.manager) >= {
        "large_terms", "policy_loosen", "daily_limit", "own_resident_redemption", "velocity"}
    # Everything held waits in the street's queue, with its maker: nothing was decided by the maker alone.
    held = (await client.get("/api/held", headers=street.headers, params={"community_id": c.id})).json()["items"]
    assert {i["kind"] for i in held} >= {"activity", "mark", "policy", "adjustment", "redemption", "pool_credit",
                                         "presence"}
    assert all(i["can_decide"] for i in held if i["maker"] and i["maker"]["id"] == c.manager.id)
    # The manager sees the flags about them too, but cannot dismiss them; the street manager can.
    mine = (await client.get("/api/manager-flags", headers=h, params={"community_id": c.id})).json()["items"]
    assert mine and not any(f["can_dismiss"] for f in mine)
    assert (await client.post(f"/api/manager-flags/{mine[0]['id']}/dismiss", headers=h,
                              json={"reason": "没问题"})).status_code == 403
    r = await client.post(f"/api/manager-flags/{mine[0]['id']}/dismiss", headers=street.headers,
                          json={"reason": "已约谈"})
    assert r.status_code == 200 and r.json()["resolved_at"], r.text


# ---- item 8, first mutation: roles follow the tree ---------------------------------------------------

async def test_item_8_street_and_district_managers_do_not_decide_join_requests(client, world, pool):
    """Street and district managers read a community and act as the second person on what it holds,
    but membership is the community's own decision: `require_manager` → `require_reader` in joining
    (a street manager then admits a stranger) fails here."""
    c = await world.community("八号社区")
    street = await appoint(client, world, c.street_id, "街道书记")
    district = await appoint(client, world, c.district_id, "区负责人")
    stranger = await world.person("陌生人")
    code = (await client.get(f"/api/communities/{c.id}/join-code", headers=c.manager.headers)).json()["code"]
    asked = (await client.post("/api/join-requests", headers=stranger.headers, json={"join_code": code})).json()

    async def state() -> tuple:
        return (await pool.fetchval("select count(*) from org_members where user_id = $1", stranger.id),
                await pool.fetchval("select state from join_requests where id = $1", asked["id"]),
                await pool.fetchval("select count(*) from audit_log where community_id = $1", c.id),
                [tuple(r) for r in await pool.fetch("select unit, balance from accounts where user_id = $1 "
                                                    "order by unit", stranger.id)])

    before = await state()
    for who in (street, district):
        for action, body in (("approve", None), ("reject", {"reason": "不认识"})):
            r = await client.post(f"/api/join-requests/{asked['id']}/{action}", headers=who.headers,
                                  **({"json": body} if body else {}))
            assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert await state() == before == (0, "pending", before[2], before[3])
    # They do read the community's queue of held acts (the second person on what it holds).
    assert (await client.get("/api/held", headers=street.headers, params={"community_id": c.id})).status_code == 200


# ---- the queue's other sources -----------------------------------------------------------------------

async def test_marks_add_up_to_the_daily_limit_too(client, world, pool):
    c = await world.community("补录社区")
    people = [await world.member(c, f"成员{i}") for i in range(3)]
    activity = await create_activity(client, c, points=200)
    assert (await client.post(f"/api/activities/{activity['id']}/publish", headers=c.manager.headers)).status_code == 200
    answers = []
    for person in people:
        r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=c.manager.headers,
                              json={"user_ids": [person.id], "reason": "补签", "minutes": 30})
        answers.append(r.status_code)
    assert answers == [200, 200, 202]  # 200 + 200, then 600 > the daily limit of 500
    assert [await balance(client, p) for p in people] == [200, 200, 0]
    held = [i for i in (await client.get("/api/held", headers=c.manager.headers)).json()["items"]
            if i["community_id"] == c.id]
    assert [(i["kind"], i["can_decide"]) for i in held] == [("mark", False)]  # the maker cannot decide it
    assert held[0]["evidence"]["daily_limit"]["points"] == {"today": 400, "adding": 200, "limit": 500}
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


async def test_presence_waiting_after_an_automatic_check_out_is_in_the_queue(client, world, pool):
    c = await world.community("在场社区")
    member = await world.member(c, "成员")
    deputy = await appoint(client, world, c.id, "副主任")
    activity = await create_activity(client, c, points=5, points_per_hour=60)
    await client.post(f"/api/activities/{activity['id']}/publish", headers=c.manager.headers)
    poster = await pool.fetchval("select code from codes where kind = 'poster' and target_id = $1", activity["id"])
    assert (await client.post("/api/scans", headers=member.headers, json={"code": poster})).status_code == 200
    clock.advance(timedelta(hours=2))
    assert (await client.post(f"/api/activities/{activity['id']}/close", headers=c.manager.headers)).status_code == 200
    [item] = [i for i in (await client.get("/api/held", headers=deputy.headers,
                                           params={"community_id": c.id})).json()["items"] if i["kind"] == "presence"]
    assert item["subject"]["id"] == member.id and item["maker"] is None and item["summary"]["minutes"] == 0
    r = await client.post(f"/api/held/presence/{item['id']}/approve", headers=deputy.headers,
                          json={"reason": "负责人确认一直在场"})
    assert r.status_code == 200, r.text
    assert await balance(client, member) == 5 + 120
    assert not [i for i in (await client.get("/api/held", headers=deputy.headers,
                                             params={"community_id": c.id})).json()["items"] if i["kind"] == "presence"]


async def test_the_audit_judges_an_act_by_the_limits_in_force_when_it_was_made(client, world, pool):
    c = await world.community("门槛社区")
    member = await world.member(c, "成员")
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": member.id, "unit": "points", "amount": 200, "reason": "好人好事"})
    assert r.status_code == 201, r.text
    r = await client.put(f"/api/communities/{c.id}/adjustment-policy", headers=c.manager.headers,
                         json={"threshold_points": 100, "daily_points": 100})
    assert r.status_code == 200, r.text  # tightened afterwards: the earlier credit was within the rules
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}

"""Issue 16 finding 3: nobody pays themself, and a large adjustment needs a second manager
(maker-checker). Each attack of the issue is performed and refused, with nothing changed."""

import asyncio

import pytest

from domain.core import codes
from tests.conftest import Community, Person, appoint
from tests.snapshot import snapshot as shared_snapshot
from tests.snapshot import unchanged

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    yield
    client.cookies.clear()


async def snapshot(pool, *people: int) -> tuple:
    """What these people own and did (tests/snapshot.py: balances, holds, transfers, attendances ...),
    scoped to them, with their audit rows last."""
    return tuple((await shared_snapshot(pool, people=people)).values())


async def manager_who_is_a_member(world, name: str = "诗书") -> Community:
    """m2 of the issue: a manager who also lives in (is a member of) his own community."""
    c = await world.community(name)
    admin = await world.actor(await world.admin())
    from domain.people import orgs
    async with world.pool.acquire() as conn:
        await orgs.add_member(conn, admin, c.id, c.manager.id, "volunteer")
    return c


async def points(client, person: Person) -> int:
    return (await client.get("/api/me/balances", headers=person.headers)).json()["points"]["balance"]


# ---- nobody pays themself -------------------------------------------------------------------------

async def test_finding_3_manager_cannot_adjust_themself(client, world, pool):
    c = await manager_who_is_a_member(world)
    before = await snapshot(pool, c.manager.id)
    for amount in (1_000_000, 100, 1):
        r = await client.post("/api/adjustments", headers=c.manager.headers,
                              json={"user_id": c.manager.id, "unit": "points", "amount": amount, "reason": "自己加分"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert await snapshot(pool, c.manager.id) == before


async def test_finding_3_manager_cannot_mark_themself_attended(client, world, pool):
    c = await manager_who_is_a_member(world)
    v = await world.member(c, "志愿者")
    activity = await make_activity(client, c, points=10_000)
    before = await snapshot(pool, c.manager.id, v.id)
    r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=c.manager.headers,
                          json={"user_ids": [v.id, c.manager.id], "reason": "补签", "minutes": 1380})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert await snapshot(pool, c.manager.id, v.id) == before


async def test_finding_3_manager_cannot_station_scan_their_own_card(client, world, pool):
    c = await manager_who_is_a_member(world, "三苏")
    activity = await make_activity(client, c, points=50)
    async with pool.acquire() as conn:
        card = await codes.member_card(conn, c.manager.id)
    before = await snapshot(pool, c.manager.id)
    r = await client.post(f"/api/activities/{activity['id']}/station-scans", headers=c.manager.headers,
                          json={"code": card.code})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert (await snapshot(pool, c.manager.id))[:-1] == before[:-1]  # all but the audit rows
    # Another manager of the community may scan the card: the rule is about who acts, not who is paid.
    deputy = await world.person("副主任")
    admin = await world.admin()
    await appoint(client, admin, c.id, deputy)
    r = await client.post(f"/api/activities/{activity['id']}/station-scans", headers=deputy.headers,
                          json={"code": card.code})
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text


async def test_finding_3_nobody_verifies_their_own_report(client, world, pool):
    c = await manager_who_is_a_member(world)
    admin = await world.admin()
    await client.post(f"/api/orgs/{c.grid_id}/members", headers=admin.headers,
                      json={"user_id": c.manager.id, "role": "courier"})
    report = await client.post("/api/reports", headers=c.manager.headers,
                               files={"kind": (None, "civility"), "text": (None, "劝导乱停车")})
    assert report.status_code == 201, report.text
    before = await snapshot(pool, c.manager.id)
    r = await client.post(f"/api/reports/{report.json()['id']}/verify", headers=c.manager.headers)
    assert r.status_code == 403
    assert await snapshot(pool, c.manager.id) == before


async def test_finding_3_manager_cannot_confirm_a_pool_service_they_served(client, world, pool):
    c = await manager_who_is_a_member(world)
    elder = await world.member(c, "周奶奶")
    deputy = await world.person("副主任")
    admin = await world.admin()
    await appoint(client, admin, c.id, deputy)
    r = await client.post("/api/timebank/pool/credits", headers=deputy.headers,
                          json={"community_id": c.id, "minutes": 600, "reason": "街道拨付"})
    assert r.status_code == 201
    req = (await client.post("/api/timebank/requests", headers=deputy.headers, json={
        "title": "陪同复诊", "minutes_estimate": 90, "for_user_id": elder.id, "use_pool": True,
        "community_id": c.id})).json()
    path = f"/api/timebank/requests/{req['id']}"
    assert (await client.post(f"{path}/accept", headers=c.manager.headers)).status_code == 200
    assert (await client.post(f"{path}/complete", headers=c.manager.headers)).status_code == 200
    before = await snapshot(pool, c.manager.id)
    r = await client.post(f"{path}/confirm", headers=c.manager.headers, json={"minutes": 90})
    assert r.status_code == 403, r.text
    assert await snapshot(pool, c.manager.id) == before
    # The other manager confirms: the volunteer is paid, by someone else.
    r = await client.post(f"{path}/confirm", headers=deputy.headers, json={"minutes": 90})
    assert r.status_code == 200, r.text
    assert (await client.get("/api/me/balances", headers=c.manager.headers)).json()["minutes"]["balance"] == 90


async def make_activity(client, c: Community, *, points: int) -> dict:
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    a = (await client.post("/api/activities", headers=c.manager.headers, json={
        "community_id": c.id, "title": "万分活动", "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=23)).isoformat(), "points": points})).json()
    return (await client.post(f"/api/activities/{a['id']}/publish", headers=c.manager.headers)).json()


# ---- maker-checker --------------------------------------------------------------------------------

async def two_managers(world) -> tuple[Community, Person, Person]:
    c = await world.community("双人社区")
    deputy = await world.person("副主任")
    admin = await world.actor(await world.admin())
    from domain.people import orgs
    async with world.pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, c.id, deputy.id)
    resident = await world.member(c, "居民")
    return c, deputy, resident


async def test_finding_3_large_adjustment_waits_for_a_second_manager(client, world, pool):
    c, deputy, resident = await two_managers(world)
    body = {"user_id": resident.id, "unit": "points", "amount": 500, "reason": "年度表彰"}
    transfers = await pool.fetchval("select count(*) from transfers")
    r = await client.post("/api/adjustments", headers=c.manager.headers, json=body)
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["state"], request["amount"], request["user_id"]) == ("pending", 500, resident.id)
    assert await points(client, resident) == 0 and await pool.fetchval("select count(*) from transfers") == transfers
    pending = (await client.get("/api/adjustment-requests", headers=deputy.headers,
                                params={"community_id": c.id})).json()["items"]
    assert [p["id"] for p in pending] == [request["id"]]
    path = f"/api/adjustment-requests/{request['id']}"
    # The maker cannot check their own request; the beneficiary is no checker either.
    assert (await client.post(f"{path}/approve", headers=c.manager.headers)).status_code == 403
    assert (await client.post(f"{path}/approve", headers=resident.headers)).status_code in (403, 404)
    other = await world.community("别处")
    assert (await client.post(f"{path}/approve", headers=other.manager.headers)).status_code in (403, 404)
    assert await points(client, resident) == 0
    start = await pool.fetchval("select max(id) from audit_log")
    approved = await client.post(f"{path}/approve", headers=deputy.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["transfer_id"]
    assert await points(client, resident) == 500
    acts = await pool.fetch("select act, actor_id, community_id from audit_log where id > $1", start)
    assert [(a["act"], a["actor_id"], a["community_id"]) for a in acts] == [("adjustment_approve", deputy.id, c.id)]
    # Approving again moves nothing.
    again = await client.post(f"{path}/approve", headers=deputy.headers)
    assert again.status_code == 409
    assert await points(client, resident) == 500
    assert await world.ledger_problems() == {}


async def test_finding_3_approval_posts_exactly_once_under_concurrency(client, world, pool):
    c, deputy, resident = await two_managers(world)
    admin = await world.admin()
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": resident.id, "unit": "minutes", "amount": 900, "reason": "补录时长"})
    assert r.status_code == 202
    path = f"/api/adjustment-requests/{r.json()['id']}/approve"
    answers = await asyncio.gather(*[client.post(path, headers=who.headers) for who in (deputy, admin) * 4])
    assert sorted(a.status_code for a in answers).count(200) == 1, [a.text for a in answers]
    assert (await client.get("/api/me/balances", headers=resident.headers)).json()["minutes"]["balance"] == 900
    assert await pool.fetchval("select count(*) from transfers where idem_key = $1",
                               f"adjustment-request:{r.json()['id']}") == 1
    # A replayed approval with its Idempotency-Key answers as the first and moves nothing.
    r2 = await client.post("/api/adjustments", headers=c.manager.headers,
                           json={"user_id": resident.id, "unit": "minutes", "amount": -700, "reason": "扣回"})
    key = {"Idempotency-Key": "approve-1"}
    path2 = f"/api/adjustment-requests/{r2.json()['id']}/approve"
    first = await client.post(path2, headers={**deputy.headers, **key})
    replay = await client.post(path2, headers={**deputy.headers, **key})
    assert first.status_code == replay.status_code == 200 and first.json() == replay.json()
    assert (await client.get("/api/me/balances", headers=resident.headers)).json()["minutes"]["balance"] == 200


async def test_finding_3_rejected_adjustment_moves_nothing(client, world, pool):
    c, deputy, resident = await two_managers(world)
    r = await client.post("/api/adjustments", headers=deputy.headers,
                          json={"user_id": resident.id, "unit": "points", "amount": -201, "reason": "扣分"})
    assert r.status_code == 202
    path = f"/api/adjustment-requests/{r.json()['id']}"
    mine = {"people": [c.manager.id, deputy.id, resident.id], "communities": [c.id]}
    async with unchanged(pool, **mine):
        assert (await client.post(f"{path}/reject", headers=c.manager.headers, json={"reason": ""})).status_code == 422
    before = await snapshot(pool, c.manager.id, deputy.id, resident.id)
    rejected = await client.post(f"{path}/reject", headers=c.manager.headers, json={"reason": "证据不足"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert (await snapshot(pool, c.manager.id, deputy.id, resident.id))[:-1] == before[:-1]  # audited, nothing moved
    async with unchanged(pool, **mine):
        assert (await client.post(f"{path}/approve", headers=c.manager.headers)).status_code == 409
    assert await points(client, resident) == 0


async def test_finding_3_threshold_is_a_community_setting_its_manager_edits(client, world, pool):
    c, deputy, resident = await two_managers(world)
    path = f"/api/communities/{c.id}/adjustment-policy"
    policy = (await client.get(path, headers=c.manager.headers)).json()
    assert (policy["threshold_points"], policy["threshold_minutes"]) == (200, 600)
    # Up to the threshold, an adjustment posts at once.
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": resident.id, "unit": "points", "amount": 200, "reason": "补录"})
    assert r.status_code == 201
    start = await pool.fetchval("select max(id) from audit_log")
    r = await client.put(path, headers=c.manager.headers, json={"threshold_points": 10, "threshold_minutes": 30})
    assert r.status_code == 200 and r.json()["threshold_points"] == 10
    row = await pool.fetchrow("select * from audit_log where id > $1", start)
    assert (row["act"], row["community_id"], row["before"]["threshold_points"], row["after"]["threshold_points"]) \
        == ("adjustment_policy", c.id, 200, 10)
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": resident.id, "unit": "points", "amount": 11, "reason": "补录"})
    assert r.status_code == 202
    other = await world.community("别处")
    assert (await client.put(path, headers=other.manager.headers, json={"threshold_points": 1_000_000})).status_code == 403
    assert (await client.put(path, headers=c.manager.headers, json={"threshold_points": -1})).status_code == 422
    assert (await client.get(path, headers=resident.headers)).status_code == 403


async def test_ledger_check_sees_an_approved_request_that_points_at_another_transfer(client, world, pool):
    c, deputy, resident = await two_managers(world)
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": resident.id, "unit": "points", "amount": 300, "reason": "表彰"})
    approved = (await client.post(f"/api/adjustment-requests/{r.json()['id']}/approve", headers=deputy.headers)).json()
    assert "adjustment request and its transfer disagree" not in await world.ledger_problems()
    # Pointed at another transfer (as a bug would), inside a transaction that is then rolled back.
    # (one that is no approved request's own transfer: the unique index would refuse that first)
    await world.fund(resident, c, "points", 10)
    other = await pool.fetchval(
        """select id from transfers where id <> $1 and kind = 'adjustment'
              and id not in (select transfer_id from adjustment_requests where transfer_id is not null)
            order by id limit 1""", approved["transfer_id"])
    from domain.ledger import check

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("update adjustment_requests set transfer_id = $2 where id = $1", approved["id"], other)
            rows = await conn.fetch(check.CHECKS["adjustment request and its transfer disagree"])
            assert [row["id"] for row in rows] == [approved["id"]]
            raise Rollback

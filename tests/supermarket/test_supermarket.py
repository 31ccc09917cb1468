"""The moral supermarket over the API (issue 6): rewards, the redemption flow, vouchers, limits,
scope, concurrency, idempotency, expiry and on-the-spot redemption."""

import asyncio
import io
import uuid
from datetime import timedelta

import asyncpg
import pytest
from PIL import Image

from domain import supermarket
from domain.core import clock, codes, sweeper
from domain.people import auth
from tests.conftest import Person
from tests.snapshot import unchanged

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


# ---- helpers ----------------------------------------------------------------------------------

async def new_reward(client, community, **fields):
    body = {"community_id": community.id, "name": "大米 5kg", "description": "东北大米", "cost_points": 50,
            "stock": 5} | fields
    r = await client.post("/api/rewards", json=body, headers=community.manager.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def ask(client, person, reward_id, quantity=1, key=None):
    headers = person.headers | ({"Idempotency-Key": key} if key else {})
    return await client.post("/api/redemptions", json={"reward_id": reward_id, "quantity": quantity},
                             headers=headers)


async def points(client, person):
    r = await client.get("/api/me/balances", headers=person.headers)
    return r.json()["points"]


async def stock(client, person, reward_id):
    return (await client.get(f"/api/rewards/{reward_id}", headers=person.headers)).json()["stock"]


async def supermarket_total(pool, community_id):
    """What the community's supermarket account received: the sum of its entries."""
    return await pool.fetchval(
        "select coalesce(sum(e.amount), 0) from entries e join accounts a on a.id = e.account_id "
        "where a.org_id = $1 and a.kind = 'supermarket'", community_id)


async def shop(world, points_to_give=200):
    """A community with a funded volunteer and one reward."""
    community = await world.community()
    volunteer = await world.member(community, "刘芳")
    if points_to_give:
        await world.fund(volunteer, community, "points", points_to_give)
    return community, volunteer


async def relogin(pool, person: Person) -> Person:
    """A fresh session at the (frozen) clock's now: sessions of the past expire like real ones."""
    async with pool.acquire() as conn:
        login = await auth._new_session(conn, person.id)
    return Person(person.id, person.phone, person.name, login.token, login.csrf)


# ---- 1. the whole flow ------------------------------------------------------------------------

async def test_request_approve_scan_fulfils_and_a_second_scan_moves_nothing(client, world, pool):
    community, volunteer = await shop(world, 200)
    manager = community.manager
    reward = await new_reward(client, community, cost_points=50, stock=5)

    r = await ask(client, volunteer, reward["id"])
    assert r.status_code == 201, r.text
    asked = r.json()
    assert asked["state"] == "requested" and asked["expires_at"] and asked["points"] == 50
    assert await points(client, volunteer) == {"balance": 200, "held": 50, "available": 150}
    assert await stock(client, volunteer, reward["id"]) == 4

    r = await client.post(f"/api/redemptions/{asked['id']}/approve", headers=manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved" and r.json()["decided_by"]["id"] == manager.id
    assert await points(client, volunteer) == {"balance": 150, "held": 0, "available": 150}
    assert await supermarket_total(pool, community.id) == 50
    assert await stock(client, volunteer, reward["id"]) == 4

    voucher = (await client.get(f"/api/redemptions/{asked['id']}/voucher", headers=volunteer.headers)).json()
    assert voucher["url"].endswith(f"/s/{voucher['code']}") and voucher["svg"].startswith("<svg")

    preview = await client.get(f"/api/scans/{voucher['code']}", headers=manager.headers)
    assert preview.status_code == 200 and preview.json()["title"].startswith("大米 5kg × 1")
    assert preview.json()["details"]["can_fulfil"] is True

    scan = await client.post("/api/scans", json={"code": voucher["code"]}, headers=manager.headers)
    assert scan.status_code == 200, scan.text
    result = scan.json()
    assert result["action"] == "fulfilled" and result["kind"] == "voucher" and result["target_id"] == asked["id"]
    assert result["title"] == "大米 5kg × 1 · 刘芳"
    assert result["details"]["member_name"] == "刘芳" and result["details"]["points"] == 50

    detail = (await client.get(f"/api/redemptions/{asked['id']}", headers=volunteer.headers)).json()
    assert detail["state"] == "fulfilled" and detail["fulfilled_by"]["id"] == manager.id
    assert [(e["from_state"], e["to_state"], e["actor"]["id"]) for e in detail["events"]] == [
        (None, "requested", volunteer.id), ("requested", "approved", manager.id), ("approved", "fulfilled", manager.id)]
    assert await pool.fetchval("select used_at is not null from codes where code = $1", voucher["code"])

    again = await client.post("/api/scans", json={"code": voucher["code"]}, headers=manager.headers)
    assert again.status_code == 409 and again.json()["error"] == "already_used"
    assert again.json()["message"] == "该凭证已使用"
    assert await points(client, volunteer) == {"balance": 150, "held": 0, "available": 150}
    assert await supermarket_total(pool, community.id) == 50
    assert await stock(client, volunteer, reward["id"]) == 4
    assert await pool.fetchval("select count(*) from redemption_events where redemption_id = $1", asked["id"]) == 3
    assert await pool.fetchval("select reason from failed_scans where code = $1", voucher["code"]) == "already_used"
    gone = await client.get(f"/api/redemptions/{asked['id']}/voucher", headers=volunteer.headers)
    assert gone.status_code == 409 and gone.json()["error"] == "already_used"

    statement = (await client.get("/api/me/statement", headers=volunteer.headers)).json()["items"]
    assert statement[0]["amount"] == -50 and statement[0]["cause"] == {
        "type": "redemption", "id": asked["id"], "label": "大米 5kg × 1"}
    assert await world.ledger_problems() == {}


async def test_reject_needs_a_reason_and_releases_points_and_stock(client, world, pool):
    community, volunteer = await shop(world, 200)
    reward = await new_reward(client, community, cost_points=60, stock=3)
    asked = (await ask(client, volunteer, reward["id"], quantity=2)).json()
    assert await points(client, volunteer) == {"balance": 200, "held": 120, "available": 80}
    assert await stock(client, volunteer, reward["id"]) == 1

    url = f"/api/redemptions/{asked['id']}/reject"
    mine = {"people": [volunteer.id, community.manager.id], "communities": [community.id]}
    async with unchanged(pool, **mine):
        blank = await client.post(url, json={"reason": "  "}, headers=community.manager.headers)
        assert blank.status_code == 422 and blank.json()["details"]["field"] == "reason"
    r = await client.post(url, json={"reason": "本月已兑换过同类物品"}, headers=community.manager.headers)
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["reason"] == "本月已兑换过同类物品"
    assert await points(client, volunteer) == {"balance": 200, "held": 0, "available": 200}
    assert await stock(client, volunteer, reward["id"]) == 3
    assert await supermarket_total(pool, community.id) == 0

    async with unchanged(pool, **mine):
        late = await client.post(f"/api/redemptions/{asked['id']}/approve", headers=community.manager.headers)
        assert late.status_code == 409 and late.json()["error"] == "invalid_state"
    events = (await client.get(f"/api/redemptions/{asked['id']}", headers=volunteer.headers)).json()["events"]
    assert events[-1]["to_state"] == "rejected" and events[-1]["reason"] == "本月已兑换过同类物品"
    assert await world.ledger_problems() == {}


async def test_only_the_requester_cancels_and_only_before_approval(client, world, pool):
    community, volunteer = await shop(world, 200)
    other = await world.member(community, "陈伟")
    reward = await new_reward(client, community, cost_points=40, stock=2)
    first = (await ask(client, volunteer, reward["id"])).json()

    mine = {"people": [volunteer.id, other.id], "communities": [community.id]}
    async with unchanged(pool, **mine):
        assert (await client.post(f"/api/redemptions/{first['id']}/cancel",
                                  headers=other.headers)).status_code == 403
    r = await client.post(f"/api/redemptions/{first['id']}/cancel", headers=volunteer.headers)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert await points(client, volunteer) == {"balance": 200, "held": 0, "available": 200}
    assert await stock(client, volunteer, reward["id"]) == 2

    second = (await ask(client, volunteer, reward["id"])).json()
    await client.post(f"/api/redemptions/{second['id']}/approve", headers=community.manager.headers)
    async with unchanged(pool, **mine):
        late = await client.post(f"/api/redemptions/{second['id']}/cancel", headers=volunteer.headers)
        assert late.status_code == 409 and late.json()["error"] == "invalid_state"
    assert await world.ledger_problems() == {}


# ---- 2. refusals ------------------------------------------------------------------------------

async def test_insufficient_balance_out_of_stock_and_limit_reached_are_409(client, world, pool):
    community, volunteer = await shop(world, 100)
    rice = await new_reward(client, community, cost_points=60, stock=10, per_person_limit=2)
    mine = {"people": [volunteer.id], "communities": [community.id]}

    async with unchanged(pool, **mine):
        r = await ask(client, volunteer, rice["id"], quantity=2)  # 120 > 100
    assert r.status_code == 409 and r.json()["error"] == "insufficient_balance"
    assert r.json()["message"] == "可用余额不足"
    assert await stock(client, volunteer, rice["id"]) == 10

    assert (await ask(client, volunteer, rice["id"])).status_code == 201  # 60 held, 40 left
    async with unchanged(pool, **mine):
        r = await ask(client, volunteer, rice["id"])
    assert r.status_code == 409 and r.json()["error"] == "insufficient_balance"
    assert r.json()["details"] == {"available": 40, "needed": 60}

    towel = await new_reward(client, community, name="毛巾", cost_points=10, stock=1, per_person_limit=1)
    assert (await ask(client, volunteer, towel["id"])).status_code == 201
    async with unchanged(pool, **mine):
        r = await ask(client, volunteer, towel["id"])
    assert r.status_code == 409 and r.json()["error"] == "out_of_stock"

    soap = await new_reward(client, community, name="肥皂", cost_points=5, stock=10, per_person_limit=2)
    assert (await ask(client, volunteer, soap["id"], quantity=2)).status_code == 201
    async with unchanged(pool, **mine):
        r = await ask(client, volunteer, soap["id"])
        assert r.status_code == 409 and r.json()["error"] == "limit_reached"
        bad = await ask(client, volunteer, soap["id"], quantity=0)
        assert bad.status_code == 422 and bad.json()["details"]["field"] == "quantity"
    assert r.json()["details"] == {"limit": 2, "used": 2, "remaining": 0}
    listed = (await client.get(f"/api/rewards?community_id={community.id}", headers=volunteer.headers)).json()
    assert {i["name"]: i["my_remaining"] for i in listed["items"]} == {"大米 5kg": 1, "毛巾": 0, "肥皂": 0}

    assert await world.ledger_problems() == {}


async def test_the_database_itself_holds_stock(client, world, pool, monkeypatch):
    """Were the Python checks skipped, the database would still refuse a stock below zero. (The
    monthly limit is decided in Python only, under the reward's row lock.)"""
    community, volunteer = await shop(world, 500)
    reward = await new_reward(client, community, name="肥皂", cost_points=5, stock=10)
    monkeypatch.setattr(supermarket.rules, "check_request", lambda **_: None)
    actor = await world.actor(volunteer)
    async with pool.acquire() as conn:
        await supermarket.request(conn, actor, reward["id"], 2)
        with pytest.raises(asyncpg.CheckViolationError, match="stock"):
            await supermarket.request(conn, actor, reward["id"], 9)
    assert await stock(client, volunteer, reward["id"]) == 8
    assert await points(client, volunteer) == {"balance": 500, "held": 10, "available": 490}


async def test_months_of_the_limit_are_local_months(client, world, pool):
    from datetime import datetime, timezone
    clock.freeze(datetime(2026, 3, 31, 15, 58, tzinfo=timezone.utc))  # 23:58 on 31 March in Shanghai
    community, volunteer = await shop(world, 500)
    reward = await new_reward(client, community, name="肥皂", cost_points=5, stock=10, per_person_limit=1)
    assert (await ask(client, volunteer, reward["id"])).status_code == 201
    clock.advance(timedelta(minutes=3))  # 00:01 on 1 April in Shanghai, still 31 March in UTC
    assert (await ask(client, volunteer, reward["id"])).status_code == 201
    assert (await ask(client, volunteer, reward["id"])).json()["error"] == "limit_reached"


async def test_limit_frees_up_when_a_request_is_cancelled_and_next_month(client, world, pool):
    clock.freeze(clock.now().replace(day=10))
    community, volunteer = await shop(world, 500)
    soap = await new_reward(client, community, name="肥皂", cost_points=5, stock=10, per_person_limit=1)
    first = (await ask(client, volunteer, soap["id"])).json()
    assert (await ask(client, volunteer, soap["id"])).json()["error"] == "limit_reached"
    await client.post(f"/api/redemptions/{first['id']}/cancel", headers=volunteer.headers)
    second = await ask(client, volunteer, soap["id"])
    assert second.status_code == 201
    await client.post(f"/api/redemptions/{second.json()['id']}/approve", headers=community.manager.headers)
    clock.advance(timedelta(days=25))  # into the next month, in any time zone
    fresh = await relogin(pool, volunteer)
    assert (await ask(client, fresh, soap["id"])).status_code == 201


async def test_managers_of_another_community_cannot_decide_and_nobody_approves_their_own(client, world, pool):
    community, volunteer = await shop(world, 300)
    elsewhere = await world.community("别的社区")
    reward = await new_reward(client, community, cost_points=50, stock=5)
    asked = (await ask(client, volunteer, reward["id"])).json()
    mine = {"people": [volunteer.id, community.manager.id, elsewhere.manager.id],
            "communities": [community.id, elsewhere.id]}

    async with unchanged(pool, **mine):
        for action, body in (("approve", None), ("reject", {"reason": "不行"})):
            r = await client.post(f"/api/redemptions/{asked['id']}/{action}", json=body,
                                  headers=elsewhere.manager.headers)
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
        r = await client.post(f"/api/redemptions/{asked['id']}/approve", headers=volunteer.headers)
        assert r.status_code == 403
    r = await client.get(f"/api/redemptions?community_id={community.id}", headers=elsewhere.manager.headers)
    assert r.status_code == 403

    # The community's own manager asks for something in their shop: they cannot approve it...
    manager = community.manager
    admin = await world.actor(await world.admin())
    async with world.pool.acquire() as conn:
        from domain.people import orgs
        await orgs.add_member(conn, admin, community.id, manager.id, "volunteer")
    await world.fund(manager, community, "points", 100)
    own = (await ask(client, manager, reward["id"])).json()
    async with unchanged(pool, **mine):
        r = await client.post(f"/api/redemptions/{own['id']}/approve", headers=manager.headers)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        r = await client.post(f"/api/redemptions/{own['id']}/reject", json={"reason": "自己驳回"},
                              headers=manager.headers)
        assert r.status_code == 403
    # ... but a second manager of the community can.
    second = await world.person("第二位管理员")
    async with world.pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, community.id, second.id)
    r = await client.post(f"/api/redemptions/{own['id']}/approve", headers=second.headers)
    assert r.status_code == 200 and r.json()["state"] == "approved"
    # And the requester-manager cannot hand the goods to themselves either.
    code = (await client.get(f"/api/redemptions/{own['id']}/voucher", headers=manager.headers)).json()["code"]
    async with unchanged(pool, **mine):
        r = await client.post("/api/scans", json={"code": code}, headers=manager.headers)
        assert r.status_code == 403
        r = await client.post("/api/scans", json={"code": code}, headers=elsewhere.manager.headers)
        assert r.status_code == 403
    assert (await client.post("/api/scans", json={"code": code}, headers=second.headers)).status_code == 200


async def test_people_outside_the_community_cannot_shop_or_peek(client, world, pool):
    community, volunteer = await shop(world, 300)
    reward = await new_reward(client, community)
    stranger = await world.person("路人")
    await world.fund(stranger, community, "points", 300)
    async with unchanged(pool, people=[stranger.id, volunteer.id], communities=[community.id]):
        r = await ask(client, stranger, reward["id"])
    # not a member, and no spending area (通兑范围) opens this shop to guests
    assert r.status_code == 403 and r.json()["error"] == "outside_area"
    assert (await client.get(f"/api/rewards/{reward['id']}", headers=stranger.headers)).status_code == 403
    assert (await client.get("/api/rewards", headers=stranger.headers)).json()["items"] == []
    asked = (await ask(client, volunteer, reward["id"])).json()
    assert (await client.get(f"/api/redemptions/{asked['id']}", headers=stranger.headers)).status_code == 403
    assert (await client.get(f"/api/redemptions/{asked['id']}/voucher", headers=stranger.headers)).status_code == 403
    assert (await ask(client, volunteer, 987654321)).status_code == 404
    assert (await client.post("/api/redemptions", json={"reward_id": reward["id"]})).status_code == 401


# ---- 3. concurrency and idempotency -----------------------------------------------------------

async def test_forty_volunteers_for_the_last_ten_units(client, world, pool):
    community = await world.community()
    reward = await new_reward(client, community, cost_points=20, stock=10)
    people = []
    for i in range(40):
        person = await world.member(community, f"志愿者{i}")
        await world.fund(person, community, "points", 100)
        people.append(person)

    answers = await asyncio.gather(*(ask(client, p, reward["id"]) for p in people))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 10 + [409] * 30
    assert {r.json()["error"] for r in answers if r.status_code == 409} == {"out_of_stock"}
    assert await stock(client, community.manager, reward["id"]) == 0
    assert await pool.fetchval("select min(stock_after) from reward_stock_changes where reward_id = $1",
                               reward["id"]) == 0
    assert await pool.fetchval("select count(*) from redemptions where reward_id = $1", reward["id"]) == 10
    held = await pool.fetchval(
        "select sum(held) from accounts where user_id = any($1::bigint[]) and unit = 'points'", [p.id for p in people])
    assert held == 10 * 20
    assert await world.ledger_problems() == {}


async def test_a_double_tap_with_one_idempotency_key_requests_once(client, world, pool):
    community, volunteer = await shop(world, 200)
    reward = await new_reward(client, community, cost_points=30, stock=5)
    key = str(uuid.uuid4())
    first, second = await ask(client, volunteer, reward["id"], key=key), await ask(client, volunteer, reward["id"], key=key)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()

    racing_key = str(uuid.uuid4())
    together = await asyncio.gather(*(ask(client, volunteer, reward["id"], key=racing_key) for _ in range(5)))
    assert {r.json()["id"] for r in together} == {together[0].json()["id"]}

    assert await pool.fetchval("select count(*) from redemptions where user_id = $1", volunteer.id) == 2
    assert await points(client, volunteer) == {"balance": 200, "held": 60, "available": 140}
    assert await stock(client, volunteer, reward["id"]) == 3
    conflict = await ask(client, volunteer, reward["id"], quantity=2, key=key)
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"

    approve_key = {"Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/redemptions/{first.json()['id']}/approve"
    a = await client.post(url, headers=community.manager.headers | approve_key)
    b = await client.post(url, headers=community.manager.headers | approve_key)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert (await client.post(url, headers=community.manager.headers)).status_code == 409
    assert await world.ledger_problems() == {}


# ---- 4. expiry --------------------------------------------------------------------------------

async def test_expiry_releases_requests_and_refunds_uncollected_vouchers(client, world, pool):
    assert supermarket.expire_redemptions in sweeper.SWEEPS
    clock.freeze(clock.now())
    community, volunteer = await shop(world, 300)
    manager = community.manager
    reward = await new_reward(client, community, cost_points=50, stock=5)
    waiting = (await ask(client, volunteer, reward["id"])).json()
    approved = (await ask(client, volunteer, reward["id"], quantity=2)).json()
    await client.post(f"/api/redemptions/{approved['id']}/approve", headers=manager.headers)
    code = (await client.get(f"/api/redemptions/{approved['id']}/voucher", headers=volunteer.headers)).json()["code"]
    assert await points(client, volunteer) == {"balance": 200, "held": 50, "available": 150}
    assert await stock(client, volunteer, reward["id"]) == 2

    async def states():
        rows = await pool.fetch("select id, state from redemptions where id = any($1::bigint[])",
                                [waiting["id"], approved["id"]])
        return {r["id"]: r["state"] for r in rows}

    async def times_expired(redemption_id):
        return await pool.fetchval("select count(*) from redemption_events where redemption_id = $1 "
                                   "and to_state = 'expired'", redemption_id)

    clock.advance(timedelta(days=6, hours=23))
    await supermarket.expire_redemptions(pool, clock.now())
    assert await states() == {waiting["id"]: "requested", approved["id"]: "approved"}

    clock.advance(timedelta(hours=2))  # the request is now older than 7 days
    # Two sweepers at once (two API processes): each redemption expires exactly once.
    await asyncio.gather(supermarket.expire_redemptions(pool, clock.now()),
                         supermarket.expire_redemptions(pool, clock.now()))
    assert await states() == {waiting["id"]: "expired", approved["id"]: "approved"}
    assert await times_expired(waiting["id"]) == 1
    mine = (await client.get(f"/api/redemptions/{waiting['id']}", headers=volunteer.headers)).json()
    assert mine["state"] == "expired" and mine["events"][-1]["actor"] is None and not mine["refunded"]
    assert await pool.fetchval("select t.state from transfers t join redemptions d on d.hold_transfer_id = t.id "
                               "where d.id = $1", waiting["id"]) == "expired"
    assert await points(client, volunteer) == {"balance": 200, "held": 0, "available": 200}
    assert await stock(client, volunteer, reward["id"]) == 3

    clock.advance(timedelta(days=24))  # 31 days after approval
    await asyncio.gather(*(supermarket.expire_redemptions(pool, clock.now()) for _ in range(3)))
    assert await states() == {waiting["id"]: "expired", approved["id"]: "expired"}
    assert await times_expired(approved["id"]) == 1
    volunteer, manager = await relogin(pool, volunteer), await relogin(pool, manager)
    late = (await client.get(f"/api/redemptions/{approved['id']}", headers=volunteer.headers)).json()
    assert late["state"] == "expired" and late["refunded"] and late["reason"] == supermarket.VOUCHER_EXPIRED
    assert await points(client, volunteer) == {"balance": 300, "held": 0, "available": 300}
    assert await supermarket_total(pool, community.id) == 0
    assert await stock(client, volunteer, reward["id"]) == 5
    refund = await pool.fetchrow("select t.kind, t.amount, t.reverses from transfers t join redemptions d "
                                 "on d.refund_transfer_id = t.id where d.id = $1", approved["id"])
    assert refund["kind"] == "reversal" and refund["amount"] == 100
    assert refund["reverses"] == await pool.fetchval("select hold_transfer_id from redemptions where id = $1",
                                                     approved["id"])

    scan = await client.post("/api/scans", json={"code": code}, headers=manager.headers)
    assert scan.status_code == 410 and scan.json()["error"] == "code_expired"
    await supermarket.expire_redemptions(pool, clock.now())
    assert await times_expired(approved["id"]) == 1
    assert await world.ledger_problems() == {}


async def test_one_sweep_works_through_more_than_a_batch(client, world, pool):
    clock.freeze(clock.now())
    community, volunteer = await shop(world, 500)
    reward = await new_reward(client, community, cost_points=10, stock=10)
    ids = [(await ask(client, volunteer, reward["id"])).json()["id"] for _ in range(5)]
    clock.advance(timedelta(days=8))
    await supermarket.expire_redemptions(pool, clock.now(), batch=2)
    states = await pool.fetch("select state from redemptions where id = any($1::bigint[])", ids)
    assert [r["state"] for r in states] == ["expired"] * 5
    assert await pool.fetchval("select stock from rewards where id = $1", reward["id"]) == 10


# ---- on the spot ------------------------------------------------------------------------------

async def test_on_the_spot_redemption_creates_approves_and_fulfils_at_once(client, world, pool):
    community, volunteer = await shop(world, 200)
    manager = community.manager
    reward = await new_reward(client, community, cost_points=45, stock=4, per_person_limit=2)
    async with pool.acquire() as conn:
        card = await codes.member_card(conn, volunteer.id)

    body = {"member_code": codes.url_for(card.code), "reward_id": reward["id"], "quantity": 2}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = await client.post("/api/redemptions/on-the-spot", json=body, headers=manager.headers | key)
    assert r.status_code == 201, r.text
    done = r.json()
    assert done["state"] == "fulfilled" and done["on_the_spot"] and done["points"] == 90
    assert done["fulfilled_by"]["id"] == manager.id
    replay = await client.post("/api/redemptions/on-the-spot", json=body, headers=manager.headers | key)
    assert replay.json() == done
    assert await points(client, volunteer) == {"balance": 110, "held": 0, "available": 110}
    assert await stock(client, volunteer, reward["id"]) == 2
    assert await supermarket_total(pool, community.id) == 90
    detail = (await client.get(f"/api/redemptions/{done['id']}", headers=volunteer.headers)).json()
    assert [(e["from_state"], e["to_state"], e["actor"]["id"]) for e in detail["events"]] == [
        (None, "fulfilled", manager.id)]

    body["quantity"] = 1
    elsewhere = await world.community("别的社区")
    outsider = await world.member(elsewhere, "外社区居民")
    async with pool.acquire() as conn:
        other_card = await codes.member_card(conn, outsider.id)
        own_card = await codes.member_card(conn, manager.id)
    async with unchanged(pool, people=[volunteer.id, outsider.id, manager.id, elsewhere.manager.id],
                         communities=[community.id, elsewhere.id]):
        r = await client.post("/api/redemptions/on-the-spot", json=body, headers=manager.headers)
        assert r.status_code == 409 and r.json()["error"] == "limit_reached"
        r = await client.post("/api/redemptions/on-the-spot", json=body | {"member_code": "nosuchcode123456"},
                              headers=manager.headers)
        assert r.status_code == 404 and r.json()["error"] == "code_unknown"
        r = await client.post("/api/redemptions/on-the-spot", json=body, headers=elsewhere.manager.headers)
        assert r.status_code == 403
        r = await client.post("/api/redemptions/on-the-spot", json=body | {"member_code": other_card.code},
                              headers=manager.headers)
        assert r.status_code == 403 and r.json()["error"] == "outside_area"
        r = await client.post("/api/redemptions/on-the-spot", json=body | {"member_code": own_card.code},
                              headers=manager.headers)
        assert r.status_code == 403
    assert await world.ledger_problems() == {}


# ---- rewards, stock, pictures, lists ----------------------------------------------------------

async def test_only_managers_edit_rewards_and_every_stock_change_is_recorded(client, world, pool):
    community, volunteer = await shop(world, 200)
    manager = community.manager
    body = {"community_id": community.id, "name": "洗衣液", "cost_points": 80, "stock": 3}
    mine = {"people": [volunteer.id, manager.id], "communities": [community.id]}
    async with unchanged(pool, **mine):
        assert (await client.post("/api/rewards", json=body, headers=volunteer.headers)).status_code == 403
        bad = await client.post("/api/rewards", json=body | {"cost_points": 0}, headers=manager.headers)
        assert bad.status_code == 422 and bad.json()["details"]["field"] == "cost_points"
    reward = await new_reward(client, community, name="洗衣液", cost_points=80, stock=3)

    r = await client.patch(f"/api/rewards/{reward['id']}", json={"cost_points": 90, "per_person_limit": 1},
                           headers=manager.headers)
    assert r.status_code == 200 and (r.json()["cost_points"], r.json()["per_person_limit"]) == (90, 1)
    r = await client.patch(f"/api/rewards/{reward['id']}", json={"per_person_limit": None}, headers=manager.headers)
    assert r.json()["per_person_limit"] is None and r.json()["cost_points"] == 90
    assert (await client.patch(f"/api/rewards/{reward['id']}", json={"name": "x"},
                               headers=volunteer.headers)).status_code == 403

    url = f"/api/rewards/{reward['id']}/stock"
    r = await client.post(url, json={"delta": 7, "reason": "超市捐赠一箱"}, headers=manager.headers)
    assert r.status_code == 200 and r.json()["stock"] == 10
    async with unchanged(pool, **mine):  # the stock, above all
        r = await client.post(url, json={"delta": -11, "reason": "盘点"}, headers=manager.headers)
        assert r.status_code == 422 and r.json()["details"]["field"] == "delta"
        r = await client.post(url, json={"delta": -1, "reason": ""}, headers=manager.headers)
        assert r.status_code == 422 and r.json()["details"]["field"] == "reason"
        r = await client.patch(f"/api/rewards/{reward['id']}", json={"stock": 8}, headers=manager.headers)
        assert r.status_code == 422 and r.json()["details"]["field"] == "reason"
    r = await client.patch(f"/api/rewards/{reward['id']}", json={"stock": 8, "stock_reason": "盘点少两瓶"},
                           headers=manager.headers)
    assert r.status_code == 200 and r.json()["stock"] == 8
    await ask(client, volunteer, reward["id"])

    changes = (await client.get(f"/api/rewards/{reward['id']}/stock-changes", headers=manager.headers)).json()
    assert [(c["delta"], c["stock_after"], c["reason"]) for c in changes["items"]][:3] == [
        (-1, 7, changes["items"][0]["reason"]), (-2, 8, "盘点少两瓶"), (7, 10, "超市捐赠一箱")]
    assert changes["items"][0]["redemption_id"] is not None and changes["items"][1]["actor"]["id"] == manager.id
    assert (await client.get(f"/api/rewards/{reward['id']}/stock-changes", headers=volunteer.headers)).status_code == 403

    # The database itself refuses a stock change without its recorded reason.
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("update rewards set stock = 100 where id = $1", reward["id"])
    with pytest.raises(asyncpg.PostgresError):
        await pool.execute("delete from reward_stock_changes where reward_id = $1", reward["id"])


async def test_inactive_rewards_leave_the_shop_but_not_the_managers_list(client, world, pool):
    community, volunteer = await shop(world, 200)
    manager = community.manager
    reward = await new_reward(client, community, name="理发券")
    await client.patch(f"/api/rewards/{reward['id']}", json={"active": False}, headers=manager.headers)
    shop_list = (await client.get("/api/rewards", headers=volunteer.headers)).json()["items"]
    assert reward["id"] not in [i["id"] for i in shop_list]
    mine = (await client.get(f"/api/rewards?community_id={community.id}&include_inactive=true",
                             headers=manager.headers)).json()["items"]
    assert [i["active"] for i in mine if i["id"] == reward["id"]] == [False]
    async with unchanged(pool, people=[volunteer.id], communities=[community.id]):  # no hold, stock as it was
        r = await ask(client, volunteer, reward["id"])
        assert r.status_code == 409 and r.json()["error"] == "invalid_state"


async def test_reward_picture_is_stored_small_and_without_metadata(client, world):
    community, volunteer = await shop(world, 0)
    reward = await new_reward(client, community)
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (2000, 1500), (200, 120, 40)).save(photo, "JPEG", exif=exif)
    files = {"image": ("rice.jpg", photo.getvalue(), "image/jpeg")}
    r = await client.post(f"/api/rewards/{reward['id']}/image", files=files, headers=community.manager.headers)
    assert r.status_code == 200, r.text
    url = r.json()["image_url"]
    served = await client.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(served.content))
    assert max(picture.size) == supermarket.IMAGE_SIDE and not picture.getexif()
    assert (await client.post(f"/api/rewards/{reward['id']}/image", files=files,
                              headers=volunteer.headers)).status_code == 403
    junk = {"image": ("x.jpg", b"not an image", "image/jpeg")}
    r = await client.post(f"/api/rewards/{reward['id']}/image", files=junk, headers=community.manager.headers)
    assert r.status_code == 415
    r = await client.delete(f"/api/rewards/{reward['id']}/image", headers=community.manager.headers)
    assert r.json()["image_url"] is None and (await client.get(url)).status_code == 404


async def test_lists_queue_oldest_first_with_balances_and_page_with_cursors(client, world):
    community, volunteer = await shop(world, 500)
    other = await world.member(community, "陈伟")
    await world.fund(other, community, "points", 100)
    reward = await new_reward(client, community, cost_points=10, stock=50)
    ids = [(await ask(client, volunteer, reward["id"])).json()["id"] for _ in range(3)]
    ids.append((await ask(client, other, reward["id"])).json()["id"])

    queue = await client.get(f"/api/redemptions?community_id={community.id}&state=requested&limit=3",
                             headers=community.manager.headers)
    page = queue.json()
    assert [i["id"] for i in page["items"]] == ids[:3] and page["next_cursor"]
    assert page["items"][0]["requester_balance"] == {"balance": 500, "held": 30, "available": 470}
    rest = (await client.get(f"/api/redemptions?community_id={community.id}&state=requested&limit=3"
                             f"&cursor={page['next_cursor']}", headers=community.manager.headers)).json()
    assert [i["id"] for i in rest["items"]] == ids[3:] and rest["next_cursor"] is None

    mine = (await client.get("/api/redemptions?limit=2", headers=volunteer.headers)).json()
    assert [i["id"] for i in mine["items"]] == [ids[2], ids[1]] and mine["items"][0]["requester_balance"] is None
    more = (await client.get(f"/api/redemptions?limit=2&cursor={mine['next_cursor']}", headers=volunteer.headers)).json()
    assert [i["id"] for i in more["items"]] == [ids[0]]

    await client.post(f"/api/redemptions/{ids[0]}/approve", headers=community.manager.headers)
    counts = await client.get(f"/api/redemptions/counts?community_id={community.id}", headers=community.manager.headers)
    assert counts.json() == {"requested": 3, "approved": 1}
    assert (await client.get("/api/redemptions/counts", headers=volunteer.headers)).json() == {
        "requested": 2, "approved": 1}
    r = await client.get("/api/redemptions?state=nonsense", headers=volunteer.headers)
    assert r.status_code == 422 and r.json()["details"]["field"] == "state"
    assert (await client.get("/api/redemptions?limit=0", headers=volunteer.headers)).status_code == 422


async def test_demo_seed_fills_the_shop_and_the_queue(fresh_conn):
    from domain import demo
    conn = fresh_conn  # the demo city needs a database of its own: its phones are fixed
    city = await demo.seed(conn)
    assert city is not None, "a fresh database has no demo city yet"
    names = {r["name"] for r in await conn.fetch("select name from rewards where community_id = $1",
                                                 city.communities["三苏社区"])}
    # the queue: requests waiting (赵强's guest redemption from 裕丰, domain/demo/areas.py, is approved)
    pending = await conn.fetch(
        "select user_id, state from redemptions where community_id = $1 and state = 'requested'",
        city.communities["三苏社区"])
    assert {"大米 5kg", "食用油 1.8L", "洗衣液 2kg", "纯棉毛巾", "理发券"} <= names
    assert [(r["user_id"], r["state"]) for r in pending] == [(city.volunteers["刘芳"], "requested")]


async def test_odd_input_is_a_4xx_never_a_500(client, world):
    community, volunteer = await shop(world, 100)
    manager = community.manager
    huge = 99999999999999999999
    for method, url, body in (
            ("GET", f"/api/redemptions/{huge}", None), ("GET", f"/api/rewards/{huge}", None),
            ("POST", f"/api/redemptions/{huge}/approve", None), ("GET", f"/api/rewards/{huge}/image", None),
            ("POST", "/api/redemptions", {"reward_id": 2**63, "quantity": 1}),
            ("POST", "/api/redemptions", {"reward_id": "1", "quantity": 1}),
            ("POST", "/api/redemptions", {"reward_id": 1, "quantity": 100}),
            ("POST", "/api/redemptions", {"reward_id": 1, "extra": True}),
            ("POST", "/api/redemptions/on-the-spot", {"member_code": "", "reward_id": 1}),
            ("POST", "/api/redemptions/on-the-spot", {"member_code": "../../etc/passwd", "reward_id": 1}),
            ("POST", "/api/rewards", {"community_id": community.id, "name": "", "cost_points": 1}),
            ("POST", "/api/rewards", {"community_id": community.id, "name": "x" * 61, "cost_points": 1}),
            ("PATCH", f"/api/rewards/{huge}", {"name": "x"}),
            ("GET", "/api/redemptions?cursor=-1", None), ("GET", f"/api/redemptions?community_id={huge}", None)):
        r = await client.request(method, url, json=body, headers=manager.headers)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text[:200])
        assert r.json()["error"]

"""通存通兑 (issue 19) and issue 16 finding 2: points and minutes carry the community that issued them,
are spent elsewhere only inside a street's or district's spending area, in a fixed order, and every
cross-community spend is settled per pair of communities."""

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import checkin, ledger, supermarket
from domain.core import clock
from domain.core.errors import DomainError
from domain.people import orgs
from tests.snapshot import unchanged

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 12, 10, 0, tzinfo=SH)


async def street_of(world, *names):
    """Communities under one street (the first creates the street)."""
    first = await world.community(names[0])
    return [first] + [await world.community(name, street_id=first.street_id) for name in names[1:]]


async def set_area(client, who, org_id, unit="points", enabled=True, **extra):
    return await client.put(f"/api/orgs/{org_id}/spending-area", json={"unit": unit, "enabled": enabled, **extra},
                            headers=who.headers)


async def new_reward(client, community, cost=50, stock=100, **fields):
    body = {"community_id": community.id, "name": "大米 5kg", "cost_points": cost, "stock": stock} | fields
    r = await client.post("/api/rewards", json=body, headers=community.manager.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def ask(client, person, reward_id, quantity=1):
    return await client.post("/api/redemptions", json={"reward_id": reward_id, "quantity": quantity},
                             headers=person.headers)


async def wallet(client, person) -> dict:
    r = await client.get("/api/me/balances", headers=person.headers)
    assert r.status_code == 200
    return r.json()


def parts(w: dict, unit: str = "points") -> dict[int, int]:
    return {p["community_id"]: p["balance"] for p in w["by_community"][unit]}


async def approve(client, community, redemption_id):
    r = await client.post(f"/api/redemptions/{redemption_id}/approve", headers=community.manager.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def settlement(client, who, org_id, month="2026-11", fmt="json"):
    return await client.get(f"/api/orgs/{org_id}/settlement", params={"month": month, "format": fmt},
                            headers=who.headers)


# ---- finding 2 ---------------------------------------------------------------------------------

async def test_finding_2_points_minted_in_one_community_are_not_spent_in_another(client, world):
    """m2 (manager of 诗书) adjusts +5,000 to 陈伟 (approved by an admin), who also belongs to 三苏; he cannot spend them in
    三苏's supermarket: no 通兑 policy covers the two, so points stay where they were issued."""
    shishu, sansu = await street_of(world, "诗书社区", "三苏社区")
    chen = await world.member(sansu, "陈伟")
    async with world.pool.acquire() as conn:
        await orgs.add_member(conn, await world.actor(await world.admin()), shishu.id, chen.id, "volunteer")
    r = await client.post("/api/adjustments", json={"user_id": chen.id, "unit": "points", "amount": 5000,
                                                    "reason": "活动奖励", "community_id": shishu.id},
                          headers=shishu.manager.headers)
    # 5,000 is above the adjustment threshold (issue 16 finding 3): it waits for a checker
    assert r.status_code == 202, r.text
    r = await client.post(f"/api/adjustment-requests/{r.json()['id']}/approve",
                          headers=(await world.admin()).headers)
    assert r.status_code == 200, r.text
    await world.fund(chen, sansu, "points", 20)
    reward = await new_reward(client, sansu, cost=1000, stock=3)
    r = await ask(client, chen, reward["id"])
    assert r.status_code == 409 and r.json()["error"] == "not_spendable_here", r.text
    assert r.json()["details"]["available_here"] == 20 and r.json()["details"]["available"] == 5020
    assert "通兑" in r.json()["message"]
    w = await wallet(client, chen)
    assert w["points"] == {"balance": 5020, "held": 0, "available": 5020}
    assert parts(w) == {shishu.id: 5000, sansu.id: 20}
    # ... and what 三苏 issued is spent there
    small = await new_reward(client, sansu, cost=20, stock=3)
    assert (await ask(client, chen, small["id"])).status_code == 201
    assert await world.ledger_problems() == {}


# ---- acceptance: earn in A, redeem in B ---------------------------------------------------------

async def test_volunteer_of_a_earns_at_a_and_redeems_at_b_only_with_the_streets_policy(client, world, pool):
    clock.freeze(NOW)
    a, b = await street_of(world, "甲社区", "乙社区")
    volunteer = await world.member(a, "王芳")
    r = await client.post("/api/activities", headers=a.manager.headers, json={
        "community_id": a.id, "title": "楼道清洁", "starts_at": (NOW - timedelta(minutes=10)).isoformat(),
        "ends_at": (NOW + timedelta(hours=3)).isoformat(), "points": 120})
    assert r.status_code == 201, r.text
    activity = r.json()
    assert (await client.post(f"/api/activities/{activity['id']}/publish", headers=a.manager.headers)).status_code == 200
    async with pool.acquire() as conn, conn.transaction():
        await checkin.record_scan(conn, activity["id"], volunteer.id, kind="poster", source="self")
    assert parts(await wallet(client, volunteer)) == {a.id: 120}
    reward = await new_reward(client, b, cost=45, stock=10)

    # policy off: a guest of 乙 is refused, saying why; 乙's shop is not in the catalogue
    assert (await client.get("/api/rewards", headers=volunteer.headers)).json()["items"] == []
    r = await ask(client, volunteer, reward["id"], 2)
    assert r.status_code == 403 and r.json()["error"] == "outside_area"
    assert (await client.get(f"/api/rewards?community_id={b.id}", headers=volunteer.headers)).status_code == 403

    # a community's manager cannot open the street; the admin can (audited)
    assert (await set_area(client, a.manager, a.street_id)).status_code == 403
    r = await set_area(client, await world.admin(), a.street_id)
    assert r.status_code == 200, r.text
    assert r.json()["points"]["enabled"] is True and r.json()["minutes"]["enabled"] is False
    audit = await pool.fetchrow("select act, target_type, target_id from audit_log where act = 'area_policy' "
                                "and target_id = $1", a.street_id)
    assert tuple(audit) == ("area_policy", "org", a.street_id)

    listed = await client.get(f"/api/rewards?community_id={b.id}", headers=volunteer.headers)
    assert listed.status_code == 200 and [x["id"] for x in listed.json()["items"]] == [reward["id"]]
    everything = await client.get("/api/rewards", headers=volunteer.headers)  # my shops and the area's
    assert [x["id"] for x in everything.json()["items"]] == [reward["id"]]
    r = await ask(client, volunteer, reward["id"], 2)
    assert r.status_code == 201, r.text
    await approve(client, b, r.json()["id"])
    w = await wallet(client, volunteer)
    assert w["points"] == {"balance": 30, "held": 0, "available": 30} and parts(w) == {a.id: 30}

    # the street's settlement of November: 甲 issued 90 that 乙 took in
    report = await settlement(client, a.manager, a.street_id)
    assert report.status_code == 200, report.text
    assert [(p["issuer_id"], p["spender_id"], p["unit"], p["amount"]) for p in report.json()["pairs"]] == [
        (a.id, b.id, "points", 90)]
    csv = await settlement(client, await world.admin(), a.street_id, fmt="csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    assert "甲社区,乙社区,1,90" in csv.content.decode("utf-8-sig")
    assert (await settlement(client, volunteer, a.street_id)).status_code == 403
    assert await world.ledger_problems() == {}

    # turned off again (from today, an hour later): the same request is refused once more
    clock.freeze(NOW + timedelta(hours=1))
    assert (await set_area(client, await world.admin(), a.street_id, enabled=False)).status_code == 200
    r = await ask(client, volunteer, reward["id"], 1)
    assert r.status_code == 403 and r.json()["error"] == "outside_area"


async def test_a_policy_rules_from_its_start_date_and_the_widest_level_wins(client, world, pool):
    clock.freeze(NOW)
    a, b = await street_of(world, "子社区", "丑社区")
    volunteer = await world.member(a, "李雷")
    await world.fund(volunteer, a, "points", 100)
    reward = await new_reward(client, b, cost=10)
    admin = await world.admin()
    r = await set_area(client, admin, a.street_id, starts_on="2026-11-20")
    assert r.status_code == 200 and r.json()["points"]["enabled"] is False  # not yet
    mine = {"people": [volunteer.id], "communities": [a.id, b.id]}
    async with unchanged(pool, **mine):
        assert (await set_area(client, admin, a.street_id, starts_on="2026-11-01")).status_code == 422  # the past
        assert (await ask(client, volunteer, reward["id"])).json()["error"] == "outside_area"
    clock.freeze(NOW + timedelta(days=8))  # 20 November
    assert (await ask(client, volunteer, reward["id"])).status_code == 201
    # the street closes, but its district opens: the district's area (wider) rules
    assert (await set_area(client, admin, a.street_id, enabled=False)).status_code == 200
    async with unchanged(pool, **mine):  # refused: no hold, no stock taken, no request
        assert (await ask(client, volunteer, reward["id"])).json()["error"] == "outside_area"
    assert (await set_area(client, admin, a.district_id)).status_code == 200
    assert (await ask(client, volunteer, reward["id"])).status_code == 201
    # a street/district manager (appointed to the street) may set it; a stranger may not read it
    boss = await world.person("街道主任")
    async with pool.acquire() as conn:
        await orgs.appoint_manager(conn, await world.actor(admin), a.street_id, boss.id)
    assert (await set_area(client, boss, a.street_id, unit="minutes")).status_code == 200
    assert (await client.get(f"/api/orgs/{a.street_id}/spending-area", headers=volunteer.headers)).status_code == 403
    policies = (await client.get(f"/api/orgs/{a.street_id}/spending-area", headers=boss.headers)).json()
    assert policies["minutes"]["enabled"] is True and policies["communities"] == [a.id, b.id]
    # a street manager is no community manager
    assert (await world.actor(boss)).manages == frozenset()


# ---- the spending order ---------------------------------------------------------------------------

async def test_spending_draws_the_shops_own_points_first_then_the_area_by_community_id(client, world):
    clock.freeze(NOW)  # its settlement is read for November, as the other tests here
    a, b, c = await street_of(world, "一社区", "二社区", "三社区")
    person = await world.member(b, "赵敏")
    await world.fund(person, a, "points", 50)
    await world.fund(person, b, "points", 30)
    await world.fund(person, c, "points", 40)
    assert (await set_area(client, await world.admin(), a.street_id)).status_code == 200
    reward = await new_reward(client, b, cost=100, stock=5)
    r = await ask(client, person, reward["id"])
    assert r.status_code == 201, r.text
    # held: all 30 of 二 (the shop's own), then 50 of 一 (lowest id), then 20 of 三
    w = await wallet(client, person)
    assert {p["community_id"]: p["held"] for p in w["by_community"]["points"]} == {a.id: 50, b.id: 30, c.id: 20}
    assert w["points"] == {"balance": 120, "held": 100, "available": 20}
    await approve(client, b, r.json()["id"])
    assert parts(await wallet(client, person)) == {c.id: 20}
    pairs = (await settlement(client, b.manager, a.street_id)).json()["pairs"]
    assert [(p["issuer_id"], p["spender_id"], p["amount"]) for p in pairs] == [(a.id, b.id, 50), (c.id, b.id, 20)]
    # the statement lists each part with the community that issued it
    lines = (await client.get("/api/me/statement?unit=points", headers=person.headers)).json()["items"]
    spent = [(x["community"]["id"], x["amount"]) for x in lines if x["kind"] == "redemption"]
    assert sorted(spent) == sorted([(a.id, -50), (b.id, -30), (c.id, -20)])
    assert await world.ledger_problems() == {}


async def test_a_refunded_voucher_gives_each_part_back_and_nets_the_settlement(client, world, pool):
    clock.freeze(NOW)
    a, b = await street_of(world, "东社区", "西社区")
    person = await world.member(a, "钱多")
    await world.fund(person, a, "points", 70)
    await world.fund(person, b, "points", 10)
    assert (await set_area(client, await world.admin(), a.street_id)).status_code == 200
    reward = await new_reward(client, b, cost=60)
    redemption = (await ask(client, person, reward["id"])).json()
    await approve(client, b, redemption["id"])
    clock.freeze(NOW + timedelta(days=40))  # the voucher lapses uncollected in December
    assert await supermarket.expire_redemptions(pool, clock.now()) >= 1
    clock.freeze(NOW)  # back, so the sessions of the test are still valid
    assert parts(await wallet(client, person)) == {a.id: 70, b.id: 10}
    november = (await settlement(client, a.manager, a.street_id, "2026-11")).json()["pairs"]
    december = (await settlement(client, a.manager, a.street_id, "2026-12")).json()["pairs"]
    assert [(p["issuer_id"], p["amount"]) for p in november] == [(a.id, 50)]
    assert [(p["issuer_id"], p["amount"]) for p in december] == [(a.id, -50)]
    assert await world.ledger_problems() == {}


# ---- time bank across the area ----------------------------------------------------------------------

async def test_minutes_banked_in_a_pay_for_a_service_in_c_of_the_same_area(client, world):
    clock.freeze(NOW)
    a, b, c = await street_of(world, "春社区", "夏社区", "秋社区")
    requester = await world.member(a, "周奶奶的女儿")
    helper = await world.member(c, "秋社区志愿者")
    await world.fund(requester, a, "minutes", 120)
    post = {"title": "陪周奶奶复诊", "minutes_estimate": 60, "community_id": c.id}
    r = await client.post("/api/timebank/requests", json=post, headers=requester.headers)
    assert r.status_code == 403 and r.json()["error"] == "outside_area"   # minutes policy off
    assert (await set_area(client, await world.admin(), a.street_id, unit="minutes")).status_code == 200
    r = await client.post("/api/timebank/requests", json=post, headers=requester.headers)
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    for step in ("accept", "complete"):
        r = await client.post(f"/api/timebank/requests/{request_id}/{step}", headers=helper.headers)
        assert r.status_code == 200, r.text
    r = await client.post(f"/api/timebank/requests/{request_id}/confirm", json={"minutes": 45},
                          headers=requester.headers)
    assert r.status_code == 200, r.text
    assert parts(await wallet(client, requester), "minutes") == {a.id: 75}
    assert parts(await wallet(client, helper), "minutes") == {c.id: 45}
    pairs = (await settlement(client, c.manager, a.street_id)).json()["pairs"]
    assert [(p["issuer_id"], p["spender_id"], p["unit"], p["amount"]) for p in pairs] == [(a.id, c.id, "minutes", 45)]
    # a member of 夏 sees 秋's board as a guest and may offer help there
    guest = await world.member(b, "夏社区居民")
    board = await client.get(f"/api/timebank/requests?community_id={c.id}", headers=guest.headers)
    assert board.status_code == 200
    assert await world.ledger_problems() == {}


# ---- concurrency ----------------------------------------------------------------------------------

async def test_64_concurrent_cross_community_redemptions_never_overdraw(client, world, pool):
    """One person's 300 points (100 from each of three communities), 64 requests of 10 points spread
    over the three supermarkets at once: exactly 30 succeed, nothing is overdrawn, the ledger is clean."""
    shops = await street_of(world, "甲一社区", "甲二社区", "甲三社区")
    person = await world.member(shops[0], "并发兑换人")
    for shop in shops:
        await world.fund(person, shop, "points", 100)
    assert (await set_area(client, await world.admin(), shops[0].street_id)).status_code == 200
    rewards = [await new_reward(client, shop, cost=10, stock=64) for shop in shops]
    actor = await world.actor(person)

    async def one(i: int) -> str:
        async with pool.acquire() as conn:
            try:
                await supermarket.request(conn, actor, rewards[i % 3]["id"], 1)
                return "ok"
            except DomainError as error:
                return error.code

    outcomes = await asyncio.gather(*(one(i) for i in range(64)))
    assert outcomes.count("ok") == 30, outcomes
    assert set(outcomes) == {"ok", "insufficient_balance"}
    w = await wallet(client, person)
    assert w["points"] == {"balance": 300, "held": 300, "available": 0}
    assert all(p["available"] == 0 for p in w["by_community"]["points"])
    assert await pool.fetchval("select count(*) from accounts where user_id = $1 and balance - held < 0",
                               person.id) == 0
    assert await world.ledger_problems() == {}


# ---- the database and the check -----------------------------------------------------------------

async def test_the_database_keeps_accounts_per_community_and_the_check_sees_settlement_drift(world, pool, client):
    from tests.ledger.ledger_support import corrupted, refused
    a, b = await street_of(world, "金社区", "木社区")
    person = await world.member(a, "吴用")
    await world.fund(person, a, "points", 40)
    assert (await set_area(client, await world.admin(), a.street_id)).status_code == 200
    async with pool.acquire() as conn, conn.transaction():
        mine = await ledger.user_account(conn, person.id, "points", a.id)
        shop_b = await ledger.org_account(conn, b.id, "supermarket", "points")
        t = await ledger.post(conn, unit="points", debit=mine, credit=shop_b, amount=15, kind="redemption")
    assert await pool.fetchval("select amount from settlements where transfer_id = $1", t.id) == 15
    # a person's account always names its community; settlements come only from their transfer
    await refused(pool, "insert into accounts (unit, kind, user_id) values ('points', 'user', $1)", person.id)
    await refused(pool, "update settlements set amount = 1 where transfer_id = $1", t.id)
    await refused(pool, "insert into settlements values ($1, 'points', $2, $3, 5, now())", t.id, a.id, b.id)
    async with corrupted(pool, "settlements", "delete from settlements where transfer_id = $1",
                         """insert into settlements
                            select t.id, t.unit, d.org_id, c.org_id, t.amount, t.created_at from transfers t
                            join accounts d on d.id = t.debit_account join accounts c on c.id = t.credit_account
                            where t.id = $1""", t.id):
        assert "settlement rows differ from the cross-community postings" in await world.ledger_problems()
    assert await world.ledger_problems() == {}
    # without the street's policy, the same spend is one the check reports
    async with corrupted(pool, "area_policies", "update area_policies set enabled = false where org_id = $1",
                         "update area_policies set enabled = true where org_id = $1", a.street_id):
        assert [r["transfer_id"] for r in (await world.ledger_problems())["value spent outside its spending area"]
                ] == [t.id]
    assert await world.ledger_problems() == {}


async def test_street_and_district_managers_read_the_settlement_of_what_they_oversee(client, world, pool):
    """Merged with issue 20: the managers above a community (Actor.oversees) read the settlement of
    their street or district; another street's manager and a volunteer may not; reading is not setting."""
    clock.freeze(NOW)
    a, b = await street_of(world, "东社区", "西社区")
    elsewhere = await world.community("北社区")  # another street
    admin = await world.actor(await world.admin())
    street_boss, district_boss, other_boss = [await world.person(n) for n in ("街道主任", "区主任", "别街主任")]
    async with pool.acquire() as conn:
        await orgs.appoint_manager(conn, admin, a.street_id, street_boss.id)
        await orgs.appoint_manager(conn, admin, a.district_id, district_boss.id)
        await orgs.appoint_manager(conn, admin, elsewhere.street_id, other_boss.id)
    volunteer = await world.member(a, "韩梅")
    await world.fund(volunteer, a, "points", 100)
    assert (await set_area(client, street_boss, a.street_id)).status_code == 200
    reward = await new_reward(client, b, cost=40)
    r = await ask(client, volunteer, reward["id"])
    assert r.status_code == 201, r.text
    await approve(client, b, r.json()["id"])
    for reader in (street_boss, district_boss):
        report = await settlement(client, reader, a.street_id)
        assert report.status_code == 200, report.text
        assert [(p["issuer_id"], p["spender_id"], p["amount"]) for p in report.json()["pairs"]] == [(a.id, b.id, 40)]
    assert (await settlement(client, district_boss, a.district_id)).status_code == 200
    assert (await settlement(client, other_boss, a.street_id)).status_code == 403
    assert (await settlement(client, volunteer, a.street_id)).status_code == 403
    # another street's manager may not open this street's area either
    assert (await set_area(client, other_boss, a.street_id, unit="minutes")).status_code == 403

"""`linli audit` finds what it is there to find. The other oversight tests show the report empty after
attacks the app refuses; here each of its seven checks is handed the smallest rows it must report, as
data written before the rules or by another writer would look (value through the ledger's own writer,
the records beside it inserted as they stand), in two communities: each finding names its rows, and a
report of one community holds nothing of the other.

The world lives in a database of its own, since its rows are findings on purpose (the session's
database must stay clean for the check at its end).
"""

from datetime import timedelta

import pytest

from domain import ledger
from domain.core import clock, db
from domain.oversight import report
from tests.conftest import T0, Community, World, _fresh_database, drop_database


async def _activity(conn, c: Community, maker: int, points: int = 0) -> int:
    return await conn.fetchval(
        """insert into activities (community_id, title, starts_at, ends_at, points, points_per_hour, daily_points_cap,
                                   state, created_by, created_at, published_at)
           values ($1, '老数据活动', $2, $3, $4, 0, 1000, 'published', $5, $2, $2) returning id""",
        c.id, T0 - timedelta(hours=2), T0 + timedelta(hours=2), points, maker)


async def _attendance(conn, activity: int, user: int, *, recorded_by: int | None = None, points: int = 0) -> int:
    return await conn.fetchval(
        """insert into attendances (activity_id, user_id, state, source, checked_in_at, checked_out_at, minutes,
                                    points, recorded_by, note, created_at)
           values ($1, $2, 'done', $3, $4, $5, 60, $6, $7, $8, $4) returning id""",
        activity, user, "self" if recorded_by is None else "manual", T0 - timedelta(hours=1), T0, points,
        recorded_by, None if recorded_by is None else "补录")


async def _award(conn, c: Community, attendance: int, user: int, amount: int, key: str, actor: int | None) -> int:
    transfer = await ledger.post(
        conn, unit="points", debit=await ledger.org_account(conn, c.id, "issuing", "points"),
        credit=await ledger.user_account(conn, user, "points", c.id), amount=amount, kind="award",
        cause=("checkin", attendance), actor_id=actor, key=key)
    return transfer.id


async def _adjust(conn, c: Community, maker: int, user: int, unit: str, amount: int) -> int:
    transfer = await ledger.post(
        conn, unit=unit, debit=await ledger.org_account(conn, c.id, "issuing", unit),
        credit=await ledger.user_account(conn, user, unit, c.id), amount=amount, kind="adjustment",
        cause=("adjustment", c.id), actor_id=maker, reason="手工调整")
    return transfer.id


async def _findings(world: World, name: str) -> tuple[int, dict]:
    """A community with one row set for each check, each made by its own person (a maker's credits of
    one check do not add up to another's daily limit), and the report each check must give for it."""
    c = await world.community(name)
    m = c.manager.id  # a manager of the community (org_managers), for their own scan
    adjuster, marker, publisher, daily, seller = [(await world.person(f"{name}{i}")).id for i in range(5)]
    member, resident, late = [(await world.person(f"{name}居民{i}")).id for i in range(3)]
    async with world.pool.acquire() as conn, conn.transaction():
        big_adjustment = await _adjust(conn, c, adjuster, member, "points", 300)  # threshold 200
        small_days = [await _adjust(conn, c, daily, member, "minutes", 590) for _ in range(3)]  # each < 600, 1770 > 1500
        big_activity = await _activity(conn, c, publisher, points=300)  # a day pays 300 > 200, unapproved
        plain = await _activity(conn, c, m)
        mark = await _attendance(conn, plain, member, recorded_by=marker, points=300)
        await _award(conn, c, mark, member, 300, f"checkin:{mark}:manual:1", marker)
        own = await _attendance(conn, plain, m)
        own_credit = await _award(conn, c, own, m, 20, f"checkin:{own}:in", None)
        after = await _attendance(conn, plain, late)
        late_credit = await _award(conn, c, after, late, 20, f"checkin:{after}:until:1", None)
        # The seller made the resident, credited them, and handed them goods on the spot, alone.
        await conn.execute(
            """insert into audit_log (actor_id, act, community_id, target_type, target_id, created_at)
               values ($1, 'member_create', $2, 'user', $3, $4)""", seller, c.id, resident, T0)
        await _adjust(conn, c, seller, resident, "points", 50)
        reward = await conn.fetchval(
            """insert into rewards (community_id, name, cost_points, stock, created_at, updated_at)
               values ($1, '大米', 50, 0, $2, $2) returning id""", c.id, T0)
        paid = await ledger.post(
            conn, unit="points", debit=await ledger.user_account(conn, resident, "points", c.id),
            credit=await ledger.org_account(conn, c.id, "supermarket", "points"), amount=50, kind="redemption")
        redemption = await conn.fetchval(
            """insert into redemptions (user_id, reward_id, community_id, reward_name, quantity, points, state,
                                        on_the_spot, post_transfer_id, requested_at, decided_at, decided_by,
                                        fulfilled_at, fulfilled_by, state_changed_at, state_changed_by)
               values ($1, $2, $3, '大米', 1, 50, 'fulfilled', true, $4, $5, $5, $6, $5, $6, $5, $6) returning id""",
            resident, reward, c.id, paid.id, T0, seller)
    assert len(small_days) == 3
    return c.id, {
        "adjustment_above_threshold_alone": [
            {"transfer_id": big_adjustment, "community_id": c.id, "maker_id": adjuster, "unit": "points", "amount": 300}],
        "mark_above_threshold_alone": [
            {"attendance_id": mark, "community_id": c.id, "maker_id": marker, "points": 300, "minutes": 60}],
        "activity_above_threshold_unapproved": [
            {"activity_id": big_activity, "community_id": c.id, "maker_id": publisher, "points": 300,
             "points_per_hour": 0, "daily_points_cap": 1000}],
        "daily_limit_passed_alone": [
            {"community_id": c.id, "maker_id": daily, "unit": "minutes", "day": "2026-05-13", "amount": 1770}],
        "own_scan_credited_alone": [
            {"transfer_id": own_credit, "community_id": c.id, "manager_id": m, "unit": "points", "amount": 20}],
        "own_resident_redeemed_alone": [
            {"redemption_id": redemption, "community_id": c.id, "manager_id": seller, "user_id": resident,
             "points": 50}],
        "presence_after_auto_checkout": [
            {"transfer_id": late_credit, "community_id": c.id, "user_id": late, "unit": "points", "amount": 20}],
    }


@pytest.fixture(scope="module")
async def two_communities(admin_url):
    url = await _fresh_database(admin_url)
    pool = await db.create_pool(url, min_size=1, max_size=2)
    clock.freeze(T0)
    try:
        world = World(pool)
        first, second = await _findings(world, "甲社区"), await _findings(world, "乙社区")
        clock.unfreeze()
        yield pool, first, second
    finally:
        clock.unfreeze()
        await pool.close()
        await drop_database(admin_url, url)


async def test_each_check_names_the_rows_of_the_community_asked_for(two_communities):
    pool, (first, expected_first), (second, expected_second) = two_communities
    async with pool.acquire() as conn:
        assert await report.report(conn, [first]) == expected_first
        assert await report.report(conn, [second]) == expected_second
        both = await report.report(conn, None)
    assert both == {k: expected_first[k] + expected_second[k] for k in expected_first}

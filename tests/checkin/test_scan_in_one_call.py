"""A scan in one database call (issue 24, migrations/022): the daily cap's rule where the lock is
held, the write that finds the state it was decided on changed and decides again, and the
refusals that still come from the database itself."""

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from domain import checkin
from domain.checkin import scans
from domain.checkin.scans import ScanContext
from domain.core import clock
from domain.core.actor import Actor
from domain.core.errors import DomainError
from tests.checkin.test_checkin_speed import T0, check_in, counting_statements, new_activity
from tests.checkin.test_lock_order import beside_a_close

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


@pytest.mark.parametrize("wanted, already, cap, awarded", [(10, 0, 200, 10), (10, 195, 200, 5), (10, 200, 200, 0),
                                                           (10, 250, 200, 0), (0, 0, 200, 0), (10, 0, 0, 0)])
async def test_the_daily_cap_rule(pool, wanted, already, cap, awarded):
    assert await pool.fetchval("select checkin_cap_left($1, $2, $3)", wanted, already, cap) == awarded


async def test_a_scan_writes_in_one_statement_without_begin_or_commit(client, world, pool, setenv):
    """The code, one read, one write: no BEGIN, no COMMIT, no lock taken by a read."""
    setenv("LINLI_SCAN_RATE_PER_MINUTE", "0")
    setenv("LINLI_SCAN_RATE_PER_IP_MINUTE", "0")
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "王磊")
    actor = Actor(volunteer.id, volunteer.name, False, frozenset())
    activity = await new_activity(client, c, points_per_hour=6, capacity=30)
    code = await pool.fetchval("select code from codes where kind = 'poster' and target_id = $1", activity["id"])
    for action, intent in (("checked_in", None), ("checked_out", "check_out")):
        async with pool.acquire() as conn:
            with counting_statements() as calls:
                result = await scans.scan(conn, actor, code, ScanContext(nonce=f"n-{action}", intent=intent,
                                                                         ip="10.0.0.1"))
        assert result.action == action
        assert len(calls) == 3, calls
        assert not any(c.split()[0].lower() in ("begin", "commit") for c in calls), calls
        clock.advance(timedelta(minutes=30))
    assert (result.points, result.minutes) == (3, 30)
    assert await world.ledger_problems() == {}


async def test_a_write_that_finds_the_state_changed_decides_again(client, world, pool):
    """The read saw the person outside; before the write, their other scan checked in. The write
    answers 'exists', nothing is written twice, and the scan answers as for the existing attendance."""
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "陈伟")
    activity = await new_activity(client, c, points=5)
    async with pool.acquire() as conn:
        stale = await checkin._load_scan(conn, activity["id"], volunteer.id, "nonce-2")
        assert stale is not None and stale.attendance is None
        assert await check_in(pool, activity["id"], volunteer.id) == "checked_in"  # the other scan
        result = await checkin._act(conn, stale, volunteer.id, kind="poster", source="self", actor_id=None,
                                    context=ScanContext(nonce="nonce-2"), holder={})
    assert result.action == "already_checked_in"
    assert await pool.fetchval("select count(*) from transfers t join attendances a on a.id = t.cause_id "
                               "where t.cause_type = 'checkin' and a.user_id = $1", volunteer.id) == 1
    # The second scan's nonce stays taken: uploaded again, it only replays.
    assert await pool.fetchval("select count(*) from scan_nonces where user_id = $1", volunteer.id) == 1


async def test_a_check_out_decided_on_a_stale_read_does_not_pay_twice(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "杨丽")
    activity = await new_activity(client, c, points_per_hour=60)
    assert await check_in(pool, activity["id"], volunteer.id) == "checked_in"
    clock.advance(timedelta(minutes=40))
    async with pool.acquire() as conn:
        stale = await checkin._load_scan(conn, activity["id"], volunteer.id)
        assert stale is not None and stale.attendance is not None and stale.attendance.state == "inside"
        assert await check_in(pool, activity["id"], volunteer.id, intent="check_out") == "checked_out"
        result = await checkin._act(conn, stale, volunteer.id, kind="poster", source="self", actor_id=None,
                                    context=ScanContext(intent="check_out"), holder={})
    assert result.action == "already_checked_out"
    minutes = await pool.fetchval(
        "select coalesce(sum(t.amount), 0) from transfers t join attendances a on a.id = t.cause_id "
        "where t.cause_type = 'checkin' and t.unit = 'minutes' and a.user_id = $1", volunteer.id)
    assert minutes == 40
    assert await world.ledger_problems() == {}


async def test_the_database_still_refuses_a_place_beyond_the_capacity(client, world, pool):
    """Even when the scan's read said a place was free (the write's trigger is the real guard)."""
    clock.freeze(T0)
    c = await world.community()
    first, second = await world.member(c, "刘芳"), await world.member(c, "周秀英")
    activity = await new_activity(client, c, capacity=1)
    async with pool.acquire() as conn:
        stale = await checkin._load_scan(conn, activity["id"], second.id)
        assert stale is not None and stale.taken == 0
        assert await check_in(pool, activity["id"], first.id) == "checked_in"
        with pytest.raises(DomainError) as refused:
            await checkin._act(conn, stale, second.id, kind="poster", source="self", actor_id=None,
                               context=ScanContext(nonce="n"), holder={})
    assert refused.value.code == "capacity_full"
    # Rolled back whole: no attendance, no nonce taken.
    assert await pool.fetchval("select count(*) from attendances where user_id = $1", second.id) == 0
    assert await pool.fetchval("select count(*) from scan_nonces where user_id = $1", second.id) == 0


async def test_the_one_call_credit_is_still_the_ledgers_own(client, world, pool):
    """The function inserts transfers; the ledger's triggers still refuse what they always refused."""
    c = await world.community()
    volunteer = await world.member(c, "赵强")
    issuing = await pool.fetchval("select id from accounts where org_id = $1 and kind = 'issuing' and unit = 'points'",
                                  c.id)
    minutes = await pool.fetchval("select id from accounts where user_id = $1 and unit = 'minutes'", volunteer.id)
    with pytest.raises(asyncpg.CheckViolationError):  # a points award into a minutes account
        await pool.execute("select checkin_award('points', $1, $2, 5, 1, 'x', null, null, now())", issuing, minutes)


async def test_a_scan_counts_both_rate_limits_in_one_unlogged_write(pool):
    """Per person, then per address, in one statement, into a table whose commit waits for no disk.
    A person already refused does not use up the address (tests/app/test_rate_limits.py)."""
    from domain.core import ratelimit
    assert await pool.fetchval("select relpersistence from pg_class where relname = 'rate_hits'") == b"u"
    person, address = f"scan:user:t{id(pool)}", f"scan:ip:t{id(pool)}"
    async with pool.acquire() as conn:
        with counting_statements() as calls:
            await ratelimit.take_both(conn, (person, 2), (address, 5), 60)
        assert len(calls) == 1
        await ratelimit.take_both(conn, (person, 2), (address, 5), 60)
        with pytest.raises(DomainError) as refused:  # the person's third in the window
            await ratelimit.take_both(conn, (person, 2), (address, 5), 60)
        assert refused.value.code == "rate_limited"
        counts = dict(await conn.fetch("select bucket, sum(hits) from rate_hits where bucket = any($1::text[]) "
                                       "group by bucket", [person, address]))
    assert counts == {person: 3, address: 2}


async def test_a_burst_of_refused_scans_does_not_wait_forever_for_connections(database_url, world, setenv):
    """A refusal is logged on the scan's own connection: more concurrent refusals than the pool has
    connections all answer (logging on a second connection while holding the first let them wait
    for each other forever)."""
    from domain.core import db
    setenv("LINLI_SCAN_RATE_PER_MINUTE", "0")
    setenv("LINLI_SCAN_RATE_PER_IP_MINUTE", "0")
    small = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        member = await world.member(await world.community())
        actor = Actor(member.id, member.name, False, frozenset())

        async def refused() -> str:
            async with small.acquire() as conn:
                try:
                    await scans.scan(conn, actor, "nosuchcode0000", ScanContext())
                except DomainError as error:
                    return error.code
            return "accepted"

        answers = await asyncio.wait_for(asyncio.gather(*(refused() for _ in range(8))), timeout=60)
        logged = await small.fetchval("select count(*) from failed_scans where user_id = $1", member.id)
    finally:
        await small.close()
    assert answers == ["code_unknown"] * 8 and logged == 8


async def test_a_check_out_scan_and_a_close_at_the_same_moment_both_go_through(client, world, pool):
    """A close locks the activity, then the attendances inside. A check-out scan locks the activity
    first too, as every scan did before its one-call write: when it locked the attendance first, its
    nonce (whose foreign key locks the activity) then waited for the close while the close waited for
    that attendance, a deadlock, and one of the two failed (a 500)."""
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "孙杰")
    manager = await world.actor(c.manager)
    activity = await new_activity(client, c, points_per_hour=60)
    assert await check_in(pool, activity["id"], volunteer.id) == "checked_in"
    clock.advance(timedelta(minutes=40))
    attendance = await pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                     activity["id"], volunteer.id)

    async def scan():
        async with pool.acquire() as conn:  # outside a transaction, as POST /api/scans
            return await checkin.record_scan(conn, activity["id"], volunteer.id, kind="poster", source="self",
                                             context=ScanContext(nonce="out-1", intent="check_out"))

    # Something holds the attendance a moment: the scan queues for it first, the close next.
    scanned, closed = await beside_a_close(pool, manager, activity["id"],
                                           "select 1 from attendances where id = $1 for update", attendance, scan)
    assert not isinstance(scanned, BaseException), repr(scanned)
    assert not isinstance(closed, BaseException), repr(closed)
    assert scanned.action == "checked_out" and closed.state == "closed"
    minutes = await pool.fetchval(
        "select coalesce(sum(t.amount), 0) from transfers t join attendances a on a.id = t.cause_id "
        "where t.cause_type = 'checkin' and t.unit = 'minutes' and a.user_id = $1", volunteer.id)
    assert minutes == 40
    assert await world.ledger_problems() == {}

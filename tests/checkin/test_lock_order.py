"""A manager's close locks the activity, then the attendances inside it. Every other writer of an
attendance that may also lock the activity (a foreign key's KEY SHARE, the `taken` counter's update)
must take the activity first, or it deadlocks with a close running at that moment: PostgreSQL kills
one of the two. Each test forces its interleaving with a gate connection holding a row a moment and
waits, by asking the server, until each side queues for a lock (sync points, not timers)."""

import asyncio
from datetime import timedelta

import pytest

from domain import checkin
from domain.core import clock, sweeper
from tests.checkin.test_checkin_speed import T0, check_in, new_activity, taken

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def _someone_waits_for(pool, pid: int) -> None:
    """Until some backend waits for a lock that backend `pid` holds (a sync point, not a timer)."""
    while not await pool.fetchval(
            "select exists (select 1 from pg_stat_activity where $1 = any(pg_blocking_pids(pid)))", pid):
        await asyncio.sleep(0.01)


async def _blocked(pool, pid: int) -> None:
    """Until backend `pid` waits for a lock (a sync point, not a timer)."""
    while not await pool.fetchval("select exists (select 1 from pg_locks where pid = $1 and not granted)", pid):
        await asyncio.sleep(0.01)


async def beside_a_close(pool, manager, activity_id: int, hold: str, held_id: int, writer) -> tuple:
    """Run `writer()` and a manager's close of the activity at the same moment, in the order that
    deadlocked: a gate connection holds a row (`hold`, with $1 = `held_id`), the writer queues behind
    it first, the close next, then the gate lets go. Returns what each answered (an exception
    included, for the caller to assert it is none)."""
    async with pool.acquire() as gate, pool.acquire() as close_conn:
        gate_pid = await gate.fetchval("select pg_backend_pid()")
        close_pid = await close_conn.fetchval("select pg_backend_pid()")
        held = gate.transaction()
        await held.start()
        await gate.execute(hold, held_id)
        writing = asyncio.create_task(writer())
        await _someone_waits_for(pool, gate_pid)
        closing = asyncio.create_task(checkin.close(close_conn, manager, activity_id))
        await _blocked(pool, close_pid)
        await held.rollback()
        return tuple(await asyncio.gather(writing, closing, return_exceptions=True))


async def test_the_window_end_sweep_and_a_close_at_the_same_moment_both_go_through(client, world, pool):
    """The sweep checks out someone still inside when the window has ended and flags it; the flag's
    foreign key locks the activity. When it locked the attendance first, a close (activity, then the
    attendances inside) waited for that attendance while the flag waited for the close: a deadlock."""
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "周敏")
    manager = await world.actor(c.manager)
    activity = await new_activity(client, c, points_per_hour=60,
                                  ends_at=(T0 + timedelta(hours=1)).isoformat())
    assert await check_in(pool, activity["id"], volunteer.id) == "checked_in"
    clock.advance(timedelta(minutes=40))
    assert await check_in(pool, activity["id"], volunteer.id) == "confirm_check_out"  # seen at 40 minutes
    clock.advance(timedelta(hours=1))  # the window has ended; the manager has not closed it yet
    attendance = await pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                     activity["id"], volunteer.id)
    failed_before = sweeper.failures["check_out_at_window_end"]
    # Something holds the person's accounts a moment: the sweep, holding what it locked before them,
    # queues for them; the close comes next.
    swept, closed = await beside_a_close(pool, manager, activity["id"],
                                         "select 1 from accounts where user_id = $1 for update", volunteer.id,
                                         lambda: checkin.check_out_at_window_end(pool, clock.now()))
    assert not isinstance(swept, BaseException), repr(swept)
    assert not isinstance(closed, BaseException), repr(closed)
    assert sweeper.failures["check_out_at_window_end"] == failed_before  # no row failed (and was skipped)
    assert closed.state == "closed"
    row = await pool.fetchrow("select state, auto_checkout, minutes from attendances where id = $1", attendance)
    assert (row["state"], row["auto_checkout"], row["minutes"]) == ("done", True, 40)
    assert await pool.fetchval("select count(*) from scan_flags where attendance_id = $1 and reason = 'auto_checkout'",
                               attendance) == 1
    assert await world.ledger_problems() == {}


async def test_an_annul_and_a_close_at_the_same_moment_both_go_through(client, world, pool):
    """Annulling someone still inside an activity with a capacity gives their place back: the `taken`
    counter's trigger updates the activity. When the annul locked the attendance first, a close
    (activity, then the attendances inside) waited for that attendance while the counter's update
    waited for the close: a deadlock."""
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "吴芳")
    manager = await world.actor(c.manager)
    activity = await new_activity(client, c, points=5, capacity=10)
    assert await check_in(pool, activity["id"], volunteer.id) == "checked_in"
    clock.advance(timedelta(minutes=10))
    attendance = await pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                     activity["id"], volunteer.id)

    async def annul() -> checkin.Attendance:
        async with pool.acquire() as conn, conn.transaction():  # as POST /api/checkins/{id}/annul
            return await checkin.annul(conn, manager, attendance, "扫错了人")

    # Something holds the attendance a moment: the annul queues for it first, the close next.
    annulled, closed = await beside_a_close(pool, manager, activity["id"],
                                            "select 1 from attendances where id = $1 for update", attendance, annul)
    assert not isinstance(annulled, BaseException), repr(annulled)
    assert not isinstance(closed, BaseException), repr(closed)
    assert annulled.state == "annulled" and closed.state == "closed"
    assert await taken(pool, activity["id"]) == (0, 0)  # the place was given back
    # Its check-in points were taken back: the person holds none (a close would have paid nothing more).
    assert await pool.fetchval("select coalesce(sum(balance), 0) from accounts where user_id = $1 and unit = 'points'",
                               volunteer.id) == 0
    assert await world.ledger_problems() == {}

"""Ledger invariants (issue 4): what the database itself refuses, the two-phase and reversal rules of
domain/ledger.py, the expiry sweep, and `linli ledger check` finding deliberate drift."""

import asyncio
import os
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from domain.core import clock
from domain import ledger
from domain.core.errors import DomainError
from tests.ledger.ledger_support import accounts_of, balance_of, corrupted, entries_sum, new_key, raw_transfer, refused

ROOT = Path(__file__).resolve().parents[2]
BALANCE_DRIFT = "running balance differs from the sum of entries"


@pytest.fixture
async def funded(world, pool):
    """A member with 100 points and 60 minutes, and the ids of every account involved."""
    community = await world.community()
    member = await world.member(community)
    await world.fund(member, community, "points", 100)
    await world.fund(member, community, "minutes", 60)
    return community, member, await accounts_of(pool, community.id, member.id)


async def in_tx(pool, fn):
    async with pool.acquire() as conn, conn.transaction():
        return await fn(conn)


@contextmanager
def refusal(code: str):
    """Expect the domain to refuse with `code`."""
    with pytest.raises(DomainError) as info:
        yield info
    assert info.value.code == code, info.value.details


async def award(pool, acc, amount, **kw):
    return await in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user,
                                                      amount=amount, kind="award", **kw))


async def hold(pool, acc, amount, **kw):
    return await in_tx(pool, lambda conn: ledger.hold(conn, unit="points", debit=acc.user, credit=acc.supermarket,
                                                      amount=amount, kind="redemption", **kw))


# ---- the database refuses -----------------------------------------------------------------------

async def test_posted_transfer_cannot_be_updated_or_deleted(pool, world, funded):
    _, _, acc = funded
    t = await award(pool, acc, 10)
    for sql in ("update transfers set amount = 1 where id = $1",
                "update transfers set memo = 'rewritten' where id = $1",
                "update transfers set reason = 'rewritten' where id = $1",
                "update transfers set credit_account = debit_account + 0 where id = $1",
                "update transfers set state = 'voided', held_amount = amount, resolved_at = created_at where id = $1",
                "delete from transfers where id = $1"):
        await refused(pool, sql, t.id)
    await refused(pool, "truncate transfers cascade", error=asyncpg.PostgresError)
    row = await pool.fetchrow("select amount, state, memo from transfers where id = $1", t.id)
    assert (row["amount"], row["state"], row["memo"]) == (10, "posted", None)
    assert await balance_of(pool, acc.user) == (110, 0)
    assert await world.ledger_problems() == {}


async def test_resolved_hold_is_as_immutable_as_a_posted_transfer(pool, funded):
    _, _, acc = funded
    h = await hold(pool, acc, 10)
    await in_tx(pool, lambda conn: ledger.void_pending(conn, h.id))
    await refused(pool, "update transfers set state = 'posted' where id = $1", h.id)
    await refused(pool, "update transfers set resolved_at = null, state = 'pending' where id = $1", h.id,
                  error=asyncpg.PostgresError)
    # resolving a hold may not rewrite what it was
    h2 = await hold(pool, acc, 10)
    await refused(pool, "update transfers set state = 'voided', resolved_at = created_at, reason = 'x' "
                        "where id = $1", h2.id)
    await refused(pool, "update transfers set state = 'posted', resolved_at = created_at, credit_account = $2 "
                        "where id = $1", h2.id, acc.issuing)
    await in_tx(pool, lambda conn: ledger.void_pending(conn, h2.id))


async def test_entries_are_append_only_and_written_only_by_the_ledger(pool, world, funded):
    _, _, acc = funded
    t = await award(pool, acc, 5)
    await refused(pool, "update entries set amount = amount * 2 where transfer_id = $1", t.id)
    await refused(pool, "update entries set balance_after = 0 where transfer_id = $1", t.id)
    await refused(pool, "delete from entries where transfer_id = $1", t.id)
    await refused(pool, "truncate entries", error=asyncpg.PostgresError)
    # an entry not written by a transfer's trigger would be money from nowhere
    await refused(pool, "insert into entries (transfer_id, account_id, amount, balance_after, created_at) "
                        "values ($1, $2, 1000, null, now())", t.id, acc.user)
    assert await pool.fetchval("select count(*) from entries where transfer_id = $1", t.id) == 2
    assert await world.ledger_problems() == {}


async def test_balances_change_only_through_transfers(pool, world, funded):
    community, _, acc = funded
    await refused(pool, "update accounts set balance = balance + 1000 where id = $1", acc.user)
    await refused(pool, "update accounts set held = held + 1 where id = $1", acc.user)
    await refused(pool, "update accounts set unit = 'minutes' where id = $1", acc.supermarket)
    # a new account must open empty: a street has no accounts, so this would be a fresh pool
    await refused(pool, "insert into accounts (unit, kind, org_id, balance) values ('minutes', 'pool', $1, 1000)",
                  community.street_id)
    assert await balance_of(pool, acc.user) == (100, 0)
    assert await world.ledger_problems() == {}


async def test_overdraft_fails_in_the_database_even_bypassing_python(pool, world, funded):
    _, _, acc = funded
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('points', $1, $2, 101, 'redemption', 'posted', now())", acc.user, acc.supermarket)
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, "
                        "state, created_at) values ('points', $1, $2, 101, 101, 'redemption', 'pending', now())",
                  acc.user, acc.supermarket)
    # the time pool may not go negative either
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('minutes', $1, $2, 1, 'service', 'posted', now())", acc.pool_minutes, acc.user_minutes)
    # a hold counts: with 60 held, only 40 are available
    await hold(pool, acc, 60)
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('points', $1, $2, 41, 'redemption', 'posted', now())", acc.user, acc.supermarket)

    # two raw spends of 30 racing for the 40 available: the database lets exactly one through
    async def spend(conn):
        return await raw_transfer(conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=30,
                                  kind="redemption")
    results = await asyncio.gather(in_tx(pool, spend), in_tx(pool, spend), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["CheckViolationError", "int"]
    assert await balance_of(pool, acc.user) == (70, 60)
    assert await world.ledger_problems() == {}


async def test_mixed_units_are_refused(pool, world, funded):
    _, _, acc = funded
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('points', $1, $2, 1, 'award', 'posted', now())", acc.issuing, acc.user_minutes)
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('minutes', $1, $2, 1, 'award', 'posted', now())", acc.issuing, acc.user)
    for unit, debit, credit in (("points", acc.issuing, acc.user_minutes), ("minutes", acc.issuing, acc.user),
                                ("minutes", acc.issuing_minutes, acc.user)):
        with refusal("validation_failed") as info:
            await in_tx(pool, lambda conn: ledger.post(conn, unit=unit, debit=debit, credit=credit, amount=1,
                                                       kind="award"))
        assert info.value.details["field"] == "unit"
    assert await balance_of(pool, acc.user) == (100, 0)
    assert await balance_of(pool, acc.user_minutes) == (60, 0)
    assert await world.ledger_problems() == {}


async def test_amount_must_be_a_positive_integer(pool, funded):
    _, _, acc = funded
    for amount in (0, -5):
        await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, "
                            "created_at) values ('points', $1, $2, $3, 'award', 'posted', now())",
                      acc.issuing, acc.user, amount)
    for amount in (0, -5, True, 1.5):
        for fn in (ledger.post, ledger.hold):
            with refusal("validation_failed") as info:
                await in_tx(pool, lambda conn: fn(conn, unit="points", debit=acc.user, credit=acc.supermarket,
                                                  amount=amount, kind="redemption"))
            assert info.value.details["field"] == "amount"
    assert await balance_of(pool, acc.user) == (100, 0)


async def test_debit_and_credit_must_differ(pool, funded):
    _, _, acc = funded
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at) "
                        "values ('points', $1, $1, 1, 'gift', 'posted', now())", acc.user)
    with refusal("validation_failed"):
        await in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.user, credit=acc.user, amount=1,
                                                   kind="gift"))


async def test_only_running_balance_accounts_can_hold(pool, funded):
    _, _, acc = funded
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, "
                        "state, created_at) values ('points', $1, $2, 5, 5, 'award', 'pending', now())",
                  acc.issuing, acc.user)
    with refusal("validation_failed"):
        await in_tx(pool, lambda conn: ledger.hold(conn, unit="points", debit=acc.issuing, credit=acc.user, amount=5,
                                                   kind="award"))


# ---- two-phase transfers ------------------------------------------------------------------------

async def test_hold_posted_for_less_releases_the_rest(pool, world, funded):
    _, member, acc = funded
    shop_before = await entries_sum(pool, acc.supermarket)
    h = await hold(pool, acc, 60)
    assert (h.state, h.amount, h.held_amount) == ("pending", 60, 60)
    assert await balance_of(pool, acc.user) == (100, 60)
    async with pool.acquire() as conn:
        assert (await ledger.balances(conn, member.id))["points"] == ledger.Balance(100, 60, 40)
        # nothing has moved yet: a hold writes no entries
        assert await conn.fetchval("select count(*) from entries where transfer_id = $1", h.id) == 0
    with refusal("validation_failed"):
        await in_tx(pool, lambda conn: ledger.post_pending(conn, h.id, 61))
    with refusal("validation_failed"):
        await in_tx(pool, lambda conn: ledger.post_pending(conn, h.id, 0))
    posted = await in_tx(pool, lambda conn: ledger.post_pending(conn, h.id, 25))
    assert (posted.state, posted.amount, posted.held_amount) == ("posted", 25, 60)
    assert await balance_of(pool, acc.user) == (75, 0)
    assert await entries_sum(pool, acc.supermarket) - shop_before == 25
    for again in (lambda conn: ledger.post_pending(conn, h.id), lambda conn: ledger.void_pending(conn, h.id)):
        with refusal("invalid_state"):
            await in_tx(pool, again)
    assert await balance_of(pool, acc.user) == (75, 0)
    assert await world.ledger_problems() == {}


async def test_hold_posted_in_full(pool, funded):
    _, _, acc = funded
    h = await hold(pool, acc, 100)
    posted = await in_tx(pool, lambda conn: ledger.post_pending(conn, h.id))
    assert posted.amount == 100 and await balance_of(pool, acc.user) == (0, 0)


async def test_void_releases_the_hold(pool, world, funded):
    _, _, acc = funded
    h = await hold(pool, acc, 30)
    assert await balance_of(pool, acc.user) == (100, 30)
    voided = await in_tx(pool, lambda conn: ledger.void_pending(conn, h.id))
    assert voided.state == "voided"
    assert await balance_of(pool, acc.user) == (100, 0)
    assert await pool.fetchval("select count(*) from entries where transfer_id = $1", h.id) == 0
    with refusal("invalid_state"):
        await in_tx(pool, lambda conn: ledger.void_pending(conn, h.id))
    with refusal("invalid_state"):
        await in_tx(pool, lambda conn: ledger.post_pending(conn, h.id))
    with refusal("not_found"):
        await in_tx(pool, lambda conn: ledger.void_pending(conn, 10**15))
    assert await world.ledger_problems() == {}


# ---- reversals ----------------------------------------------------------------------------------

async def test_a_transfer_is_reversed_at_most_once(pool, world, funded):
    community, _, acc = funded
    t = await award(pool, acc, 40, memo="敬老院陪护")
    r = await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="记错了活动"))
    assert (r.kind, r.reverses, r.debit_account, r.credit_account, r.amount, r.reason, r.actor_id) == (
        "reversal", t.id, acc.user, acc.issuing, 40, "记错了活动", community.manager.id)
    assert r.memo == "敬老院陪护" and (r.cause_type, r.cause_id) == ("reversal", t.id)
    assert await balance_of(pool, acc.user) == (100, 0)
    with refusal("invalid_state"):
        await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="again"))
    # the database refuses a second reversal even when Python is bypassed
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, reverses, "
                        "created_at) values ('points', $1, $2, 40, 'reversal', 'posted', $3, now())",
                  acc.user, acc.issuing, t.id, error=asyncpg.UniqueViolationError)
    assert await balance_of(pool, acc.user) == (100, 0)
    assert await world.ledger_problems() == {}


async def test_a_reversal_cannot_be_reversed(pool, world, funded):
    community, _, acc = funded
    t = await award(pool, acc, 40)
    r = await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="错"))
    with refusal("invalid_state"):
        await in_tx(pool, lambda conn: ledger.reverse(conn, r.id, actor_id=community.manager.id, reason="撤销撤销"))
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, reverses, "
                        "created_at) values ('points', $1, $2, 40, 'reversal', 'posted', $3, now())",
                  acc.issuing, acc.user, r.id)
    assert await balance_of(pool, acc.user) == (100, 0)


async def test_the_database_refuses_a_reversal_that_does_not_mirror_its_original(pool, funded):
    _, _, acc = funded
    t = await award(pool, acc, 40)
    for debit, credit, amount in ((acc.user, acc.issuing, 39), (acc.user, acc.supermarket, 40),
                                  (acc.issuing, acc.user, 40)):
        await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, "
                            "reverses, created_at) values ('points', $1, $2, $3, 'reversal', 'posted', $4, now())",
                      debit, credit, amount, t.id)
    h = await hold(pool, acc, 5)
    await refused(pool, "insert into transfers (unit, debit_account, credit_account, amount, kind, state, "
                        "reverses, created_at) values ('points', $1, $2, 5, 'reversal', 'posted', $3, now())",
                  acc.supermarket, acc.user, h.id)


async def test_reversal_rules(pool, funded):
    community, _, acc = funded
    h = await hold(pool, acc, 5)
    with refusal("invalid_state"):  # a hold is voided, not reversed
        await in_tx(pool, lambda conn: ledger.reverse(conn, h.id, actor_id=None, reason="x"))
    t = await award(pool, acc, 5)
    with refusal("validation_failed"):
        await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=None, reason="  "))
    with refusal("not_found"):
        await in_tx(pool, lambda conn: ledger.reverse(conn, 10**15, actor_id=None, reason="x"))
    # the member spent the award (105 minus the 5 held): reversing it would overdraw them
    await in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.user, credit=acc.supermarket,
                                               amount=100, kind="redemption"))
    with refusal("insufficient_balance"):
        await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="x"))


async def test_reverse_with_a_key_is_replayed(pool, funded):
    community, _, acc = funded
    t = await award(pool, acc, 40)
    key = new_key("reverse")
    first = await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="错",
                                                          key=key))
    again = await in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="错",
                                                          key=key))
    assert again == first
    assert await balance_of(pool, acc.user) == (100, 0)


async def test_concurrent_reversals_of_one_transfer(pool, world, funded):
    community, _, acc = funded
    await in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.user, credit=acc.supermarket,
                                               amount=100, kind="redemption"))
    for _ in range(5):
        t = await award(pool, acc, 100)  # the member can afford exactly one reversal of it
        results = await asyncio.gather(*[
            in_tx(pool, lambda conn: ledger.reverse(conn, t.id, actor_id=community.manager.id, reason="重复"))
            for _ in range(4)], return_exceptions=True)
        done = [r for r in results if isinstance(r, ledger.Transfer)]
        failed = [r for r in results if not isinstance(r, ledger.Transfer)]
        assert len(done) == 1
        assert [getattr(e, "code", repr(e)) for e in failed] == ["invalid_state"] * 3
        assert await balance_of(pool, acc.user) == (0, 0)
    assert await world.ledger_problems() == {}


# ---- expiry ---------------------------------------------------------------------------------------

async def due_holds(pool, now) -> int:
    """Holds anywhere in the database an expiry sweep at `now` must expire."""
    return await pool.fetchval("select count(*) from transfers where state = 'pending' and expires_at <= $1", now)


async def test_expiry_voids_only_expired_holds(pool, world, funded):
    _, _, acc = funded
    now = clock.now()
    clock.freeze(now)
    overdue = [await hold(pool, acc, 5, expires_at=now - timedelta(minutes=m)) for m in (1, 30, 600)]
    due = await hold(pool, acc, 7, expires_at=now)
    later = await hold(pool, acc, 11, expires_at=now + timedelta(hours=1))
    open_ended = await hold(pool, acc, 13)
    assert await balance_of(pool, acc.user) == (100, 46)

    # The sweep is global (the test database is shared): it expires exactly what is due anywhere, ours included.
    waiting = await due_holds(pool, now)
    assert await ledger.expire_holds(pool, now) == waiting
    states = dict(await pool.fetch("select id, state from transfers where id = any($1::bigint[])",
                                   [h.id for h in (*overdue, due, later, open_ended)]))
    assert [states[h.id] for h in (*overdue, due)] == ["expired"] * 4
    assert states[later.id] == states[open_ended.id] == "pending"
    assert await balance_of(pool, acc.user) == (100, 24)

    await ledger.expire_holds(pool, now)  # a second sweep finds nothing of ours to do
    assert await balance_of(pool, acc.user) == (100, 24)

    clock.advance(timedelta(hours=2))
    await ledger.expire_holds(pool, clock.now())
    assert await pool.fetchval("select state from transfers where id = $1", later.id) == "expired"
    assert await pool.fetchval("select state from transfers where id = $1", open_ended.id) == "pending"
    assert await balance_of(pool, acc.user) == (100, 13)
    assert await world.ledger_problems() == {}


async def test_two_sweepers_at_once_expire_each_hold_once(pool, world, funded):
    _, _, acc = funded
    now = clock.now()
    clock.freeze(now)
    holds = [await hold(pool, acc, 1, expires_at=now - timedelta(seconds=1)) for _ in range(40)]
    due = await due_holds(pool, now)
    done = await asyncio.gather(ledger.expire_holds(pool, now, batch=7), ledger.expire_holds(pool, now, batch=7))
    assert sum(done) == due  # each due hold expired by exactly one of the two
    rows = await pool.fetch("select state, resolved_at from transfers where id = any($1::bigint[])",
                            [h.id for h in holds])
    assert {(r["state"], r["resolved_at"]) for r in rows} == {("expired", now)}
    assert await balance_of(pool, acc.user) == (100, 0)
    assert await world.ledger_problems() == {}


async def test_sweeper_expires_a_backlog_larger_than_one_batch(pool, funded):
    _, _, acc = funded
    now = clock.now()
    clock.freeze(now)
    holds = [await hold(pool, acc, 1, expires_at=now - timedelta(seconds=1)) for _ in range(12)]
    due = await due_holds(pool, now)
    assert due >= 12  # ours, and any left due by other tests of the shared database
    assert await ledger.expire_holds(pool, now, batch=5) == due
    assert await balance_of(pool, acc.user) == (100, 0)
    assert {r["state"] for r in await pool.fetch("select state from transfers where id = any($1::bigint[])",
                                                 [h.id for h in holds])} == {"expired"}


# ---- ledger check ---------------------------------------------------------------------------------

async def test_ledger_check_finds_deliberate_drift(pool, world, funded):
    _, _, acc = funded
    assert await world.ledger_problems() == {}

    async with corrupted(pool, "accounts", "update accounts set balance = balance + 7 where id = $1",
                         "update accounts set balance = balance - 7 where id = $1", acc.user):
        problems = await world.ledger_problems()
        assert [r["id"] for r in problems[BALANCE_DRIFT]] == [acc.user]
        assert "sum of all accounts per unit is not zero" in problems
    assert await world.ledger_problems() == {}

    async with corrupted(pool, "accounts", "update accounts set held = held + 3 where id = $1",
                         "update accounts set held = held - 3 where id = $1", acc.user):
        problems = await world.ledger_problems()
        assert [r["id"] for r in problems["held differs from the sum of pending holds"]] == [acc.user]
    assert await world.ledger_problems() == {}

    t = await award(pool, acc, 3)
    async with corrupted(pool, "entries",
                         "insert into entries (transfer_id, account_id, amount, balance_after, created_at) "
                         "values ($1, $2, 5, null, 'epoch')",
                         "delete from entries where transfer_id = $1 and account_id = $2 and created_at = 'epoch'",
                         t.id, acc.user):
        problems = await world.ledger_problems()
        assert [r["id"] for r in problems["posted transfer without exactly one debit and one credit entry"]] == [t.id]
        assert BALANCE_DRIFT in problems and "entries of a unit do not sum to zero" in problems
    assert await world.ledger_problems() == {}

    async with corrupted(pool, "entries", "update entries set balance_after = balance_after + 1 "
                                          "where transfer_id = $1 and account_id = $2",
                         "update entries set balance_after = balance_after - 1 "
                         "where transfer_id = $1 and account_id = $2", t.id, acc.user):
        problems = await world.ledger_problems()
        assert list(problems) == ["balance after a posting differs from the running sum"]
    assert await world.ledger_problems() == {}


async def _cli_ledger_check(database_url: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linli", "ledger", "check", cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode()


async def test_cli_ledger_check(pool, database_url, funded):
    _, _, acc = funded
    code, out = await _cli_ledger_check(database_url)
    assert code == 0, out
    assert "clean" in out
    async with corrupted(pool, "accounts", "update accounts set balance = balance + 7 where id = $1",
                         "update accounts set balance = balance - 7 where id = $1", acc.user):
        code, out = await _cli_ledger_check(database_url)
        assert code != 0
        assert BALANCE_DRIFT in out and "clean" not in out
    code, out = await _cli_ledger_check(database_url)
    assert code == 0 and "clean" in out, out

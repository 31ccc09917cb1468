"""The ledger's guards after the hot path lost its foreign keys and its entries trigger (issue 24,
migrations/024): each invariant they kept is still refused or kept by the database, and the ledger
check still finds a row naming nothing."""

import asyncpg
import pytest

from domain import ledger
from domain.ledger import check as ledger_check
from tests.ledger.ledger_support import accounts_of, corrupted, raw_transfer, refused

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

MISSING = "transfer or entry names a missing account or transfer"


@pytest.fixture
async def member_accounts(world, pool):
    community = await world.community()
    member = await world.member(community)
    return community, member, await accounts_of(pool, community.id, member.id)


async def test_a_transfer_naming_a_missing_account_is_refused(pool, member_accounts):
    _, _, acc = member_accounts
    missing = await pool.fetchval("select max(id) + 1000 from accounts")
    for debit, credit in ((acc.issuing, missing), (missing, acc.user)):
        async with pool.acquire() as conn:
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await raw_transfer(conn, unit="points", debit=debit, credit=credit, amount=5, kind="award")
    assert await pool.fetchval("select count(*) from transfers where debit_account = $1 or credit_account = $1",
                               missing) == 0


async def test_accounts_are_never_deleted(pool, member_accounts):
    _, _, acc = member_accounts
    async with pool.acquire() as conn, conn.transaction():
        await ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user, amount=7, kind="award")
    for account in (acc.user, acc.issuing, acc.pool_minutes):
        await refused(pool, "delete from accounts where id = $1", account)
    await refused(pool, "truncate accounts cascade", error=asyncpg.PostgresError)


async def test_earning_is_summed_by_the_posting_itself(pool, member_accounts):
    """Award, adjustment and their reversal count on the day of what they earned; a redemption does not."""
    community, member, acc = member_accounts

    async def earned() -> int:
        return await pool.fetchval("select coalesce(sum(earned), 0) from earned_daily where user_id = $1 "
                                   "and community_id = $2 and unit = 'points'", member.id, community.id)

    async with pool.acquire() as conn, conn.transaction():
        award = await ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user, amount=30, kind="award")
        await ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user, amount=12, kind="adjustment",
                          reason="补记")
        await ledger.post(conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=10, kind="redemption")
    assert await earned() == 42
    async with pool.acquire() as conn, conn.transaction():
        await ledger.reverse(conn, award.id, actor_id=None, reason="扫错了")
    assert await earned() == 12
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:
            kept = await conn.fetch("select * from earned_daily where user_id = $1 order by 1, 2, 3, 4", member.id)
            await conn.execute("select earned_rebuild()")
            rebuilt = await conn.fetch("select * from earned_daily where user_id = $1 order by 1, 2, 3, 4", member.id)
        finally:
            await tr.rollback()
    assert [tuple(r) for r in kept] == [tuple(r) for r in rebuilt]


async def test_the_ledger_check_finds_an_entry_naming_nothing(pool, member_accounts):
    _, _, acc = member_accounts
    async with pool.acquire() as conn, conn.transaction():
        t = await ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user, amount=3, kind="award")
    async with pool.acquire() as conn:
        assert MISSING not in await ledger_check.check(conn)
    # Point one entry at another account: only possible with the guards switched off.
    async with corrupted(pool, "entries",
                         "update entries set account_id = $2 where transfer_id = $1 and account_id = $3",
                         "update entries set account_id = $3 where transfer_id = $1 and account_id = $2",
                         t.id, acc.supermarket, acc.issuing):
        async with pool.acquire() as conn:
            assert MISSING in await ledger_check.check(conn)


async def test_a_writer_that_skips_the_python_check_still_cannot_pay_its_actor(pool, member_accounts):
    """The scans' one-call write inserts transfers without domain/ledger: the trigger refuses an
    award whose actor is the person credited, as domain/ledger refuses it for its own writes."""
    _, member, acc = member_accounts
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await pool.execute("select checkin_award('points', $1, $2, 5, 1, 'x', $3, null, now())",
                           acc.issuing, acc.user, member.id)
    assert refused.value.constraint_name == "self_payment"
    async with pool.acquire() as conn:  # without an actor it goes through (rolled back: no attendance 1 here)
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.execute("select checkin_award('points', $1, $2, 5, 1, 'x', null, null, now())",
                               acc.issuing, acc.user)
            assert await conn.fetchval("select balance from accounts where id = $1", acc.user) == 5
        finally:
            await tr.rollback()

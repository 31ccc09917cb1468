"""Helpers shared by the ledger tests: account ids, raw SQL that bypasses domain/ledger.py, and
deliberate corruption that is always repaired (the test database is shared by the whole session)."""

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from domain.core import clock
from domain import ledger


@dataclass
class Accounts:
    issuing: int         # community issuing account, points
    supermarket: int     # community supermarket account, points
    user: int            # the member's points account
    issuing_minutes: int
    pool_minutes: int
    user_minutes: int


async def accounts_of(pool: asyncpg.Pool, community_id: int, user_id: int) -> Accounts:
    async with pool.acquire() as conn:
        return Accounts(
            issuing=await ledger.org_account(conn, community_id, "issuing", "points"),
            supermarket=await ledger.org_account(conn, community_id, "supermarket", "points"),
            user=await ledger.user_account(conn, user_id, "points", community_id),
            issuing_minutes=await ledger.org_account(conn, community_id, "issuing", "minutes"),
            pool_minutes=await ledger.org_account(conn, community_id, "pool", "minutes"),
            user_minutes=await ledger.user_account(conn, user_id, "minutes", community_id))


async def balance_of(pool: asyncpg.Pool, account_id: int) -> tuple[int, int]:
    """(balance, held) of a running-balance account."""
    row = await pool.fetchrow("select balance, held from accounts where id = $1", account_id)
    return row["balance"], row["held"]


async def entries_sum(pool: asyncpg.Pool, account_id: int) -> int:
    return await pool.fetchval("select coalesce(sum(amount), 0) from entries where account_id = $1", account_id)


def new_key(prefix: str = "test") -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


async def raw_transfer(conn: asyncpg.Connection, *, unit: str, debit: int, credit: int, amount: int,
                       state: str = "posted", kind: str = "adjustment", reverses: int | None = None) -> int:
    """Insert a transfer straight into the table, bypassing every Python check."""
    return await conn.fetchval(
        """insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, state,
                                  reverses, created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id""",
        unit, debit, credit, amount, amount if state == "pending" else None, kind, state, reverses, clock.now())


async def _without_triggers(pool: asyncpg.Pool, table: str, sql: str, *args) -> None:
    # ALTER TABLE is transactional: nobody else ever sees the triggers disabled.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"alter table {table} disable trigger user")
        await conn.execute(sql, *args)
        await conn.execute(f"alter table {table} enable trigger user")


@asynccontextmanager
async def corrupted(pool: asyncpg.Pool, table: str, corrupt: str, repair: str, *args):
    """Commit a corruption the guards would refuse, and always undo it afterwards."""
    await _without_triggers(pool, table, corrupt, *args)
    try:
        yield
    finally:
        await _without_triggers(pool, table, repair, *args)


async def refused(pool: asyncpg.Pool, sql: str, *args, error: type[Exception] = asyncpg.IntegrityConstraintViolationError
                  ) -> Exception:
    """Assert the database refuses `sql`; it runs in a transaction that is always rolled back, so a
    guard that fails to refuse cannot leave its damage behind for the rest of the session."""
    import pytest
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:
            with pytest.raises(error) as info:
                await conn.execute(sql, *args)
        finally:
            await tr.rollback()
    return info.value

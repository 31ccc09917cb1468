"""Fixed-window rate limits stored in PostgreSQL, so every API process shares the same counters."""

from datetime import datetime, timedelta

import asyncpg

from domain.core import clock, queries
from domain.core.errors import DomainError

Q = queries.load("core")


def _window(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


async def hits(conn: asyncpg.Connection, bucket: str, seconds: int) -> int:
    return await conn.fetchval("select coalesce(sum(hits), 0) from rate_hits where bucket = $1 and window_start = $2",
                               bucket, _window(clock.now(), seconds))


async def count(conn: asyncpg.Connection, bucket: str, seconds: int) -> int:
    """Record one hit in the current window and return the window's total."""
    return await conn.fetchval(
        """Insert into rate_hits (bucket, window_start, hits) values ($1, $2, 1)
           on conflict (bucket, window_start) do update set hits = rate_hits.hits + 1
           returning hits""", bucket, _window(clock.now(), seconds))


async def require_below(conn: asyncpg.Connection, bucket: str, limit: int, seconds: int) -> None:
    if await hits(conn, bucket, seconds) >= limit:
        raise DomainError("rate_limited", details={"retry_after": seconds})


async def take(conn: asyncpg.Connection, bucket: str, limit: int, seconds: int) -> None:
    """Count this request and refuse it when the window already holds `limit`."""
    if await count(conn, bucket, seconds) > limit:
        raise DomainError("rate_limited", details={"retry_after": seconds})


async def take_both(conn: asyncpg.Connection, first: tuple[str, int], second: tuple[str, int], seconds: int) -> None:
    """`take` of `first`, then, only if it is within its limit, of `second`, in one statement (a scan
    counts per person, then per address: a person already refused does not use up the address)."""
    (first_bucket, first_limit), (second_bucket, second_limit) = first, second
    row = await conn.fetchrow(
        Q.take_both,
        first_bucket, second_bucket, _window(clock.now(), seconds), first_limit)
    if row["first"] > first_limit or row["second"] > second_limit:
        raise DomainError("rate_limited", details={"retry_after": seconds})


async def give_back(conn: asyncpg.Connection, bucket: str, seconds: int) -> None:
    """Undo one `take` of the current window (a try that turned out not to count, e.g. a good login)."""
    await conn.execute("update rate_hits set hits = hits - 1 where bucket = $1 and window_start = $2 and hits > 0",
                       bucket, _window(clock.now(), seconds))


async def purge(conn: asyncpg.Connection, older_than: timedelta = timedelta(days=1)) -> None:
    await conn.execute("delete from rate_hits where window_start < $1", clock.now() - older_than)

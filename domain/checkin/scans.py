"""One resolver for every QR code. A scan finds the code, then hands it to the capability that
owns its kind (check-in for posters and rotating codes, the supermarket for vouchers, ...).

Capabilities register with `@acts_on("voucher")` and `@previews("voucher")`. Refused scans are
stored with their reason, in their own transaction, after the refused one rolled back.

Scans are throttled per person and per client address (counters in PostgreSQL, shared by every
API process): LINLI_SCAN_RATE_PER_MINUTE (default 60 per person) and LINLI_SCAN_RATE_PER_IP_MINUTE
(default 600 per address: a venue's wifi puts many phones behind one); 0 turns a limit off.
Previews count per address. A load test scanning from one machine turns both off (bench/server.py).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from domain.core import clock, metrics, ratelimit, settings
from domain.checkin import codes
from domain.checkin.codes import Code
from domain.core.errors import DomainError
from domain.people.orgs import Actor

LOGGED_REASONS = frozenset({
    "code_unknown", "code_expired", "code_revoked", "outside_window", "capacity_full", "not_published",
    "not_member", "too_far", "daily_cap_reached", "invalid_state", "already_used", "forbidden",
    "validation_failed", "insufficient_balance", "out_of_stock", "limit_reached", "rate_limited"})


class ScanContext(msgspec.Struct, frozen=True):
    nonce: str | None = None
    lat: float | None = None
    lng: float | None = None


class ScanResult(msgspec.Struct, kw_only=True):
    action: str                      # checked_in | checked_out | already_checked_in | fulfilled | ...
    kind: str                        # the code's kind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: dict[str, Any] = {}


class Preview(msgspec.Struct, kw_only=True):
    kind: str
    target_id: int
    title: str | None = None
    details: dict[str, Any] = {}


Act = Callable[[asyncpg.Connection, Actor, Code, ScanContext], Awaitable[ScanResult]]
Look = Callable[[asyncpg.Connection, Actor | None, Code], Awaitable[Preview]]
ACTIONS: dict[str, Act] = {}
PREVIEWS: dict[str, Look] = {}


def acts_on(*kinds: str):
    def register(fn: Act) -> Act:
        for kind in kinds:
            ACTIONS[kind] = fn
        return fn
    return register


def previews(*kinds: str):
    def register(fn: Look) -> Look:
        for kind in kinds:
            PREVIEWS[kind] = fn
        return fn
    return register


async def log_refusal(pool: asyncpg.Pool, *, code: str, found: Code | None, user_id: int | None,
                      error: DomainError, activity_id: int | None = None) -> None:
    if error.code not in LOGGED_REASONS:
        return
    if activity_id is None and found is not None and found.kind in ("poster", "rotating"):
        activity_id = found.target_id
    await pool.execute(
        "insert into failed_scans (code, code_kind, target_id, activity_id, user_id, reason, details, created_at) "
        "values ($1, $2, $3, $4, $5, $6, $7, $8)", code[:64], found.kind if found else None,
        found.target_id if found else None, activity_id, user_id, error.code, error.details, clock.now())


def scan_limits() -> tuple[int, int]:
    """(per person, per address) scans a minute, from the settings."""
    config = settings.get()
    return config.scan_rate_per_minute, config.scan_rate_per_ip_minute


async def throttle(pool: asyncpg.Pool, user_id: int | None, ip: str | None) -> None:
    """Count this scan (outside any transaction, so refused scans count too) and refuse it with
    429 rate_limited beyond the limits. Not logged as a failed scan: a flood must not write twice."""
    per_user, per_ip = scan_limits()
    if not ((per_user and user_id is not None) or (per_ip and ip)):
        return
    async with pool.acquire() as conn:
        if per_user and user_id is not None:
            await ratelimit.take(conn, f"scan:user:{user_id}", per_user, 60)
        if per_ip and ip:
            await ratelimit.take(conn, f"scan:ip:{ip}", per_ip, 60)


async def scan(pool: asyncpg.Pool, actor: Actor, code: str, context: ScanContext, *,
               ip: str | None = None) -> ScanResult:
    try:
        await throttle(pool, actor.id, ip)
    except DomainError as error:
        metrics.scan("refused", error.code)
        raise
    found: Code | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            found = await codes.find(conn, code)
            if found is None:
                raise DomainError("code_unknown")
            act = ACTIONS.get(found.kind)
            if act is None:
                raise DomainError("invalid_state", details={"problem": f"a {found.kind} code is not scanned here"})
            result = await act(conn, actor, found, context)
    except DomainError as error:
        await log_refusal(pool, code=code, found=found, user_id=actor.id, error=error)
        metrics.scan("refused", error.code)
        raise
    metrics.scan(result.action)  # committed
    return result


async def preview(pool: asyncpg.Pool, actor: Actor | None, code: str, *, ip: str | None = None) -> Preview:
    await throttle(pool, None, ip)
    async with pool.acquire() as conn:
        found = await codes.find(conn, code)
        if found is None:
            raise DomainError("code_unknown")
        look = PREVIEWS.get(found.kind)
        if look is None:
            return Preview(kind=found.kind, target_id=found.target_id)
        return await look(conn, actor, found)

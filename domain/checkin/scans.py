"""One resolver for every QR code. A scan finds the code, then hands it to the capability that
owns its kind (check-in for posters and rotating codes, the supermarket for vouchers, ...).

Each capability exports its handlers (e.g. `supermarket.SCAN_ACTS = {"voucher": ...}`) and
api/capabilities.py installs them all (`install`). A handler gets a connection outside any
transaction and opens what it needs: a check-in writes in one statement, its own transaction
(one round trip, no lock held between calls). Refused scans are stored with their reason, in their
own transaction, after the refused one rolled back.

Scans are throttled per person and per client address (counters in PostgreSQL, shared by every
API process): LINLI_SCAN_RATE_PER_MINUTE (default 60 per person) and LINLI_SCAN_RATE_PER_IP_MINUTE
(default 600 per address: a venue's wifi puts many phones behind one); 0 turns a limit off.
Previews count per address. The counters are one statement per scan into an unlogged table
(migrations/022): counting waits for no disk.
"""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from domain.core import clock, codes, metrics, ratelimit, settings
from domain.core.actor import Actor
from domain.core.codes import Code
from domain.core.errors import DomainError

LOGGED_REASONS = frozenset({
    "code_unknown", "code_expired", "code_revoked", "outside_window", "capacity_full", "not_published",
    "not_member", "too_far", "daily_cap_reached", "invalid_state", "already_used", "forbidden",
    "validation_failed", "insufficient_balance", "out_of_stock", "limit_reached", "rate_limited",
    "poster_not_accepted", "location_required", "late_scan_expired",
    "requirement_unmet"})


class ScanContext(msgspec.Struct, frozen=True):
    nonce: str | None = None
    lat: float | None = None
    lng: float | None = None
    # (domain/checkin/offline.py, fraud.py) the device's scan time of a queued scan, an
    # explicit "check_out" (the confirmed second scan), the page's device id and the client address
    scanned_at: datetime | None = None
    intent: str | None = None
    device: str | None = None
    ip: str | None = None
    # the rotating code was no longer alive when the scan reached the server (set by the
    # scan of the code, never by a client): its credit is held for review
    code_stale: bool = False


# ---- what a scan did: one frozen type per outcome, tagged by `action` -------------------------
# Built once by the capability that acted and never changed after. The JSON is the same as
# before the types existed: {"action", "kind", "target_id", "title", "points", "minutes",
# "details"}; optional detail keys (a capped award, the card holder at a station) are left out
# when they do not apply.

ActivityCodeKind = Literal["poster", "rotating", "member"]  # codes that check in or out


class CheckInDetails(msgspec.Struct, frozen=True, kw_only=True):
    attendance_id: int
    checked_in_at: str
    ends_at: str
    capped: bool | UnsetType = UNSET           # the daily points cap cut the award ...
    daily_cap: int | UnsetType = UNSET         # ... to stay under this cap
    points_wanted: int | UnsetType = UNSET
    late: bool | UnsetType = UNSET             # a queued (offline) scan, at the device's time ...
    received_at: str | UnsetType = UNSET       # ... that reached the server then
    flagged: list[str] | UnsetType = UNSET     # fraud signals raised by this check-in (domain/checkin/fraud.py)
    held: list[str] | UnsetType = UNSET        # its points wait for a manager's review, and why
    held_id: int | UnsetType = UNSET           # a manager's own scan; its credit waits for another manager
    user_id: int | UnsetType = UNSET           # a station scan: whose card it was
    user_name: str | UnsetType = UNSET


class CheckOutDetails(msgspec.Struct, frozen=True, kw_only=True):
    attendance_id: int
    checked_in_at: str
    checked_out_at: str
    capped: bool | UnsetType = UNSET
    daily_cap: int | UnsetType = UNSET
    points_wanted: int | UnsetType = UNSET
    late: bool | UnsetType = UNSET                 # a queued scan that arrived after ...
    after_auto_checkout: bool | UnsetType = UNSET  # ... the automatic check-out
    held: list[str] | UnsetType = UNSET            # the time it claims waits for review, and why
    held_id: int | UnsetType = UNSET               # a manager's own scan; its credit waits
    user_id: int | UnsetType = UNSET
    user_name: str | UnsetType = UNSET


class AttendanceDetails(msgspec.Struct, frozen=True, kw_only=True):
    """A scan that changed nothing: the attendance as it stands."""
    attendance_id: int
    checked_in_at: str
    checked_out_at: str | None
    total_points: int
    total_minutes: int
    user_id: int | UnsetType = UNSET
    user_name: str | UnsetType = UNSET


class ConfirmCheckOutDetails(msgspec.Struct, frozen=True, kw_only=True):
    """A second scan while inside that did not check out: the page asks the person to
    confirm, showing the minutes served so far; the confirmed scan comes back with intent check_out."""
    attendance_id: int
    checked_in_at: str
    served_minutes: int
    at: str
    user_id: int | UnsetType = UNSET
    user_name: str | UnsetType = UNSET


class VoucherDetails(msgspec.Struct, frozen=True, kw_only=True):
    redemption_id: int
    state: Literal["fulfilled"]
    reward_id: int
    reward_name: str
    quantity: int
    points: int
    community_name: str
    expires_at: str | None
    fulfilled_at: str | None
    member_name: str


class _Scanned(msgspec.Struct, frozen=True, kw_only=True, tag_field="action"):
    """The outcomes' common base: only the tag. Each outcome spells its fields out, in the
    order of the JSON."""

    @property
    def action(self) -> str:
        """The outcome's tag, as the JSON's "action" says it."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]


class CheckedIn(_Scanned, frozen=True, kw_only=True, tag="checked_in"):
    kind: ActivityCodeKind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: CheckInDetails


class CheckedOut(_Scanned, frozen=True, kw_only=True, tag="checked_out"):
    kind: ActivityCodeKind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: CheckOutDetails


class AlreadyCheckedIn(_Scanned, frozen=True, kw_only=True, tag="already_checked_in"):
    kind: ActivityCodeKind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: AttendanceDetails


class AlreadyCheckedOut(_Scanned, frozen=True, kw_only=True, tag="already_checked_out"):
    kind: ActivityCodeKind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: AttendanceDetails


class ConfirmCheckOut(_Scanned, frozen=True, kw_only=True, tag="confirm_check_out"):
    kind: ActivityCodeKind
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: ConfirmCheckOutDetails


class Fulfilled(_Scanned, frozen=True, kw_only=True, tag="fulfilled"):
    kind: Literal["voucher"]
    target_id: int
    title: str | None = None
    points: int = 0
    minutes: int = 0
    details: VoucherDetails


ScanResult = CheckedIn | CheckedOut | AlreadyCheckedIn | AlreadyCheckedOut | ConfirmCheckOut | Fulfilled


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    target_id: int
    title: str | None = None
    details: dict[str, Any] = {}


Act = Callable[[asyncpg.Connection, Actor, Code, ScanContext], Awaitable[ScanResult]]
Look = Callable[[asyncpg.Connection, Actor | None, Code], Awaitable[Preview]]

# kind -> what a scan does / what a preview shows. Filled once, from the list of capabilities
# (api/capabilities.py), by `install`: no capability registers itself on import.
ACTIONS: dict[str, Act] = {}
PREVIEWS: dict[str, Look] = {}


def install(actions: Mapping[str, Act], previews: Mapping[str, Look]) -> None:
    ACTIONS.clear()
    ACTIONS.update(actions)
    PREVIEWS.clear()
    PREVIEWS.update(previews)


async def log_refusal(conn: asyncpg.Pool | asyncpg.Connection, *, code: str, found: Code | None, user_id: int | None,
                      error: DomainError, activity_id: int | None = None) -> None:
    if error.code not in LOGGED_REASONS:
        return
    if activity_id is None and found is not None and found.kind in ("poster", "rotating"):
        activity_id = found.target_id
    await conn.execute(
        "insert into failed_scans (code, code_kind, target_id, activity_id, user_id, reason, details, created_at) "
        "values ($1, $2, $3, $4, $5, $6, $7, $8)", code[:64], found.kind if found else None,
        found.target_id if found else None, activity_id, user_id, error.code, error.details, clock.now())


def scan_limits() -> tuple[int, int]:
    """(per person, per address) scans a minute, from the settings."""
    config = settings.get()
    return config.scan_rate_per_minute, config.scan_rate_per_ip_minute


async def throttle(conn: asyncpg.Connection, user_id: int | None, ip: str | None) -> None:
    """Count this scan (outside any transaction, so refused scans count too; both limits in one
    statement) and refuse it with 429 rate_limited beyond them. Not logged as a failed scan: a flood
    must not write twice."""
    per_user, per_ip = scan_limits()
    user = (f"scan:user:{user_id}", per_user) if per_user and user_id is not None else None
    address = (f"scan:ip:{ip}", per_ip) if per_ip and ip else None
    if user and address:
        await ratelimit.take_both(conn, user, address, 60)
    elif user:
        await ratelimit.take(conn, *user, 60)
    elif address:
        await ratelimit.take(conn, *address, 60)


async def _resolve(conn: asyncpg.Connection, actor: Actor, code: str, context: ScanContext
                   ) -> tuple[Code | None, ScanResult | DomainError]:
    """The code found, and what its capability did with it or the refusal."""
    found = await codes.find(conn, code)
    try:
        if found is None:
            raise DomainError("code_unknown")
        act = ACTIONS.get(found.kind)
        if act is None:
            raise DomainError("invalid_state", details={"problem": f"a {found.kind} code is not scanned here"})
        return found, await act(conn, actor, found, context)
    except DomainError as error:
        return found, error


async def scan(conn: asyncpg.Connection | asyncpg.Pool, actor: Actor, code: str, context: ScanContext, *,
               ip: str | None = None) -> ScanResult:
    """Act on a scanned code, all on one connection (`conn`, or one taken from the pool for it),
    outside any transaction: each capability opens what it needs, a check-in writes in one
    statement. A refusal is logged on the same connection once the refused work has rolled back."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as taken:
            return await scan(taken, actor, code, context, ip=ip)
    try:
        await throttle(conn, actor.id, ip)
    except DomainError as error:
        metrics.scan("refused", error.code)
        raise
    found, outcome = await _resolve(conn, actor, code, context)
    if isinstance(outcome, DomainError):
        await log_refusal(conn, code=code, found=found, user_id=actor.id, error=outcome)
        metrics.scan("refused", outcome.code)
        raise outcome
    metrics.scan(outcome.action)  # committed
    return outcome


async def preview(pool: asyncpg.Pool, actor: Actor | None, code: str, *, ip: str | None = None) -> Preview:
    async with pool.acquire() as conn:
        await throttle(conn, None, ip)
        found = await codes.find(conn, code)
        if found is None:
            raise DomainError("code_unknown")
        look = PREVIEWS.get(found.kind)
        if look is None:
            return Preview(kind=found.kind, target_id=found.target_id)
        return await look(conn, actor, found)

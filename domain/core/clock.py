"""The one clock: 'now' for every rule (tests freeze and move it), and the one reading of local
time: the day, week, month and quarter an instant falls in, in the deployment's zone (LINLI_TZ, the
only source of the zone; the database keeps a copy for its own SQL, written at start, see
`write_zone`).

SQL never calls now() for a rule decision; it receives the time from here as a parameter.
"""

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from domain.core import settings
from domain.core.errors import DomainError

_frozen: datetime | None = None


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return settings.get().clock_at or datetime.now(timezone.utc)


def zone() -> ZoneInfo:
    """The deployment's time zone (LINLI_TZ): where every day, month and quarter of a rule begins."""
    return settings.get().tz


def freeze(at: datetime) -> None:
    global _frozen
    _frozen = at


def advance(delta: timedelta) -> None:
    freeze(now() + delta)


def unfreeze() -> None:
    global _frozen
    _frozen = None


# ---- local days, weeks, months and quarters ------------------------------------------------------
# `tz` defaults to LINLI_TZ; it is given only where a caller must show or test another zone.

def local_midnight(day: date, tz: ZoneInfo | None = None) -> datetime:
    return datetime.combine(day, time(), tz or zone())


def local_time(at: datetime, tz: ZoneInfo | None = None) -> datetime:
    """`at` on the local wall clock: what a page, a CSV or a message shows of an instant."""
    return at.astimezone(tz or zone())


def local_day(at: datetime, tz: ZoneInfo | None = None) -> date:
    """The local calendar day holding `at`."""
    return local_time(at, tz).date()


def day_bounds(at: datetime, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The local calendar day holding `at`, as [start, end) instants (the next local midnight, so a
    day of a change to or from summer time has its own length)."""
    day = local_day(at, tz)
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)


def week_start(at: datetime, tz: ZoneInfo | None = None) -> date:
    """The Monday of the local week holding `at`."""
    day = local_day(at, tz)
    return day - timedelta(days=day.weekday())


def month_start(at: datetime, tz: ZoneInfo | None = None) -> date:
    return local_day(at, tz).replace(day=1)


def month_bounds(at: datetime, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The local calendar month holding `at`, as [start, end) instants."""
    return month_span(month_start(at, tz), tz)


def month_span(first: date, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The local month starting on `first` (its first day), as [start, end) instants."""
    following = (first + timedelta(days=32)).replace(day=1)
    return local_midnight(first, tz), local_midnight(following, tz)


def month_of(at: datetime, tz: ZoneInfo | None = None) -> str:
    """The local month holding `at`, as written in requests and pages: "2026-11"."""
    return month_start(at, tz).strftime("%Y-%m")


def parse_month(text: str | None) -> date:
    """The first day of a month written like 2026-11 (`validation_failed` on month otherwise)."""
    try:
        year, number = (int(part) for part in (text or "").split("-"))
        return date(year, number, 1)
    except (ValueError, TypeError):
        raise DomainError("validation_failed", field="month", details={"problem": "a month like 2026-11"}) from None


class Quarter(msgspec.Struct, frozen=True, order=True):
    year: int
    q: int  # 1..4

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def end_day(self) -> date:
        """The first day after the quarter (exclusive bound)."""
        return date(self.year + 1, 1, 1) if self.q == 4 else date(self.year, 3 * self.q + 1, 1)

    def bounds(self, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes at local midnight."""
        return local_midnight(self.first_day, tz), local_midnight(self.end_day, tz)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)


_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


def parse_quarter(text: str) -> Quarter:
    match = _QUARTER.match((text or "").strip())
    if not match or not 2000 <= int(match[1]) <= 2999:
        raise DomainError("validation_failed", field="quarter", details={"problem": "like 2026Q4"})
    return Quarter(int(match[1]), int(match[2]))


def quarter_of(at: datetime, tz: ZoneInfo | None = None) -> Quarter:
    local = local_time(at, tz)
    return Quarter(local.year, (local.month - 1) // 3 + 1)


def recent_quarters(at: datetime, count: int) -> list[Quarter]:
    """The quarter holding `at` and the `count - 1` before it, newest first."""
    quarters = [quarter_of(at)]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous())
    return quarters


class Period(msgspec.Struct, frozen=True):
    """The current local period, as pages show it (GET /api/periods/current): pages take their
    default day, month and quarter from here, never from the phone's own clock and zone."""
    time_zone: str
    now: datetime
    today: date
    week_start: date
    month: str                 # "2026-12"
    month_starts_at: datetime
    month_ends_at: datetime
    quarter: str               # "2026Q4"
    quarter_starts_at: datetime
    quarter_ends_at: datetime
    recent_quarters: list[str]  # this quarter first, then the seven before it


def current_period(at: datetime | None = None) -> Period:
    at = at or now()
    quarter = quarter_of(at)
    month_start_at, month_end_at = month_bounds(at)
    quarter_start_at, quarter_end_at = quarter.bounds()
    return Period(time_zone=zone().key, now=at, today=local_day(at), week_start=week_start(at),
                  month=month_of(at), month_starts_at=month_start_at,
                  month_ends_at=month_end_at, quarter=str(quarter), quarter_starts_at=quarter_start_at,
                  quarter_ends_at=quarter_end_at, recent_quarters=[str(q) for q in recent_quarters(at, 8)])


# ---- the database's copy of the zone -------------------------------------------------------------

async def write_zone(conn: asyncpg.Connection) -> bool:
    """Write LINLI_TZ into the database's one copy of the zone (the one-row table local_zone), which
    its SQL reads (earned_daily's local days). Written at every start (domain/core/db.py `migrate`)
    and again before a reading that depends on it (a test may change LINLI_TZ); nobody edits the
    copy. What the database keeps per local day follows a change by itself (a trigger on local_zone,
    domain/rankings/sql/earned.sql). True when the zone changed."""
    wanted = zone().key
    if await conn.fetchval("select tz from local_zone") == wanted:
        return False
    return await conn.fetchval("with changed as (update local_zone set tz = $1 where tz <> $1 returning 1) "
                               "select count(*) > 0 from changed", wanted)

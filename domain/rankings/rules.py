"""Pure rules behind rankings, public postings and points expiry: no database, no clock.

- Quarters ("2026Q4") are half-open intervals [start, end) of local time (LINLI_TZ), read by the one
  clock (domain/core/clock.py).
- Ties share a rank, and the next rank skips ("competition ranking": 1, 1, 3).
- Public pages show names and phone numbers masked: 张*明, 张*, 138****1234.
- Points expire FIFO: spending takes the oldest points first, so what is left of a balance is always
  the newest points earned. `fifo_remaining` says which earned lots are still unspent.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from domain.core import clock

# Quarters and local days are the one clock's (domain/core/clock.py); re-exported for this package.
from domain.core.clock import Quarter, local_day, local_midnight, parse_quarter, quarter_of  # noqa: F401
from domain.core.csv_export import to_csv  # noqa: F401

# ---- ranking ------------------------------------------------------------------------------------

def competition_ranks(amounts: Sequence[int]) -> list[int]:
    """Ranks for amounts already sorted from high to low: equal amounts share a rank (1, 1, 3)."""
    ranks: list[int] = []
    for i, amount in enumerate(amounts):
        if i > 0 and amounts[i - 1] < amount:
            raise ValueError("amounts must be sorted from high to low")
        ranks.append(ranks[-1] if i > 0 and amounts[i - 1] == amount else i + 1)
    return ranks


def top_with_ties(ranks: Sequence[int], top_n: int) -> int:
    """How many rows a top-N list shows: everyone whose rank is within N, so a tie at the cut stays whole."""
    return sum(1 for r in ranks if r <= top_n)


# ---- masking ------------------------------------------------------------------------------------

def mask_name(name: str) -> str:
    """张三明 -> 张*明, 欧阳娜娜 -> 欧**娜, 张三 -> 张*, 张 -> 张*: the first and (from 3 characters) the last stay."""
    name = "".join((name or "").split())
    if not name:
        return "*"
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """13812341234 -> 138****1234; anything that is not an 11-digit mobile number shows as ****."""
    if not phone:
        return ""
    return f"{phone[:3]}****{phone[7:]}" if re.fullmatch(r"\d{11}", phone) else "****"


# ---- CSV: the one writer is core's (re-exported for this package's callers) ----------------------

# ---- points expiry ------------------------------------------------------------------------------

def expiry_of_year(year: int, tz: ZoneInfo) -> datetime:
    """Points earned in `year` expire at the end of the next year: local midnight starting year + 2."""
    return local_midnight(date(year + 2, 1, 1), tz)


def year_due_for_expiry(now: datetime, tz: ZoneInfo) -> int:
    """The latest earning year whose points have expired by `now` (earned two local years ago)."""
    return clock.local_day(now, tz).year - 2


class Lot(msgspec.Struct, frozen=True):
    """Points earned on one local day from one community (net of reversals of that day's awards)."""
    day: date
    community_id: int
    amount: int


def fifo_remaining(available: int, lots: Iterable[Lot]) -> dict[tuple[date, int], int]:
    """What is left unspent of each lot, when every outflow took the oldest points first.

    With FIFO spending the unspent points are the newest ones, so walk the lots from the newest and
    give each as much of the available balance as it holds. Lots of zero or less (a day whose net
    is a deduction) are not points one can hold: the deduction is already in `available`, like a
    spend. A balance larger than all lots (e.g. points received as a gift) is not from any lot and
    never expires. Ties on a day are broken by community id, newest-first, so the result is stable.
    """
    left = max(available, 0)
    remaining: dict[tuple[date, int], int] = {}
    for lot in sorted(lots, key=lambda x: (x.day, x.community_id), reverse=True):
        take = min(lot.amount, left) if lot.amount > 0 else 0
        remaining[(lot.day, lot.community_id)] = take
        left -= take
    return remaining


def unspent_of_year(available: int, lots: Iterable[Lot], year: int) -> dict[int, int]:
    """Unspent points earned in `year`, per community (communities with nothing left are left out)."""
    per_community: dict[int, int] = {}
    for (day, community_id), amount in fifo_remaining(available, lots).items():
        if day.year == year and amount > 0:
            per_community[community_id] = per_community.get(community_id, 0) + amount
    return per_community


# ---- dashboard ----------------------------------------------------------------------------------

def week_starts(now: datetime, tz: ZoneInfo, weeks: int = 12) -> list[date]:
    """The Mondays of the last `weeks` local weeks, oldest first, the current week last."""
    this_monday = clock.week_start(now, tz)
    return [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def month_start(now: datetime, tz: ZoneInfo) -> date:
    return clock.month_start(now, tz)

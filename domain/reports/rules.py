"""Pure rules of courier reports: kinds and their points, the daily cap, the farming check, and
the local (LINLI_TZ) days and quarters they are counted in. No database, no HTTP.

Daily cap (the documented decision): a courier earns at most `daily_cap` points per community for
the reports they filed on one local day. Verifying a report beyond the cap still records
it as verified (the hazard was real and the manager may want it on record) but awards only what is
left under the cap, possibly 0; the report keeps the withheld amount and the reason, so the
manager's answer and the courier's list both say why. The day is the day the report was filed,
not the day it is verified, so a manager clearing a backlog does not cap a courier's honest work
of several days as if it were one.
"""

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import msgspec

from domain.core import clock, geo

KINDS = ("civility", "hazard", "service")
# Chinese names as people say them; they label ledger postings (memo) and so appear on statements.
KIND_LABELS = {"civility": "文明劝导", "hazard": "隐患排查", "service": "志愿服务"}
DEFAULT_POINTS = {"civility": 5, "hazard": 10, "service": 5}
DEFAULT_DAILY_CAP = 30
PHOTO_REQUIRED = frozenset({"hazard"})  # a hazard must be seen to be fixed
OPENS_CASE = frozenset({"hazard"})      # a verified hazard opens a case of the grid loop (domain/cases)

DUPLICATE_WINDOW = timedelta(minutes=10)
DUPLICATE_DISTANCE_M = 50.0

WITHHELD_BY_CAP = "daily_cap_reached"


class Rules(msgspec.Struct, frozen=True):
    points: dict[str, int]  # per kind
    daily_cap: int


def rules_for(overrides: Mapping[str, int | None] | None = None) -> Rules:
    """The defaults with a community's overrides on top; a None or missing override keeps the default.

    `overrides` uses the report_settings column names: civility_points, hazard_points,
    service_points, daily_cap.
    """
    overrides = overrides or {}
    points = {kind: _pick(overrides.get(f"{kind}_points"), DEFAULT_POINTS[kind]) for kind in KINDS}
    return Rules(points=points, daily_cap=_pick(overrides.get("daily_cap"), DEFAULT_DAILY_CAP))


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value


def memo(kind: str) -> str:
    """The ledger label of a report award, e.g. "隐患排查上报"."""
    return f"{KIND_LABELS[kind]}上报"


# ---- the daily cap ------------------------------------------------------------------------

class Award(msgspec.Struct, frozen=True):
    points: int     # to post now
    withheld: int   # cut by the daily cap
    reason: str | None = None


def award(kind_points: int, earned_that_day: int, daily_cap: int, item_cap: int | None = None,
          earned_under_item: int = 0) -> Award:
    """Points for verifying one report, given what its day has already earned under the cap. Paid
    under a rulebook item with a daily cap, the item's cap applies too, to what that day's
    reports earned under the item."""
    room = max(0, daily_cap - earned_that_day)
    if item_cap is not None:
        room = min(room, max(0, item_cap - earned_under_item))
    points = min(kind_points, room)
    withheld = kind_points - points
    return Award(points, withheld, WITHHELD_BY_CAP if withheld else None)


def local_day(at: datetime) -> date:
    return clock.local_day(at)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local (LINLI_TZ) calendar day, as aware datetimes."""
    return clock.local_midnight(day), clock.local_midnight(day + timedelta(days=1))


# ---- quarters (for the courier's rank in their grid) ---------------------------------------

def quarter_of(at: datetime) -> tuple[str, datetime, datetime]:
    """("2026Q4", start, end) of the local (LINLI_TZ) quarter that contains `at`."""
    quarter = clock.quarter_of(at)
    return (str(quarter), *quarter.bounds())


def rank(mine: int, others: Sequence[int]) -> int:
    """Competition rank (1, 2, 2, 4): one more than the number of people with strictly more."""
    return 1 + sum(1 for value in others if value > mine)


# ---- likely farming: the same thing reported twice -----------------------------------------

class Sighting(msgspec.Struct, frozen=True):
    """What the duplicate check needs of a report (all of one courier)."""
    id: int
    kind: str
    created_at: datetime
    lat: float | None = None
    lng: float | None = None
    place: str = ""


def _same_place_text(a: str, b: str) -> bool:
    norm = lambda s: "".join(unicodedata.normalize("NFKC", s).split()).casefold()  # noqa: E731
    return bool(norm(a)) and norm(a) == norm(b)


def is_duplicate(a: Sighting, b: Sighting) -> bool:
    """Same kind, within 10 minutes and 50 m of each other (same courier is the caller's filter).

    Without coordinates on both, the place text stands in for the position: the same non-empty
    place (ignoring spaces, width and case) counts as the same spot.
    """
    if a.id == b.id or a.kind != b.kind or abs(a.created_at - b.created_at) > DUPLICATE_WINDOW:
        return False
    if a.lat is not None and a.lng is not None and b.lat is not None and b.lng is not None:
        return geo.distance_m(a.lat, a.lng, b.lat, b.lng) <= DUPLICATE_DISTANCE_M
    return _same_place_text(a.place, b.place)


def duplicates_of(report: Sighting, earlier: Sequence[Sighting]) -> list[int]:
    """Ids of the courier's reports filed before `report` that it likely repeats.

    Only the later report of a pair is flagged: the first one is the one worth verifying.
    """
    return [s.id for s in earlier
            if (s.created_at, s.id) < (report.created_at, report.id) and is_duplicate(report, s)]

"""Pure rules of the grid loop (闭环): the case state machine, deadlines, escalation, who may rate,
the points a closure earns, household votes and the figures. No database, no HTTP.

States (DESIGN.md "The city's loop"): reported → sorted → dispatched → accepted → done → rated, with
returned, merged, escalated (a level beside the state, not a state: an overdue case is still where
it was) and reopened (an 不满意 rating sends a done case back to its handler, once).
"""

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec

from domain.core.errors import DomainError

STATES = ("reported", "sorted", "dispatched", "accepted", "returned", "done", "rated", "merged")
OPEN = frozenset({"reported", "sorted", "dispatched", "accepted", "returned"})
CLOSED = frozenset({"done", "rated"})
KINDS = ("hazard", "problem", "proposal")
RATINGS = ("satisfied", "fair", "unsatisfied")       # 满意 / 基本满意 / 不满意
GOOD_RATINGS = frozenset({"satisfied", "fair"})
PRIORITIES = ("normal", "urgent")
PARTNER_KINDS = ("department", "property", "unit", "merchant")
HANDLER_KINDS = frozenset({"department", "property", "unit"})  # merchants take no cases

# Which act moves a case from which states to which. Acts not here (note, comment, follow, vote) do
# not change the state.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "sort": (frozenset({"reported", "sorted"}), "sorted"),
    "merge": (frozenset({"reported", "sorted"}), "merged"),
    "send_up": (frozenset({"reported", "sorted"}), "sorted"),
    "dispatch": (frozenset({"reported", "sorted", "returned"}), "dispatched"),
    "accept": (frozenset({"dispatched"}), "accepted"),
    "return": (frozenset({"dispatched", "accepted"}), "returned"),
    "done": (frozenset({"accepted"}), "done"),
    "rate": (frozenset({"done"}), "rated"),
    "reopen": (frozenset({"done"}), "dispatched"),
}

# Default amounts until a community sets its own in report_settings (and later, the rulebook).
DEFAULT_CASE_BONUS = 5        # points to the reporter of a case closed in time
DEFAULT_HANDLER_MINUTES = 60  # service minutes to a work unit's handler for a case closed in time, rated well

# After the deadline the case escalates to the street; this long after it, to the district.
DISTRICT_AFTER = timedelta(hours=24)
VOTE_HOURS = (1, 24 * 14)


def next_state(act: str, state: str) -> str:
    """The state `act` moves a case in `state` to; 409 invalid_state when it cannot happen now."""
    allowed, to = TRANSITIONS[act]
    if state not in allowed:
        raise DomainError("invalid_state", details={"state": state, "act": act})
    return to


def deadline_for(start: datetime, hours: int) -> datetime:
    return start + timedelta(hours=hours)


def closed_in_time(done_at: datetime, deadline: datetime) -> bool:
    return done_at <= deadline


def escalation_due(deadline: datetime | None, level: int, now: datetime) -> int:
    """The escalation level an open case should be at: 0 before its deadline, 1 (the street) from
    the deadline, 2 (the district) from DISTRICT_AFTER later. Never lower than it already is."""
    if deadline is None or now < deadline:
        return level
    target = 2 if now >= deadline + DISTRICT_AFTER else 1
    return max(level, target)


class RatingOutcome(msgspec.Struct, frozen=True):
    state: str          # "rated", or "dispatched" when the case reopens
    reopens: bool


def rate(rating: str, reopened_before: bool) -> RatingOutcome:
    """不满意 reopens a case once; a second 不满意, and any other rating, closes it for good."""
    if rating not in RATINGS:
        raise DomainError("validation_failed", field="rating", details={"problem": f"one of {', '.join(RATINGS)}"})
    if rating == "unsatisfied" and not reopened_before:
        return RatingOutcome("dispatched", True)
    return RatingOutcome("rated", False)


def may_rate(rater_id: int, reporter_id: int, handled_by: Iterable[int | None]) -> None:
    """Only the reporter rates, and nobody rates their own handling (a reporter who also handled it)."""
    if rater_id != reporter_id:
        raise DomainError("forbidden", details={"why": "only the reporter rates a case"})
    if rater_id in set(handled_by):
        raise DomainError("forbidden", details={"why": "nobody rates their own handling", "rule": "own_handling"})


def bonus_due(source: str, in_time: bool, already_paid: bool) -> bool:
    """A courier's report whose case closes in time earns a bonus at closure; once (a reopened case
    closed again earns nothing more). The rating has no part in it."""
    return source == "report" and in_time and not already_paid


def handler_minutes_due(partner_kind: str, in_time: bool | None, rating: str | None) -> bool:
    """A work unit's handler earns 双报到 service minutes for a case closed in time and rated well."""
    return partner_kind == "unit" and bool(in_time) and rating in GOOD_RATINGS


def voter_key(user_id: int, household_id: int | None) -> str:
    """One vote per household: the key a vote is stored under (a household of one without one)."""
    return f"h{household_id}" if household_id is not None else f"u{user_id}"


def number(created_local_day: str, case_id: int) -> str:
    """The case number a reporter follows, e.g. 20261207-42."""
    return f"{created_local_day}-{case_id}"


# ---- figures --------------------------------------------------------------------------------

class Figures(msgspec.Struct, frozen=True):
    opened: int
    closed: int
    closed_in_time: int
    overdue_open: int
    median_hours_to_close: float | None
    satisfied: int
    fair: int
    unsatisfied: int
    satisfaction: float | None   # share of 满意 + 基本满意 among rated cases, in percent


def median_hours(durations: Sequence[float]) -> float | None:
    return round(statistics.median(durations), 1) if durations else None


def satisfaction(satisfied: int, fair: int, unsatisfied: int) -> float | None:
    rated = satisfied + fair + unsatisfied
    return round(100.0 * (satisfied + fair) / rated, 1) if rated else None

"""Pure rules of "nobody creates value alone": what pays one person above a community's
thresholds, which policy changes loosen the rules, and when a manager's pace is unusual. No database.
"""

from collections.abc import Mapping

# As the column defaults of migrations/013_authority.sql and 026_four_eyes.sql.
DEFAULT_LIMITS = {"threshold_points": 200, "threshold_minutes": 600, "daily_points": 500, "daily_minutes": 1500}

# Velocity: a manager's value acts today (adjustments, marks, on-the-spot redemptions) are unusual
# when they pass both this floor and this many times the street's usual day of one manager.
VELOCITY_FLOOR = 20
VELOCITY_FACTOR = 3
VELOCITY_LOOKBACK_DAYS = 28


def activity_daily_max(*, points: int, points_per_hour: int, window_minutes: int, max_minutes: int | None,
                       daily_points_cap: int) -> tuple[int, int]:
    """(points, minutes) one person can be credited by one attendance of an activity: its check-in
    points and the points per hour of the longest stay, bounded by the daily cap; the stay's minutes."""
    from domain.checkin.rules import hour_points  # the check-in's own rule (imported late: checkin imports this)
    minutes = window_minutes if max_minutes is None else min(window_minutes, max_minutes)
    return min(daily_points_cap, points + hour_points(minutes, points_per_hour)), minutes


def above(amounts: Mapping[str, int], thresholds: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """The units whose amount (either sign) is above their threshold, with both numbers; empty when none."""
    return {unit: {"amount": amount, "threshold": thresholds[unit]}
            for unit, amount in amounts.items() if abs(amount) > thresholds[unit]}


def loosens(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """The fields a policy change loosens: a higher threshold or daily limit, or auto-approval turned
    on. Tightening takes effect at once; loosening waits for a second person."""
    out = []
    for name, value in new.items():
        before = old[name]
        if isinstance(value, bool):
            if value and not before:
                out.append(name)
        elif isinstance(value, int) and isinstance(before, int) and value > before:
            out.append(name)
    return sorted(out)


def unusual_pace(today: int, usual: float) -> bool:
    """A manager's count of value acts today against the street's usual day of one manager."""
    return today > VELOCITY_FLOOR and today > VELOCITY_FACTOR * usual

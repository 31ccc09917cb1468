"""Pure rules of check-in and check-out: windows, minutes, points, caps, distance, repeats.

No database and no clock here: every function takes the times it needs, so each rule is tested
on its own (tests/test_checkin_rules.py).
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.core import clock
from domain.core.codes import code_from_text  # noqa: F401  (re-exported: reading a scanned code)
from domain.core.geo import distance_m  # noqa: F401  (re-exported: the geofence rule)

REPEAT_WINDOW = timedelta(minutes=2)  # a second scan this soon after the first changes nothing


def window_problem(now: datetime, starts_at: datetime, ends_at: datetime) -> str | None:
    """'not_started' or 'ended' when a check-in at `now` falls outside [starts_at, ends_at)."""
    if now < starts_at:
        return "not_started"
    if now >= ends_at:
        return "ended"
    return None


def overlap_minutes(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> int:
    """Whole minutes (rounded down) that [a_start, a_end] and [b_start, b_end] share."""
    seconds = (min(a_end, b_end) - max(a_start, b_start)).total_seconds()
    return max(0, int(seconds // 60))


def attended_minutes(checked_in_at: datetime, checked_out_at: datetime, starts_at: datetime,
                     ends_at: datetime, max_minutes: int | None) -> int:
    """Minutes banked for an attendance: its overlap with the window, capped by `max_minutes`."""
    minutes = overlap_minutes(checked_in_at, checked_out_at, starts_at, ends_at)
    return minutes if max_minutes is None else min(minutes, max_minutes)


def manual_minutes(requested: int, starts_at: datetime, ends_at: datetime, max_minutes: int | None) -> int:
    """Minutes a manager may credit by hand: no more than the window, nor the cap."""
    window = overlap_minutes(starts_at, ends_at, starts_at, ends_at)
    allowed = window if max_minutes is None else min(window, max_minutes)
    return max(0, min(requested, allowed))


def hour_points(minutes: int, points_per_hour: int) -> int:
    """Points for time served, rounded down: 90 minutes at 10 points an hour earn 15."""
    return minutes * points_per_hour // 60


# The daily cap of check-in points is decided where the person's account is locked: in PostgreSQL
# (migrations/022 `checkin_cap_left`, tested in tests/checkin/test_scan_in_one_call.py).


def next_step(state: str, checked_in_at: datetime, now: datetime, *, replay: bool = False) -> str:
    """What a scan does to an existing attendance.

    'check_out', or a harmless answer: 'already_checked_in' (a repeat within REPEAT_WINDOW, or the
    page replaying its own nonce), 'already_checked_out' (every scan after check-out), or
    'annulled' (a manager annulled it; scanning does not bring it back).
    """
    if state == "annulled":
        return "annulled"
    if state == "done":
        return "already_checked_out"
    if replay or now - checked_in_at < REPEAT_WINDOW:
        return "already_checked_in"
    return "check_out"


def local_day(now: datetime, zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The local calendar day around `now`, as [start, end) instants."""
    return clock.day_bounds(now, zone)


def format_window(starts_at: datetime, ends_at: datetime, lang: str = "zh", zone: ZoneInfo | None = None) -> str:
    """The activity time for a poster: '2026年6月14日 09:00–11:30' / '14 Jun 2026, 09:00–11:30'."""
    s, e = clock.local_time(starts_at, zone), clock.local_time(ends_at, zone)
    if lang == "en":
        day = lambda d: f"{d.day} {d.strftime('%b')} {d.year}"  # noqa: E731
        if s.date() == e.date():
            return f"{day(s)}, {s:%H:%M}–{e:%H:%M}"
        return f"{day(s)} {s:%H:%M} – {day(e)} {e:%H:%M}"
    day = lambda d: f"{d.year}年{d.month}月{d.day}日"  # noqa: E731
    if s.date() == e.date():
        return f"{day(s)} {s:%H:%M}–{e:%H:%M}"
    return f"{day(s)} {s:%H:%M} – {day(e)} {e:%H:%M}"


# A confirmed sign-up keeps its place until this long after the start (someone on the waiting
# list who scanned first took the place, and the confirmed person found the activity full). After it,
# an unclaimed place goes to whoever comes.
SIGNUP_HOLD_AFTER_START = timedelta(minutes=15)


def signup_places_held(now: datetime, starts_at: datetime) -> bool:
    """Whether confirmed sign-ups still hold their places at `now`."""
    return now < starts_at + SIGNUP_HOLD_AFTER_START

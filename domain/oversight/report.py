"""`linli audit`: the ledger's shapes that break "nobody creates value alone".

Read from the ledger and the records beside it, never from the counters the rules keep, so it also
finds what happened before the rules or around them:
- value created without a second person above the thresholds: a manual adjustment or a manual mark
  above the community's threshold that was posted by its maker alone; an activity published with
  terms above the threshold without an approval; a maker's hand-made credits of a day, posted
  alone, above the community's daily limit;
- self-benefit by managers: check-in credits of a manager's own scans at an activity they manage,
  posted without another manager's approval; an on-the-spot redemption by the manager who created
  and credited the resident;
- credits whose presence proof came after an automatic check-out (a late scan credited at once
  instead of going to the review list).
Each finding names its rows; an empty report is the healthy state (tests/conftest.py checks the
test session's database with it).
"""

from typing import Any

import asyncpg

from domain.core import clock, queries
from domain.oversight import rules

Q = queries.load("oversight")

# Each check is a named query of queries.sql, one finding a row; it reads the first n of (the communities
# or None for all, the four default limits, the zone). Two are templates: the hand-made credits they
# judge are the query manual_adjustments, filled in.
_CREDITS = Q.manual_adjustments
CHECKS: dict[str, tuple[str, int]] = {
    "adjustment_above_threshold_alone": (Q.adjustment_above_threshold_alone.format(manual_adjustments=_CREDITS), 5),
    "mark_above_threshold_alone": (Q.mark_above_threshold_alone, 5),
    "activity_above_threshold_unapproved": (Q.activity_above_threshold_unapproved, 5),
    "daily_limit_passed_alone": (Q.daily_limit_passed_alone.format(manual_adjustments=_CREDITS), 6),
    "own_scan_credited_alone": (Q.own_scan_credited_alone, 1),
    "own_resident_redeemed_alone": (Q.own_resident_redeemed_alone, 1),
    "presence_after_auto_checkout": (Q.presence_after_auto_checkout, 1),
}
_LIMITS = ("threshold_points", "threshold_minutes", "daily_points", "daily_minutes")


async def report(conn: asyncpg.Connection, community_ids: list[int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every finding per check (only the checks that found something), optionally for some communities."""
    found: dict[str, list[dict[str, Any]]] = {}
    params = [community_ids, *(rules.DEFAULT_LIMITS[k] for k in _LIMITS), clock.zone().key]
    for name, (sql, n) in CHECKS.items():
        rows = await conn.fetch(sql, *params[:n])
        if rows:
            found[name] = [{k: (str(v) if k == "day" else v) for k, v in dict(r).items()} for r in rows]
    return found

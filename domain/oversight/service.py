"""Nobody creates value alone: the community's limits, who may act as the second
person, the day's count of value made by hand, held acts and the flags a manager's pattern raises.

Every way value is created either stays under the community's thresholds and the maker's daily
limit, or waits for a second person: another manager of the community, a manager of its street or
district (DESIGN.md "Roles follow the tree"), or an admin. The capabilities hold their own acts
through `hold` (adjustments keep their own table, adjustment_requests; an on-the-spot redemption
becomes a request, redemptions.held_maker). The one queue of what is held, and its decisions, is
domain/oversight/queue.py; the report of what broke the rule, domain/oversight/report.py.

This module imports no capability (they import it).
"""

from datetime import date, timedelta
from typing import Any

import asyncpg
import msgspec

from domain.core import clock
from domain.core.actor import Actor
from domain.core.holds import FLAG_REASONS, flag, hold  # noqa: F401  (written in core, re-exported here)
from domain.oversight import rules

UNITS = ("points", "minutes")


class Limits(msgspec.Struct, frozen=True):
    threshold_points: int   # one act paying one person more than this (either sign) needs a second person
    threshold_minutes: int
    daily_points: int       # what one person creates by hand in the community a day before the rest waits
    daily_minutes: int

    def threshold(self, unit: str) -> int:
        return self.threshold_points if unit == "points" else self.threshold_minutes

    def daily(self, unit: str) -> int:
        return self.daily_points if unit == "points" else self.daily_minutes

    def thresholds(self) -> dict[str, int]:
        return {"points": self.threshold_points, "minutes": self.threshold_minutes}


async def limits(conn: asyncpg.Connection, community_id: int) -> Limits:
    row = await conn.fetchrow("select threshold_points, threshold_minutes, daily_points, daily_minutes "
                              "from adjustment_policies where community_id = $1", community_id)
    return Limits(**(dict(row) if row is not None else rules.DEFAULT_LIMITS))


def may_check(actor: Actor, community_id: int) -> bool:
    """May act as the second person on what this community holds: a manager of it, of its street or
    district, or an admin (never on their own act or a credit to themself: checked by each decision)."""
    return actor.can_manage(community_id) or community_id in actor.oversees


def today() -> date:
    return clock.local_day(clock.now())


async def count_manual(conn: asyncpg.Connection, community_id: int, maker_id: int, amounts: dict[str, int]
                       ) -> dict[str, Any] | None:
    """Add what `maker_id` is about to create by hand in the community today (positive amounts per
    unit) to the day's count, or, when that would pass the community's daily limit, count nothing
    and say why (the act is then held). Under the day's row lock: two acts at once cannot both slip
    under the limit. Call inside the act's transaction."""
    wanted = {unit: amount for unit, amount in amounts.items() if amount > 0}
    if not wanted:
        return None
    day = today()
    await conn.execute(
        """Insert into manual_value_days (community_id, maker_id, day, unit)
           select $1, $2, $3, unnest($4::text[]) on conflict do nothing""",
        community_id, maker_id, day, sorted(wanted))
    rows = await conn.fetch(
        """Select unit, amount from manual_value_days where community_id = $1 and maker_id = $2 and day = $3
             and unit = any($4::text[]) order by unit for update""", community_id, maker_id, day, sorted(wanted))
    made = {r["unit"]: r["amount"] for r in rows}
    limit = await limits(conn, community_id)
    over = {unit: {"today": made[unit], "adding": amount, "limit": limit.daily(unit)}
            for unit, amount in wanted.items() if made[unit] + amount > limit.daily(unit)}
    if over:
        return {"daily_limit": over}
    await conn.executemany(
        "update manual_value_days set amount = amount + $5 where community_id = $1 and maker_id = $2 "
        "and day = $3 and unit = $4", [(community_id, maker_id, day, unit, amount) for unit, amount in wanted.items()])
    return None


def explain_flag(reason: str, lang: str) -> str:
    zh, en = FLAG_REASONS[reason]
    return en if lang == "en" else zh


# What counts toward a manager's pace: the acts that create or hand out value by hand.
VALUE_ACTS = ("adjustment", "adjustment_request", "attendance_mark", "redemption_on_the_spot", "held_request")


async def check_pace(conn: asyncpg.Connection, community_id: int, manager_id: int) -> None:
    """After a value act: flag the manager when their count of value acts today is far above the
    street's usual day of one manager (the last four weeks of the street's communities)."""
    day_start = clock.day_bounds(clock.now())[0]
    count = await conn.fetchval(
        """Select count(*) from audit_log where actor_id = $1 and created_at >= $2 and act = any($3::text[])""",
        manager_id, day_start, list(VALUE_ACTS))
    if count <= rules.VELOCITY_FLOOR:
        return  # the usual is read only when it could matter
    usual = await conn.fetchval(
        """With street as (select c.id from orgs c join orgs me on me.id = $1
                           where c.kind = 'community' and c.parent_id is not distinct from me.parent_id)
           select coalesce(count(*)::float / nullif(count(distinct (a.actor_id, a.created_at::date)), 0), 0)
           from audit_log a where a.community_id in (select id from street) and a.act = any($2::text[])
             and a.actor_id is not null and a.created_at >= $3 and a.created_at < $4""",
        community_id, list(VALUE_ACTS), day_start - timedelta(days=rules.VELOCITY_LOOKBACK_DAYS), day_start)
    if rules.unusual_pace(count, usual):
        await flag(conn, community_id, manager_id, "velocity", {"today": count, "street_usual": round(usual, 1)})



from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

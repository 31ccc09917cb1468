"""Spending areas (通兑范围): a street or district decides whether its communities form one area
in which points (and, separately, minutes) issued by any of them are spent in any of them.

The rule, precisely:
- A policy is set per org (a street or a district) and unit, on or off, from a local date on
  (LINLI_TZ); the history is kept (area_policies is append-only) and the row with the latest start
  on or before a day rules that day (the later row wins a tie).
- The area of a community on a day is every community under the WIDEST of its street and district
  whose policy is on that day; without one, the community alone: value is spent where issued.
- Inside the area a person may shop in any community's supermarket (as a guest) and ask for or
  give time-bank help in any of its communities, without joining. Outside it: `outside_area`.
Who sets a level's policy: an admin, or a manager appointed to that street or district.
"""

from collections.abc import Iterable
from datetime import date, datetime

import asyncpg
import msgspec

from domain.core import actor as who
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid, not_found

LEVELS = ("street", "district")


class Policy(msgspec.Struct, frozen=True):
    org_id: int
    org_name: str
    org_kind: str
    unit: str
    enabled: bool
    starts_on: date | None        # None: never set (off)
    set_by: int | None
    set_at: datetime | None


class Policies(msgspec.Struct, frozen=True):
    org_id: int
    points: Policy
    minutes: Policy
    history: list[Policy]         # newest first
    communities: list[int]        # the communities under this org


def today() -> date:
    return clock.local_day(clock.now())


async def level(conn: asyncpg.Connection, org_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select id, kind, name from orgs where id = $1", org_id)
    if row is None:
        raise not_found("org")
    if row["kind"] not in LEVELS:
        raise invalid("org_id", "a street or a district")
    return row


async def communities_under(conn: asyncpg.Connection, org_id: int) -> list[int]:
    rows = await conn.fetch(
        """With recursive down as (select id, kind from orgs where id = $1
                                   union all select o.id, o.kind from orgs o join down d on o.parent_id = d.id
                                   where d.kind <> 'community')
           select id from down where kind = 'community' order by id""", org_id)
    return [r["id"] for r in rows]


async def require_level_manager(conn: asyncpg.Connection, actor: Actor, org_id: int) -> asyncpg.Record:
    """The street or district, if the actor may set its policy: main's one rule for the levels above
    a community (core's require_level_manager: an admin, or a manager of it or of the level above)."""
    found = await level(conn, org_id)
    await who.require_level_manager(conn, actor, org_id)
    return found


async def _policy_row(conn: asyncpg.Connection, org_id: int, unit: str, day: date) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """Select enabled, starts_on, set_by, created_at from area_policies
            where org_id = $1 and unit = $2 and starts_on <= $3 order by starts_on desc, id desc limit 1""",
        org_id, unit, day)


async def policies(conn: asyncpg.Connection, actor: Actor, org_id: int) -> Policies:
    org = await require_level_manager(conn, actor, org_id)
    day = today()
    current = {}
    for unit in ("points", "minutes"):
        row = await _policy_row(conn, org_id, unit, day)
        current[unit] = Policy(org_id, org["name"], org["kind"], unit, bool(row and row["enabled"]),
                               row["starts_on"] if row else None, row["set_by"] if row else None,
                               row["created_at"] if row else None)
    history = [Policy(org_id, org["name"], org["kind"], r["unit"], r["enabled"], r["starts_on"], r["set_by"],
                      r["created_at"]) for r in await conn.fetch(
        "select unit, enabled, starts_on, set_by, created_at from area_policies where org_id = $1 "
        "order by id desc limit 100", org_id)]
    return Policies(org_id, current["points"], current["minutes"], history, await communities_under(conn, org_id))


async def set_policy(conn: asyncpg.Connection, actor: Actor, org_id: int, *, unit: str, enabled: bool,
                     starts_on: date | None = None, ip: str | None = None) -> Policies:
    """Open (or close) the level's communities as one spending area for `unit` from `starts_on`
    (today by default; not in the past: what was spent stays spent under the rule of its day)."""
    org = await require_level_manager(conn, actor, org_id)
    if unit not in ("points", "minutes"):
        raise invalid("unit", "points or minutes")
    starts_on = starts_on or today()
    if starts_on < today():
        raise invalid("starts_on", "today or later")
    async with conn.transaction():
        policy_id = await conn.fetchval(
            "insert into area_policies (org_id, unit, enabled, starts_on, set_by, created_at) "
            "values ($1, $2, $3, $4, $5, $6) returning id", org_id, unit, enabled, starts_on, actor.id, clock.now())
        await audit.record(conn, actor, "area_policy", community_id=None, target=("org", org_id),
                           after={"policy_id": policy_id, "level": org["kind"], "unit": unit, "enabled": enabled,
                                  "starts_on": starts_on.isoformat()}, ip=ip)
    return await policies(conn, actor, org_id)


_AREA_ROOT = """
    with recursive up as (select id, parent_id, kind, 0 as depth from orgs where id = $1
                          union all select o.id, o.parent_id, o.kind, up.depth + 1
                          from orgs o join up on o.id = up.parent_id)
    select up.id from up
     where up.kind in ('street', 'district')
       and (select p.enabled from area_policies p where p.org_id = up.id and p.unit = $2 and p.starts_on <= $3
             order by p.starts_on desc, p.id desc limit 1)
     order by up.depth desc limit 1"""


async def area_of(conn: asyncpg.Connection, community_id: int, unit: str, day: date | None = None) -> frozenset[int]:
    """The communities whose `unit` may be spent in `community_id` (and where its own may go)."""
    root = await conn.fetchval(_AREA_ROOT, community_id, unit, day or today())
    if root is None:
        return frozenset({community_id})
    return frozenset(await communities_under(conn, root))


async def guest_communities(conn: asyncpg.Connection, community_ids: Iterable[int], unit: str) -> set[int]:
    """Every community of the spending areas of these (a person's own) communities."""
    found: set[int] = set()
    for community_id in community_ids:
        found |= await area_of(conn, community_id, unit)
    return found


async def may_visit(conn: asyncpg.Connection, user_id: int, community_id: int, unit: str) -> bool:
    """A guest of `community_id` for `unit`: its area holds a community the person belongs to or
    holds value issued by (a member of the community itself is no guest; the caller checks that)."""
    area = await area_of(conn, community_id, unit)
    if len(area) == 1:
        return False
    return bool(await conn.fetchval(
        """Select exists (select 1 from org_members m join orgs g on g.id = m.org_id
                           where m.user_id = $1
                             and case when g.kind = 'grid' then g.parent_id else g.id end = any($2::bigint[]))
               or exists (select 1 from accounts a where a.user_id = $1 and a.kind = 'user' and a.unit = $3
                           and a.balance > 0 and a.org_id = any($2::bigint[]))""", user_id, list(area), unit))


async def require_visit(conn: asyncpg.Connection, user_id: int, community_id: int, unit: str) -> None:
    if not await may_visit(conn, user_id, community_id, unit):
        raise DomainError("outside_area", details={"community_id": community_id, "unit": unit})

"""What a person's home page leads with: for a manager, today's work in each community they manage
(waiting queues with counts, today's and upcoming activities with who is inside); for a volunteer,
their own rank this quarter with the masked top of their community."""

from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain import rankings
from domain.core import clock
from domain.core.actor import Actor
from domain.people import orgs
from domain.rankings import rules
from domain.rankings.dashboard import QUEUES, _count_if


class TodayActivity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    inside: int
    signed_up: int
    capacity: int | None


class CommunityWork(msgspec.Struct, frozen=True, kw_only=True):
    community_id: int
    name: str
    queues: dict[str, int]         # only the installed queues
    waiting: int                   # their sum
    activities: list[TodayActivity]


class Workbench(msgspec.Struct, frozen=True, kw_only=True):
    communities: list[CommunityWork]


class MyRank(msgspec.Struct, frozen=True, kw_only=True):
    community_id: int
    community_name: str
    quarter: str
    unit: str
    rank: int | None               # None: nothing earned yet this quarter
    amount: int
    of: int                        # people ranked
    top: list[rankings.RankingItem]  # masked names, as in 公示


async def workbench(conn: asyncpg.Connection, actor: Actor) -> Workbench:
    ids = sorted(actor.manages)
    rows = await conn.fetch("select id, name from orgs where id = any($1::bigint[]) order by name, id", ids)
    day_start = clock.day_bounds(clock.now())[0]
    soon = day_start + timedelta(days=7)
    out = []
    for row in rows:
        queues = {}
        for name, (table, sql) in QUEUES.items():
            count = await _count_if(conn, table, sql, row["id"])
            if count is not None:
                queues[name] = count
        activities = await conn.fetch(
            """Select a.id, a.title, a.starts_at, a.ends_at, a.capacity,
                      (select count(*) from attendances t where t.activity_id = a.id and t.state = 'inside')::int as inside,
                      (select count(*) from activity_signups s where s.activity_id = a.id
                         and s.state = 'confirmed')::int as signed_up
               from activities a where a.community_id = $1 and a.state = 'published'
                 and a.ends_at > $2 and a.starts_at < $3
               order by a.starts_at, a.id limit 10""", row["id"], clock.now(), soon)
        out.append(CommunityWork(community_id=row["id"], name=row["name"], queues=queues, waiting=sum(queues.values()),
                                 activities=[TodayActivity(**dict(a)) for a in activities]))
    return Workbench(communities=out)


async def my_rank(conn: asyncpg.Connection, actor: Actor, *, unit: str = "points", top: int = 10) -> list[MyRank]:
    """For each community I belong to: my rank this quarter and the top `top`, names masked except mine."""
    q = clock.quarter_of(clock.now())
    out = []
    for community_id in sorted(await orgs.member_communities(conn, actor.id)):
        name = await conn.fetchval("select name from orgs where id = $1", community_id)
        # The top and my place, ranked by PostgreSQL (the whole ranking of a community of 20,000 came
        # to the app for this: 42 ms of PostgreSQL and 46 ms of app CPU a call).
        ranking = await rankings.compute_top(conn, "community", community_id, q, unit, top, person=actor.id)
        shown = [i if i.id == actor.id else msgspec.structs.replace(i, name=rules.mask_name(i.name))
                 for i in ranking.items]
        out.append(MyRank(community_id=community_id, community_name=name, quarter=str(q), unit=unit,
                          rank=ranking.person_rank, amount=ranking.person_amount, of=ranking.total, top=shown))
    return out

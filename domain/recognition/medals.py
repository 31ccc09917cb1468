"""勋章, medals by rule.

A street or a community defines medal rules (kind and threshold); the rules of a community and of
every level above it apply to its people, the built-in ones (rules.DEFAULT_MEDALS) where none is
defined. The sweep reads each member's figures (hours served anywhere, communities served in, the
longest run of quarters with earnings, hazards confirmed) and awards what they reach, once: a
person holds each medal code once (medals unique (user_id, code)), so the sweep is idempotent and a
revoked medal is not given again. A selection's final result awards its own medal (award()).
Revoking needs a reason and is audited; the person is told.
"""

from datetime import datetime
from functools import partial

import asyncpg
import msgspec

from domain import notify
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.recognition import rules


class Medal(msgspec.Struct, frozen=True):
    id: int
    user_id: int
    community_id: int
    code: str
    name: str
    awarded_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class MedalRule(msgspec.Struct, frozen=True):
    id: int | None     # None: a built-in rule
    org_id: int | None
    kind: str
    threshold: int
    name: str


class SweepResult(msgspec.Struct, frozen=True):
    community_id: int
    people: int
    awarded: int


async def rules_for(conn: asyncpg.Connection, community_id: int) -> list[MedalRule]:
    rows = await conn.fetch(
        """With recursive up(id, parent_id, depth) as (
               select id, parent_id, 0 from orgs where id = $1
               union all select o.id, o.parent_id, up.depth + 1 from orgs o join up on o.id = up.parent_id
               where up.depth < 6)
           select r.* from medal_rules r join up on up.id = r.org_id order by r.kind, r.threshold, r.id""",
        community_id)
    if not rows:
        return [MedalRule(None, None, kind, threshold, name) for kind, threshold, name in rules.DEFAULT_MEDALS]
    return [MedalRule(r["id"], r["org_id"], r["kind"], r["threshold"], r["name"]) for r in rows]


async def define(conn: asyncpg.Connection, actor: Actor, *, org_id: int, kind: str, threshold: int,
                 name: str) -> MedalRule:
    """A medal rule of a community (its manager) or of a street or district (theirs)."""
    from domain.recognition import rulebook
    org = await orgs.get_org(conn, org_id)
    if not await rulebook.may_propose(conn, actor, org):
        raise forbidden("only a manager of this organisation defines its medals")
    if kind not in rules.MEDAL_KINDS:
        raise invalid("kind", " | ".join(rules.MEDAL_KINDS))
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 40:
        raise invalid("name", "1 to 40 characters")
    async with conn.transaction():
        rule_id = await conn.fetchval(
            """Insert into medal_rules (org_id, kind, threshold, name, created_by, created_at)
               values ($1, $2, $3, $4, $5, $6) on conflict (org_id, kind, threshold) do nothing returning id""",
            org_id, kind, threshold, name, actor.id, clock.now())
        if rule_id is None:
            raise DomainError("invalid_state", details={"why": "rule_exists"})
        await audit.record(conn, actor, "medal_rule", community_id=org.community_id, target=("org", org_id),
                           after={"kind": kind, "threshold": threshold, "name": name})
    return MedalRule(rule_id, org_id, kind, threshold, name)


async def _metrics(conn: asyncpg.Connection, user_ids: list[int]) -> dict[int, dict[str, int]]:
    rows = await conn.fetch(
        """Select e.user_id,
                  coalesce(sum(e.earned) filter (where e.unit = 'minutes'), 0)::bigint / 60 as hours,
                  count(distinct e.community_id) filter (where e.earned > 0) as communities,
                  array_agg(distinct extract(year from e.day)::int * 10 + extract(quarter from e.day)::int)
                      filter (where e.earned > 0) as quarters
             from earned_daily e where e.user_id = any($1::bigint[]) group by e.user_id""", user_ids)
    hazards = dict(await conn.fetch(
        "select courier_id, count(*) from reports where courier_id = any($1::bigint[]) and state = 'verified' "
        "group by courier_id", user_ids))
    out = {u: {"hours": 0, "communities": 0, "quarters": 0, "hazards": hazards.get(u, 0)} for u in user_ids}
    for r in rows:
        out[r["user_id"]].update(hours=r["hours"], communities=r["communities"],
                                 quarters=rules.longest_quarter_run((q // 10, q % 10) for q in r["quarters"] or []))
    return out


async def award(conn: asyncpg.Connection, user_id: int, community_id: int, code: str, name: str) -> int | None:
    """Give a medal once (None when the person holds, or held, that code); the person is told."""
    medal_id = await conn.fetchval(
        """Insert into medals (user_id, community_id, code, name, awarded_at) values ($1, $2, $3, $4, $5)
           on conflict (user_id, code) do nothing returning id""", user_id, community_id, code, name, clock.now())
    if medal_id is not None:
        await notify.send(conn, user_id, "medal_awarded", community_id=community_id, params={"medal": name},
                          link="/card.html#medals")
    return medal_id


async def sweep(conn: asyncpg.Connection, actor: Actor | None, community_id: int) -> SweepResult:
    """Award every member of the community what their figures reach. Safe to run again: nothing twice."""
    if actor is not None:
        orgs.require_manager(actor, community_id)
    people = [r["user_id"] for r in await conn.fetch(
        """Select distinct m.user_id from org_members m join orgs o on o.id = m.org_id
           where o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)""", community_id)]
    medal_rules = [(r.kind, r.threshold, r.name) for r in await rules_for(conn, community_id)]
    awarded = 0
    async with conn.transaction():
        figures = await _metrics(conn, people)
        for user_id in people:
            for code, name in rules.earned_medals(figures[user_id], medal_rules):
                awarded += await award(conn, user_id, community_id, code, name) is not None
        if actor is not None:
            await audit.record(conn, actor, "medal_sweep", community_id=community_id, target=("org", community_id),
                               after={"people": len(people), "awarded": awarded})
    return SweepResult(community_id, len(people), awarded)


async def of_people(conn: asyncpg.Connection, user_ids: list[int]) -> dict[int, list[str]]:
    """The names of the medals each person holds (not revoked), for cards and 公示."""
    rows = await conn.fetch("select user_id, name from medals where user_id = any($1::bigint[]) and revoked_at is null "
                            "order by awarded_at, id", user_ids)
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append(r["name"])
    return out


async def mine(conn: asyncpg.Connection, actor: Actor) -> list[Medal]:
    rows = await conn.fetch("select * from medals where user_id = $1 order by awarded_at, id", actor.id)
    return [Medal(**{k: r[k] for k in Medal.__struct_fields__}) for r in rows]


async def revoke(conn: asyncpg.Connection, actor: Actor, medal_id: int, reason: str) -> Medal:
    text = " ".join((reason or "").split())
    if not 1 <= len(text) <= 500:
        raise invalid("reason", "1 to 500 characters")
    async with conn.transaction():
        row = await conn.fetchrow("select * from medals where id = $1 for update", medal_id)
        if row is None:
            raise not_found("medal")
        orgs.require_manager(actor, row["community_id"])
        if actor.id == row["user_id"]:
            raise forbidden("nobody revokes their own medal")
        if row["revoked_at"] is not None:
            raise DomainError("invalid_state", details={"state": "revoked"})
        await conn.execute("update medals set revoked_at = $2, revoked_by = $3, revoke_reason = $4 where id = $1",
                           medal_id, clock.now(), actor.id, text)
        await audit.record(conn, actor, "medal_revoke", community_id=row["community_id"], target=("user", row["user_id"]),
                           before={"medal_id": medal_id, "code": row["code"], "name": row["name"]}, reason=text)
        await notify.send(conn, row["user_id"], "medal_revoked", community_id=row["community_id"],
                          params={"medal": row["name"], "reason": text[:100]}, link="/card.html#medals")
        row = await conn.fetchrow("select * from medals where id = $1", medal_id)
    return Medal(**{k: row[k] for k in Medal.__struct_fields__})


async def of_community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[Medal]:
    orgs.require_reader(actor, community_id)
    rows = await conn.fetch("select * from medals where community_id = $1 order by id desc limit 500", community_id)
    return [Medal(**{k: r[k] for k in Medal.__struct_fields__}) for r in rows]


async def sweep_daily(pool: asyncpg.Pool, now: datetime) -> int:
    """The periodic sweep (api/capabilities.py): each community with members, once a local day, one
    short transaction each (sweeper.one_row: a community that fails is logged and tried next round).
    Returns how many medals it awarded."""
    from domain.core import sweeper  # the sweeper imports capabilities, which import this module
    day = clock.local_day(now)
    due = await pool.fetch(
        """Select o.id from orgs o where o.kind = 'community'
             and exists (select 1 from org_members m join orgs g on g.id = m.org_id
                          where g.id = o.id or (g.kind = 'grid' and g.parent_id = o.id))
             and not exists (select 1 from medal_sweep_days d where d.community_id = o.id and d.day = $1)
           order by o.id""", day)
    awarded = 0

    async def one(conn: asyncpg.Connection, community_id: int) -> int:
        claimed = await conn.fetchval("insert into medal_sweep_days (community_id, day, swept_at) values ($1, $2, $3) "
                                      "on conflict do nothing returning 1", community_id, day, now)
        return (await sweep(conn, None, community_id)).awarded if claimed else 0

    for row in due:
        awarded += await sweeper.one_row(pool, "medal_sweep", row["id"], partial(one, community_id=row["id"])) or 0
    return awarded


SWEEPS = (sweep_daily,)  # listed in api/capabilities.py

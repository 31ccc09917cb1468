"""Below the grid: 微网格 (a building or a few) under a grid, and the residents who hold its
roles, 邻里长 (leader) and 微网格员 (worker), by invitation they accepted (domain/people/invites.py).

A community's managers make the 微网格 and place residents in them. A role holder marks attendance
for the residents of their 微网格 who have no phone, with the manager's mark and its rules
(domain/checkin mark_for_micro_grid). The grid's page shows each 微网格 with its role holders, party
members first, and 党员户 beside a household whose party member chose to show it (亮身份).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import forbidden, invalid, not_found
from domain.people import orgs


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    name: str
    role: str                   # leader | worker
    party_member: bool          # a confirmed party member of some unit
    party_shown: bool           # and chose to show it (亮身份)


class Resident(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    name: str
    household: str | None
    has_phone: bool
    party_household: bool       # 党员户: a party member who shows it lives here


class MicroGrid(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    grid_id: int
    grid_name: str
    community_id: int
    name: str
    buildings: str
    created_at: datetime
    holders: list[Holder]
    residents: int
    my_role: str | None = None
    phoneless: list[Resident] = []   # for its role holders and managers: whom they may mark


async def _grid(conn: asyncpg.Connection, grid_id: int) -> orgs.Org:
    grid = await orgs.get_org(conn, grid_id)
    if grid.kind != "grid":
        raise invalid("grid_id", "a grid")
    return grid


async def create(conn: asyncpg.Connection, actor: Actor, grid_id: int, *, name: str, buildings: str = "",
                 ip: str | None = None) -> MicroGrid:
    grid = await _grid(conn, grid_id)
    orgs.require_manager(actor, grid.community_id)
    name, buildings = " ".join((name or "").split()), " ".join((buildings or "").split())
    if not 1 <= len(name) <= 50:
        raise invalid("name", "1 to 50 characters")
    if len(buildings) > 200:
        raise invalid("buildings", "at most 200 characters")
    async with conn.transaction():
        micro_id = await conn.fetchval(
            "insert into micro_grids (grid_id, name, buildings, created_at) values ($1, $2, $3, $4) "
            "on conflict (grid_id, name) do nothing returning id", grid_id, name, buildings, clock.now())
        if micro_id is None:
            raise invalid("name", "this grid has a 微网格 of that name")
        await audit.record(conn, actor, "micro_grid_create", community_id=grid.community_id,
                           target=("micro_grid", micro_id), after={"grid_id": grid_id, "name": name}, ip=ip)
    return await get(conn, actor, micro_id)


async def place(conn: asyncpg.Connection, actor: Actor, micro_grid_id: int, user_id: int, *,
                ip: str | None = None) -> MicroGrid:
    """A manager places a resident of the community in a 微网格 (where they live)."""
    micro = await _micro(conn, micro_grid_id)
    orgs.require_manager(actor, micro["community_id"])
    await orgs.require_member_of(conn, user_id, micro["community_id"])
    async with conn.transaction():
        before = await conn.fetchval("select micro_grid_id from resident_profiles where community_id = $1 "
                                     "and user_id = $2", micro["community_id"], user_id)
        if before != micro_grid_id:
            await conn.execute(
                """Insert into resident_profiles (community_id, user_id, micro_grid_id, updated_at)
                   values ($1, $2, $3, $4) on conflict (community_id, user_id)
                   do update set micro_grid_id = excluded.micro_grid_id, updated_at = excluded.updated_at""",
                micro["community_id"], user_id, micro_grid_id, clock.now())
            await audit.record(conn, actor, "micro_grid_assign", community_id=micro["community_id"],
                               target=("user", user_id), before={"micro_grid_id": before},
                               after={"micro_grid_id": micro_grid_id}, ip=ip)
    return await get(conn, actor, micro_grid_id)


async def _micro(conn: asyncpg.Connection, micro_grid_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select m.*, g.parent_id as community_id, g.name as grid_name from micro_grids m "
                              "join orgs g on g.id = m.grid_id where m.id = $1", micro_grid_id)
    if row is None:
        raise not_found("micro_grid")
    return row


async def _role(conn: asyncpg.Connection, actor: Actor, micro_grid_id: int) -> str | None:
    return await conn.fetchval("select role from micro_grid_roles where micro_grid_id = $1 and user_id = $2",
                               micro_grid_id, actor.id)


async def _may_see(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    if actor.reads(community_id) or community_id in await orgs.member_communities(conn, actor.id):
        return
    raise forbidden("not a member of this community")


_HOLDERS = """
    select r.micro_grid_id, r.user_id, u.name, r.role,
           exists (select 1 from unit_members m where m.user_id = r.user_id and m.party_member and m.confirmed)
               as party_member,
           coalesce((select p.shown from party_identity p where p.user_id = r.user_id), false) as party_shown
    from micro_grid_roles r join users u on u.id = r.user_id
    where r.micro_grid_id = any($1::bigint[])
    order by r.role, party_member desc, u.name"""

_RESIDENTS = """
    select p.user_id, u.name, p.household, u.phone is not null as has_phone,
           exists (select 1 from resident_profiles q join unit_members m on m.user_id = q.user_id
                     and m.party_member and m.confirmed
                   join party_identity i on i.user_id = q.user_id and i.shown
                   where q.community_id = p.community_id and q.household is not null
                     and q.household = p.household) as party_household
    from resident_profiles p join users u on u.id = p.user_id
    where p.micro_grid_id = $1 and u.active order by p.household nulls last, u.name limit 500"""


async def _build(conn: asyncpg.Connection, actor: Actor, rows: list[asyncpg.Record]) -> list[MicroGrid]:
    ids = [r["id"] for r in rows]
    holders: dict[int, list[Holder]] = {i: [] for i in ids}
    for h in await conn.fetch(_HOLDERS, ids):
        holders[h["micro_grid_id"]].append(Holder(user_id=h["user_id"], name=h["name"], role=h["role"],
                                                  party_member=h["party_member"],
                                                  party_shown=h["party_member"] and h["party_shown"]))
    counts = {r["micro_grid_id"]: r["n"] for r in await conn.fetch(
        "select micro_grid_id, count(*)::int as n from resident_profiles where micro_grid_id = any($1::bigint[]) "
        "group by micro_grid_id", ids)}
    out = []
    for r in rows:
        mine = next((h.role for h in holders[r["id"]] if h.user_id == actor.id), None)
        phoneless: list[Resident] = []
        if mine or actor.can_manage(r["community_id"]):
            phoneless = [Resident(**dict(x)) for x in await conn.fetch(_RESIDENTS, r["id"]) if not x["has_phone"]]
        out.append(MicroGrid(id=r["id"], grid_id=r["grid_id"], grid_name=r["grid_name"], community_id=r["community_id"],
                             name=r["name"], buildings=r["buildings"], created_at=r["created_at"],
                             holders=holders[r["id"]], residents=counts.get(r["id"], 0), my_role=mine,
                             phoneless=phoneless))
    return out


async def get(conn: asyncpg.Connection, actor: Actor, micro_grid_id: int) -> MicroGrid:
    row = await _micro(conn, micro_grid_id)
    await _may_see(conn, actor, row["community_id"])
    return (await _build(conn, actor, [row]))[0]


async def of_grid(conn: asyncpg.Connection, actor: Actor, grid_id: int) -> list[MicroGrid]:
    """A grid's 微网格 with their 邻里长 and 微网格员 (the grid's page)."""
    grid = await _grid(conn, grid_id)
    assert grid.community_id is not None
    await _may_see(conn, actor, grid.community_id)
    rows = await conn.fetch("select m.*, g.parent_id as community_id, g.name as grid_name from micro_grids m "
                            "join orgs g on g.id = m.grid_id where m.grid_id = $1 order by m.name, m.id", grid_id)
    return await _build(conn, actor, list(rows))


async def mine(conn: asyncpg.Connection, actor: Actor) -> list[MicroGrid]:
    """The 微网格 where the person holds a role."""
    rows = await conn.fetch(
        "select m.*, g.parent_id as community_id, g.name as grid_name from micro_grid_roles r "
        "join micro_grids m on m.id = r.micro_grid_id join orgs g on g.id = m.grid_id where r.user_id = $1 "
        "order by m.name", actor.id)
    return await _build(conn, actor, list(rows))


async def markable(conn: asyncpg.Connection, actor: Actor, micro_grid_id: int, activity_id: int) -> set[int]:
    """Whom a role holder of this 微网格 may mark as attending this activity of its community: its
    residents without a phone (domain/checkin `mark_for_micro_grid` marks them)."""
    micro = await _micro(conn, micro_grid_id)
    if await _role(conn, actor, micro_grid_id) is None:
        raise forbidden("not the 邻里长 or 微网格员 of this 微网格")
    community = await conn.fetchval("select community_id from activities where id = $1", activity_id)
    if community is None:
        raise not_found("activity")
    if community != micro["community_id"]:
        raise invalid("activity_id", "an activity of this 微网格's community")
    return {r["user_id"] for r in await conn.fetch(_RESIDENTS, micro_grid_id) if not r["has_phone"]}


async def show_party_identity(conn: asyncpg.Connection, actor: Actor, shown: bool) -> bool:
    """亮身份: a party member chooses to show it (their household reads 党员户), or stops."""
    if not await conn.fetchval("select exists (select 1 from unit_members where user_id = $1 and party_member "
                               "and confirmed)", actor.id):
        raise forbidden("only a confirmed party member")
    await conn.execute("insert into party_identity (user_id, shown, updated_at) values ($1, $2, $3) "
                       "on conflict (user_id) do update set shown = excluded.shown, updated_at = excluded.updated_at",
                       actor.id, shown, clock.now())
    return shown

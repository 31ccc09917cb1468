"""The organisation tree (district → street → community → grid), managers, members and teams.

`require_manager` is the one scope check every manager action goes through: an admin may act
everywhere, a manager only inside the communities they were appointed to. Every change here writes
its audit row (domain/audit.py) in the same transaction; `ip` is the requester's, passed by the API.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, queries

# Actor and who may act are core's (domain/core/actor.py); re-exported here for older importers.
from domain.core.actor import (  # noqa: F401
    ACTOR_SCOPE_COLUMNS,
    Actor,
    require_admin,
    require_level_manager,
    require_manager,
    require_reader,
)
from domain.core.errors import DomainError, not_found

CORE = queries.load("core")
Q = queries.load("people")

PARENT_KIND = {"district": None, "street": "district", "community": "street", "grid": "community"}


class Org(msgspec.Struct, frozen=True):
    id: int
    kind: str
    name: str
    parent_id: int | None
    created_at: datetime
    community_id: int | None = None  # the community this org is or belongs to (grids), else None


async def load_actor(conn: asyncpg.Connection, user_id: int) -> Actor:
    row = await conn.fetchrow(
        f"select u.id, u.name, u.is_admin, {ACTOR_SCOPE_COLUMNS} from users u where u.id = $1", user_id)
    return Actor(row["id"], row["name"], row["is_admin"], frozenset(row["manages"]), frozenset(row["oversees"]))


async def community_of(conn: asyncpg.Connection, org_id: int) -> int | None:
    """The community an org is, or sits under (for grids)."""
    row = await conn.fetchrow(
        "select o.kind, o.id, o.parent_id from orgs o where o.id = $1", org_id)
    if row is None:
        return None
    if row["kind"] == "community":
        return row["id"]
    if row["kind"] == "grid":
        return row["parent_id"]
    return None


def _org(row: asyncpg.Record) -> Org:
    community = row["id"] if row["kind"] == "community" else row["parent_id"] if row["kind"] == "grid" else None
    return Org(row["id"], row["kind"], row["name"], row["parent_id"], row["created_at"], community)


async def get_org(conn: asyncpg.Connection, org_id: int) -> Org:
    row = await conn.fetchrow("select id, kind, name, parent_id, created_at from orgs where id = $1", org_id)
    if row is None:
        raise not_found("org")
    return _org(row)


async def can_read(conn: asyncpg.Connection, actor: Actor, org: Org) -> bool:
    """Admins read everything; managers read their communities and the grids under them; a street's or
    district's managers read their level and everything below it (DESIGN.md "Roles follow the tree")."""
    if org.community_id is not None:
        return actor.reads(org.community_id)
    if actor.is_admin:
        return True
    return await conn.fetchval(
        CORE.manages_org_or_its_parent, org.id, actor.id)


async def create_org(conn: asyncpg.Connection, actor: Actor, *, kind: str, name: str,
                     parent_id: int | None, ip: str | None = None) -> Org:
    require_admin(actor)
    name = " ".join(name.split())
    if not name:
        raise DomainError("validation_failed", field="name", details={"problem": "required"})
    if kind not in PARENT_KIND:
        raise DomainError("validation_failed", field="kind")
    want_parent = PARENT_KIND[kind]
    if want_parent is None and parent_id is not None:
        raise DomainError("validation_failed", field="parent_id", details={"problem": "a district has no parent"})
    if want_parent is not None:
        parent = await conn.fetchrow("select kind from orgs where id = $1", parent_id) if parent_id else None
        if parent is None or parent["kind"] != want_parent:
            raise DomainError("validation_failed", field="parent_id",
                              details={"problem": f"a {kind} belongs to a {want_parent}"})
    async with conn.transaction():
        row = await conn.fetchrow(
            "insert into orgs (kind, name, parent_id) values ($1, $2, $3) "
            "returning id, kind, name, parent_id, created_at", kind, name, parent_id)
        if kind == "community":
            await ledger.open_community_accounts(conn, row["id"])
        org = _org(row)
        await audit.record(conn, actor, "org_create", community_id=org.community_id, target=("org", org.id),
                           after={"kind": kind, "name": name, "parent_id": parent_id}, ip=ip)
    return org


async def list_orgs(conn: asyncpg.Connection, actor: Actor, parent_id: int | None,
                    limit: int, after: int) -> list[Org]:
    rows = await conn.fetch(
        """Select id, kind, name, parent_id, created_at from orgs
           where parent_id is not distinct from $1 and id > $2 order by id limit $3""",
        parent_id, after, limit)
    # The tree's names are public (they are on every poster): anyone signed in may walk it to choose
    # where they live (报到, joining). What lies inside an org stays behind its own checks.
    return list(map(_org, rows))


def no_such_user() -> DomainError:
    """The one answer for a person one may not reach and for an id nobody has: ids cannot be enumerated."""
    return DomainError("not_found", field="user_id", details={"what": "user"})


async def _require_user(conn: asyncpg.Connection, user_id: int) -> None:
    if not await conn.fetchval("select 1 from users where id = $1", user_id):
        raise no_such_user()


async def require_member_of(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """The person belongs to this community (directly or through a grid); else the 404 of an unknown id."""
    if community_id not in await member_communities(conn, user_id):
        raise no_such_user()


async def appoint_manager(conn: asyncpg.Connection, actor: Actor, org_id: int, user_id: int, *,
                          ip: str | None = None) -> None:
    require_admin(actor)
    org = await get_org(conn, org_id)
    if org.kind not in ("community", "street", "district"):
        raise DomainError("validation_failed", field="org_id",
                          details={"problem": "managers are appointed to a community, street or district"})
    await _require_user(conn, user_id)
    async with conn.transaction():
        added = await conn.fetchval("insert into org_managers (org_id, user_id) values ($1, $2) "
                                    "on conflict do nothing returning true", org_id, user_id)
        if added:  # appointing a manager twice changes nothing, so it is not audited twice
            await audit.record(conn, actor, "role_grant", community_id=org.community_id, target=("user", user_id),
                               after={"role": "manager", "org_id": org_id}, ip=ip)


async def remove_manager(conn: asyncpg.Connection, actor: Actor, org_id: int, user_id: int, *,
                         ip: str | None = None) -> None:
    require_admin(actor)
    async with conn.transaction():
        removed = await conn.fetchval("delete from org_managers where org_id = $1 and user_id = $2 returning true",
                                      org_id, user_id)
        if removed:
            await audit.record(conn, actor, "role_revoke", community_id=org_id, target=("user", user_id),
                               before={"role": "manager", "org_id": org_id}, ip=ip)


async def add_member(conn: asyncpg.Connection, actor: Actor, org_id: int, user_id: int, role: str, *,
                     ip: str | None = None) -> None:
    """Volunteers join a community, couriers a grid; the community's manager decides."""
    org = await get_org(conn, org_id)
    require_manager(actor, org.community_id)
    want = {"volunteer": "community", "courier": "grid"}.get(role)
    if want is None:
        raise DomainError("validation_failed", field="role")
    if org.kind != want:
        raise DomainError("validation_failed", field="org_id", details={"problem": f"a {role} joins a {want}"})
    assert org.community_id is not None  # a community, or a grid: both have one
    # Membership is by consent (DESIGN.md): a manager gives another role to someone already in one of
    # their communities, never picks an existing person from elsewhere (that is an invitation the
    # person accepts). Admins build the platform and may place anyone.
    if actor.is_admin:
        await _require_user(conn, user_id)
    elif not set(await member_communities(conn, user_id)) & actor.manages:
        raise no_such_user()
    async with conn.transaction():
        old = await conn.fetchval("select role from org_members where org_id = $1 and user_id = $2 for update",
                                  org_id, user_id)
        if old == role:
            return
        await conn.execute(Q.put_member, org_id, user_id, role)
        await ledger.open_member_accounts(conn, user_id, org.community_id)
        await audit.record(conn, actor, "member_add" if old is None else "member_edit", community_id=org.community_id,
                           target=("user", user_id), before={"role": old, "org_id": org_id} if old else None,
                           after={"role": role, "org_id": org_id}, ip=ip)


async def member_communities(conn: asyncpg.Connection, user_id: int) -> list[int]:
    """Communities a person belongs to, directly or through their grid."""
    rows = await conn.fetch(
        """Select distinct case when o.kind = 'grid' then o.parent_id else o.id end as community_id
           from org_members m join orgs o on o.id = m.org_id where m.user_id = $1""", user_id)
    return [r["community_id"] for r in rows]


async def require_manager_of_user(conn: asyncpg.Connection, actor: Actor, user_id: int) -> None:
    """A manager may see or act on a person only while the person belongs to one of the manager's
    communities. Anyone else gets the 404 of an id nobody has, so ids cannot be enumerated."""
    if actor.is_admin:
        await _require_user(conn, user_id)
        return
    if not set(await member_communities(conn, user_id)) & actor.manages:
        raise no_such_user()


class Team(msgspec.Struct, frozen=True):
    id: int
    name: str
    community_id: int


async def create_team(conn: asyncpg.Connection, actor: Actor, name: str, community_id: int, *,
                      ip: str | None = None) -> Team:
    org = await get_org(conn, community_id)
    if org.kind != "community":
        raise DomainError("validation_failed", field="community_id")
    require_manager(actor, community_id)
    name = " ".join(name.split())
    if not name:
        raise DomainError("validation_failed", field="name", details={"problem": "required"})
    async with conn.transaction():
        row = await conn.fetchrow("insert into teams (name, community_id) values ($1, $2) "
                                  "returning id, name, community_id", name, community_id)
        await audit.record(conn, actor, "team_create", community_id=community_id, target=("team", row["id"]),
                           after={"name": name}, ip=ip)
    return Team(**row)


async def add_team_member(conn: asyncpg.Connection, actor: Actor, team_id: int, user_id: int, *,
                          ip: str | None = None) -> None:
    community_id = await conn.fetchval("select community_id from teams where id = $1", team_id)
    if community_id is None:
        raise not_found("team")
    require_manager(actor, community_id)
    await require_member_of(conn, user_id, community_id)  # a team is of its community's members only
    async with conn.transaction():
        added = await conn.fetchval("insert into team_members (team_id, user_id) values ($1, $2) "
                                    "on conflict do nothing returning true", team_id, user_id)
        if added:
            await audit.record(conn, actor, "team_member_add", community_id=community_id, target=("user", user_id),
                               after={"team_id": team_id}, ip=ip)

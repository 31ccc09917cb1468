"""What the manager and admin console shows at a glance: the organisation tree with its managers
and teams, renaming and moving orgs (admins), and the pending queues of the other capabilities.

The queues count rows of tables other capabilities own. They are looked up by name (to_regclass)
so the console works whichever of them are installed.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid
from domain.people import auth, orgs

Q = queries.load("people")


class TreeManager(msgspec.Struct, frozen=True):
    id: int
    name: str
    phone: str | None   # masked: co-managers and admins find people by name and search, not by number


class TreeTeam(msgspec.Struct, frozen=True):
    id: int
    name: str
    members: int


class TreeNode(msgspec.Struct, frozen=True):
    id: int
    kind: str
    name: str
    parent_id: int | None
    created_at: datetime
    members: int = 0                                 # communities and grids: people in them
    managers: list[TreeManager] = []                 # communities
    teams: list[TreeTeam] = []                       # communities
    children: list["TreeNode"] = []


class Tree(msgspec.Struct, frozen=True):
    roots: list[TreeNode]
    editable: bool        # admins build the tree; managers read their part


async def tree(conn: asyncpg.Connection, viewer: Actor) -> Tree:
    """Admins get the whole tree; a manager gets their communities (as roots) with their grids."""
    if not viewer.is_admin and not viewer.manages:
        raise DomainError("forbidden", details={"why": "managers and admins only"})
    scope = None if viewer.is_admin else sorted(viewer.manages)
    # Member counts in one pass over the members of the orgs shown: a grid counts its couriers, a
    # community everyone in it or its grids (a per-org subquery made the admin's tree of a whole city
    # quadratic; counting the whole city's org_members for one community's manager took 185 ms of
    # PostgreSQL CPU in a city of 300,000).
    rows = await conn.fetch(
        Q.org_tree_with_counts, scope)
    ids = [r["id"] for r in rows]
    managers: dict[int, list[TreeManager]] = {}
    for m in await conn.fetch("select m.org_id, u.id, u.name, u.phone from org_managers m join users u "
                              "on u.id = m.user_id where m.org_id = any($1) order by m.org_id, u.id", ids):
        phone = m["phone"] if m["id"] == viewer.id else auth.mask_phone(m["phone"])
        managers.setdefault(m["org_id"], []).append(TreeManager(m["id"], m["name"], phone))
    teams: dict[int, list[TreeTeam]] = {}
    for t in await conn.fetch("select t.community_id, t.id, t.name, count(tm.user_id) as members from teams t "
                              "left join team_members tm on tm.team_id = t.id where t.community_id = any($1) "
                              "group by t.id order by t.id", ids):
        teams.setdefault(t["community_id"], []).append(TreeTeam(t["id"], t["name"], t["members"]))
    children: dict[int | None, list[asyncpg.Record]] = {}
    known = set(ids)
    for r in rows:
        parent = r["parent_id"] if r["parent_id"] in known else None  # a manager's communities are roots
        children.setdefault(parent, []).append(r)

    def node(r: asyncpg.Record) -> TreeNode:
        return TreeNode(id=r["id"], kind=r["kind"], name=r["name"], parent_id=r["parent_id"],
                        created_at=r["created_at"], members=r["members"], managers=managers.get(r["id"], []),
                        teams=teams.get(r["id"], []), children=[node(c) for c in children.get(r["id"], [])])

    return Tree(roots=[node(r) for r in children.get(None, [])], editable=viewer.is_admin)


async def edit_org(conn: asyncpg.Connection, actor: Actor, org_id: int, *, name: str | None = None,
                   parent_id: int | None = None, ip: str | None = None) -> orgs.Org:
    """Rename an org, or move a street to another district or a community to another street.

    A grid stays in its community: its couriers' reports are filed under that community, and the
    reports table ties the two together."""
    orgs.require_admin(actor)
    async with conn.transaction():
        row = await conn.fetchrow("select id, kind, name, parent_id from orgs where id = $1 for update", org_id)
        if row is None:
            raise DomainError("not_found", details={"what": "org"})
        new_name = row["name"] if name is None else " ".join(name.split())
        if not 1 <= len(new_name) <= 100:
            raise invalid("name", "1 to 100 characters")
        new_parent = row["parent_id"] if parent_id is None else parent_id
        if new_parent != row["parent_id"]:
            if row["kind"] in ("district", "grid"):
                raise invalid("parent_id", "a district has no parent; a grid stays in its community")
            want = orgs.PARENT_KIND[row["kind"]]
            if await conn.fetchval("select kind from orgs where id = $1", new_parent) != want:
                raise invalid("parent_id", f"a {row['kind']} belongs to a {want}")
        if (new_name, new_parent) == (row["name"], row["parent_id"]):
            return await orgs.get_org(conn, org_id)
        await conn.execute("update orgs set name = $2, parent_id = $3 where id = $1", org_id, new_name, new_parent)
        org = await orgs.get_org(conn, org_id)
        changed = [k for k, old, new in (("name", row["name"], new_name), ("parent_id", row["parent_id"], new_parent))
                   if old != new]
        await audit.record(conn, actor, "org_edit", community_id=org.community_id, target=("org", org_id),
                           before={k: row[k] for k in changed},
                           after={k: {"name": new_name, "parent_id": new_parent}[k] for k in changed}, ip=ip)
        return org


# ---- queues -----------------------------------------------------------------------------------

class Queue(msgspec.Struct, frozen=True):
    key: str              # i18n key suffix for the label
    href: str             # the page that works the queue
    pending: int | None   # None: the capability is not installed or has no count


class Summary(msgspec.Struct, frozen=True):
    communities: list[orgs.Org]
    is_admin: bool
    members: int
    audit_today: int
    queues: list[Queue]


_SCOPE = "($1::bigint[] is null or {col} = any($1))"

# (key, the page that works the queue, the table it needs, how many wait there)
QUEUES = (
    ("redemptions", "/redemptions.html", "redemptions",
     "select count(*) from redemptions where state = 'requested' and " + _SCOPE.format(col="community_id")),
    ("reports", "/reports.html", "reports",
     "select count(*) from reports where state = 'pending' and " + _SCOPE.format(col="community_id")),
    ("timebank", "/timebank.html", "service_requests",
     "select count(*) from service_requests where state = 'completed' and " + _SCOPE.format(col="community_id")),
    ("activities", "/activities.html", "activities",
     "select count(*) from activities where state = 'published' and ends_at > $2 and "
     + _SCOPE.format(col="community_id")),
    ("appeals", "/rankings.html", "posting_appeals",
     "select count(*) from posting_appeals a join postings p on p.id = a.posting_id "
     "where a.answered_at is null and " + _SCOPE.format(col="p.community_id")),
    ("joining", "/joining.html", "join_requests",
     "select count(*) from join_requests where state = 'pending' and " + _SCOPE.format(col="community_id")),
    # what waits for a second person, and the flags about managers (both on /held.html)
    ("held", "/held.html", "held_acts",
     "select (select count(*) from held_acts where state = 'pending' and " + _SCOPE.format(col="community_id")
     + ") + (select count(*) from adjustment_requests where state = 'pending' and "
     + _SCOPE.format(col="community_id") + ") + (select count(*) from redemptions where held_maker is not null "
     "and state = 'requested' and " + _SCOPE.format(col="community_id") + ")"),
    ("manager_flags", "/held.html#flags", "manager_flags",
     "select count(*) from manager_flags where resolved_at is null and " + _SCOPE.format(col="community_id")),
    ("dashboard", "/dashboard.html", None, None),
)


async def _pending(conn: asyncpg.Connection, table: str, sql: str, scope: list[int] | None) -> int | None:
    """How many rows wait in another capability's queue; None when it is not installed (or not as expected)."""
    if not await conn.fetchval("select to_regclass($1) is not null", table):
        return None
    try:
        return await conn.fetchval(sql, scope, *((clock.now(),) if "$2" in sql else ()))
    except asyncpg.PostgresError:  # a capability changed its table: show the link without a count
        return None


async def summary(conn: asyncpg.Connection, viewer: Actor) -> Summary:
    if not viewer.is_admin and not viewer.manages:
        raise DomainError("forbidden", details={"why": "managers and admins only"})
    scope = None if viewer.is_admin else sorted(viewer.manages)
    rows = await conn.fetch("select id, kind, name, parent_id, created_at from orgs where kind = 'community' "
                            "and ($1::bigint[] is null or id = any($1)) order by id", scope)
    communities = [orgs.Org(r["id"], r["kind"], r["name"], r["parent_id"], r["created_at"], r["id"]) for r in rows]
    ids = [c.id for c in communities]
    # The communities' orgs (themselves and their grids) first, then their members by org_members'
    # key: the `case` over every membership read the whole city's org_members for one community.
    members = await conn.fetchval(
        """Select count(distinct m.user_id) from org_members m
           where m.org_id = any(array(select o.id from orgs o
                                       where o.id = any($1) or (o.kind = 'grid' and o.parent_id = any($1))))""",
        ids)
    day_start = clock.day_bounds(clock.now())[0]
    audit_today = await conn.fetchval(
        "select count(*) from audit_log where created_at >= $1 and ($2::bigint[] is null or community_id = any($2))",
        day_start, scope)
    queues = []
    for key, href, table, sql in QUEUES:
        queues.append(Queue(key, href, await _pending(conn, table, sql, scope) if table and sql else None))
    return Summary(communities=communities, is_admin=viewer.is_admin, members=members, audit_today=audit_today,
                   queues=queues)

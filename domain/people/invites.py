"""Roles by consent: a manager of a level, a unit's administrator, a party member of a
unit reporting to their home community, a 微网格's 邻里长 or 微网格员. Someone above names the
person by phone (a city list, or a page); the person, signed in with that phone, accepts or
declines. Nobody holds one of these roles without having accepted it.

Who may name whom:
- a manager of a community, street or district: a platform admin, or a manager of a level above it
  (a street's manager names its communities' managers; a district's, its streets' and communities');
- a unit's administrator: a manager of the unit's street or district (or the district above);
- a 邻里长 / 微网格员: a manager of the 微网格's community, and only a member of that community;
- a party member: the city list (domain/people/city.py), loaded by the level above the unit.

Naming the same person for the same role again changes nothing. Naming and answering are audited
(`role_invite`, `role_invite_answer`); the answer writes the role in its own transaction.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock, outbox
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import auth, orgs

ROLE_KINDS = ("manager", "unit_admin", "party_member", "micro_leader", "micro_worker")


class RoleInvite(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    name: str                      # the name the inviter gave
    phone: str                     # masked, except to the person themself
    state: str
    org_id: int | None
    org_name: str | None           # the level (manager) or the home community (party member)
    grid_name: str | None
    unit_id: int | None
    unit_name: str | None
    micro_grid_id: int | None
    micro_grid_name: str | None
    invited_by: str
    created_at: datetime


_SELECT = """
    select i.id, i.kind, i.name, i.phone, i.state, i.org_id, o.name as org_name, g.name as grid_name, i.unit_id,
           u.name as unit_name, i.micro_grid_id, mg.name as micro_grid_name, p.name as invited_by, i.created_at
    from role_invites i join users p on p.id = i.invited_by
    left join orgs o on o.id = i.org_id left join orgs g on g.id = i.grid_id
    left join units u on u.id = i.unit_id left join micro_grids mg on mg.id = i.micro_grid_id"""


def _invite(row: asyncpg.Record, *, own: bool) -> RoleInvite:
    values = dict(row)
    if not own:
        values["phone"] = auth.mask_phone(values["phone"])
    return RoleInvite(**values)


async def _may_name_manager(conn: asyncpg.Connection, actor: Actor, org: orgs.Org) -> None:
    if org.kind not in ("community", "street", "district"):
        raise invalid("org_id", "managers are appointed to a community, street or district")
    if actor.is_admin:
        return
    if org.parent_id is None:
        raise forbidden("only a platform admin appoints a district's managers")
    await orgs.require_level_manager(conn, actor, org.parent_id)


async def _micro_grid(conn: asyncpg.Connection, micro_grid_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select m.*, g.parent_id as community_id from micro_grids m join orgs g on g.id = m.grid_id "
                              "where m.id = $1", micro_grid_id)
    if row is None:
        raise not_found("micro_grid")
    return row


async def invite(conn: asyncpg.Connection, actor: Actor, *, kind: str, phone: str, name: str,
                 org_id: int | None = None, unit_id: int | None = None, micro_grid_id: int | None = None,
                 ip: str | None = None) -> RoleInvite:
    """Name a person for a role (a page's act; a city list uses city.py). Answered by the person."""
    phone = auth.normalise_phone(phone)
    name = auth.check_name(name)
    community_id = None
    if kind == "manager":
        if org_id is None:
            raise invalid("org_id", "required")
        org = await orgs.get_org(conn, org_id)
        await _may_name_manager(conn, actor, org)
        community_id = org.community_id
        unit_id = micro_grid_id = None
    elif kind == "unit_admin":
        if unit_id is None:
            raise invalid("unit_id", "required")
        parent_id = await conn.fetchval("select parent_id from units where id = $1", unit_id)
        if parent_id is None:
            raise not_found("unit")
        await orgs.require_level_manager(conn, actor, parent_id)
        org_id = micro_grid_id = None
    elif kind in ("micro_leader", "micro_worker"):
        if micro_grid_id is None:
            raise invalid("micro_grid_id", "required")
        micro = await _micro_grid(conn, micro_grid_id)
        community_id = micro["community_id"]
        orgs.require_manager(actor, community_id)
        resident = await conn.fetchval("select id from users where phone = $1 and active", phone)
        if resident is None or community_id not in await orgs.member_communities(conn, resident):
            raise invalid("phone", "a resident of this community")
        org_id = unit_id = None
    else:
        raise invalid("kind", "manager, unit_admin, micro_leader or micro_worker")
    async with conn.transaction():
        invite_id = await conn.fetchval(
            """Insert into role_invites (kind, phone, name, org_id, unit_id, micro_grid_id, invited_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8)
               on conflict (kind, phone, coalesce(org_id, 0), coalesce(unit_id, 0), coalesce(micro_grid_id, 0))
                   where kind <> 'party_member' do nothing returning id""",
            kind, phone, name, org_id, unit_id, micro_grid_id, actor.id, clock.now())
        if invite_id is None:  # named before: the first invitation stands (answered or not)
            invite_id = await conn.fetchval(
                """Select id from role_invites where kind = $1 and phone = $2 and coalesce(org_id, 0) = coalesce($3, 0)
                   and coalesce(unit_id, 0) = coalesce($4, 0) and coalesce(micro_grid_id, 0) = coalesce($5, 0)""",
                kind, phone, org_id, unit_id, micro_grid_id)
        else:
            await audit.record(conn, actor, "role_invite", community_id=community_id,
                               target=("role_invite", invite_id),
                               after={"kind": kind, "org_id": org_id, "unit_id": unit_id,
                                      "micro_grid_id": micro_grid_id}, ip=ip)
            row = await conn.fetchrow(_SELECT + " where i.id = $1", invite_id)
            await _tell(conn, row, community_id)
    row = await conn.fetchrow(_SELECT + " where i.id = $1", invite_id)
    return _invite(row, own=False)


async def _tell(conn: asyncpg.Connection, row: asyncpg.Record, community_id: int | None) -> None:
    """A message (in the act's transaction) to the account holding the phone, if there is one; someone
    without an account sees the invitation when they register with that phone."""
    user_id = await conn.fetchval("select id from users where phone = $1 and active", row["phone"])
    if user_id is None:
        return
    where = row["org_name"] or row["unit_name"] or row["micro_grid_name"] or ""
    await outbox.send(conn, user_id, "role_invited", community_id=community_id, link="/",
                      # the role is a word notify renders in the reader's language (rules.WORDS)
                      params={"inviter": row["invited_by"], "where": where, "role": row["kind"]},
                      dedup_key=f"role_invite:{row['id']}")


async def _phone(conn: asyncpg.Connection, actor: Actor) -> str | None:
    return await conn.fetchval("select phone from users where id = $1", actor.id)


async def mine(conn: asyncpg.Connection, actor: Actor) -> list[RoleInvite]:
    """The open invitations for the signed-in person's phone."""
    phone = await _phone(conn, actor)
    if phone is None:
        return []
    rows = await conn.fetch(_SELECT + " where i.phone = $1 and i.state = 'open' order by i.id desc limit 50", phone)
    return [_invite(r, own=True) for r in rows]


async def answer(conn: asyncpg.Connection, actor: Actor, invite_id: int, *, accept: bool,
                 ip: str | None = None) -> RoleInvite:
    """The person named accepts (the role is theirs) or declines. To anyone else it does not exist."""
    phone = await _phone(conn, actor)
    now = clock.now()
    async with conn.transaction():
        row = await conn.fetchrow("select * from role_invites where id = $1 and phone = $2 for update",
                                  invite_id, phone)
        if row is None:
            raise not_found("invitation")
        if row["state"] != "open":
            raise DomainError("invalid_state", details={"state": row["state"]})
        state = "accepted" if accept else "declined"
        await conn.execute("update role_invites set state = $2, answered_at = $3, answered_by = $4 where id = $1",
                           invite_id, state, now, actor.id)
        community_id = None
        if accept:
            community_id = await _grant(conn, actor, row, now)
        await audit.record(conn, actor, "role_invite_answer", community_id=community_id,
                           target=("role_invite", invite_id),
                           after={"state": state, "kind": row["kind"], "org_id": row["org_id"],
                                  "unit_id": row["unit_id"], "micro_grid_id": row["micro_grid_id"]}, ip=ip)
    out = await conn.fetchrow(_SELECT + " where i.id = $1", invite_id)
    return _invite(out, own=True)


async def _grant(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record, now: datetime) -> int | None:
    """Write the accepted role; returns the community it is inside, if any (for the audit row)."""
    kind = row["kind"]
    if kind == "manager":
        await conn.execute("insert into org_managers (org_id, user_id) values ($1, $2) on conflict do nothing",
                           row["org_id"], actor.id)
        return await orgs.community_of(conn, row["org_id"])
    if kind == "unit_admin":
        await conn.execute("insert into unit_admins (unit_id, user_id, created_at) values ($1, $2, $3) "
                           "on conflict do nothing", row["unit_id"], actor.id, now)
        return None
    if kind == "party_member":
        # the unit's own list named them: a confirmed party member, who reports to the community where
        # they live; that community's managers confirm the 报到 as any other (domain/units decide)
        await conn.execute(
            """Insert into unit_members (unit_id, user_id, party_member, confirmed, created_at)
               values ($1, $2, true, true, $3)
               on conflict (unit_id, user_id) do update set party_member = true, confirmed = true""",
            row["unit_id"], actor.id, now)
        await conn.execute(
            """Insert into unit_reports (user_id, unit_id, community_id, grid_id, state, created_at)
               values ($1, $2, $3, $4, 'pending', $5)
               on conflict (user_id) where state in ('pending', 'approved') do nothing""",
            actor.id, row["unit_id"], row["org_id"], row["grid_id"], now)
        return row["org_id"]
    micro = await _micro_grid(conn, row["micro_grid_id"])
    if micro["community_id"] not in await orgs.member_communities(conn, actor.id):
        raise DomainError("invalid_state", details={"problem": "no longer a resident of this community"})
    await conn.execute(
        """Insert into micro_grid_roles (micro_grid_id, user_id, role, created_at) values ($1, $2, $3, $4)
           on conflict (micro_grid_id, user_id) do update set role = excluded.role""",
        row["micro_grid_id"], actor.id, "leader" if kind == "micro_leader" else "worker", now)
    await ledger.open_member_accounts(conn, actor.id, micro["community_id"])
    return micro["community_id"]


async def sent(conn: asyncpg.Connection, actor: Actor, *, org_id: int | None = None, unit_id: int | None = None,
               level_id: int | None = None) -> list[RoleInvite]:
    """Invitations for one level's managers, one unit's administrators, or the administrators of every
    unit under a street or district (`level_id`, one request for the page's whole list)."""
    if level_id is not None:
        await orgs.require_level_manager(conn, actor, level_id)
        rows = await conn.fetch(
            _SELECT + """ where i.kind = 'unit_admin' and i.unit_id in (
                select x.id from units x join orgs p on p.id = x.parent_id where x.parent_id = $1 or p.parent_id = $1)
              order by i.id desc limit 2000""", level_id)
    elif org_id is not None:
        org = await orgs.get_org(conn, org_id)
        await _may_name_manager(conn, actor, org)
        rows = await conn.fetch(_SELECT + " where i.kind = 'manager' and i.org_id = $1 order by i.id desc limit 200",
                                org_id)
    elif unit_id is not None:
        parent_id = await conn.fetchval("select parent_id from units where id = $1", unit_id)
        if parent_id is None:
            raise not_found("unit")
        await orgs.require_level_manager(conn, actor, parent_id)
        rows = await conn.fetch(_SELECT + " where i.kind = 'unit_admin' and i.unit_id = $1 order by i.id desc limit 200",
                                unit_id)
    else:
        raise invalid("org_id", "org_id, unit_id or level_id")
    return [_invite(r, own=False) for r in rows]

"""The signed-in person: profile, roles, balances and statement."""

import asyncpg
import msgspec
from litestar import Controller, get

from api.deps import page_args
from domain import ledger, units
from domain.core.actor import Actor, OrgRef
from domain.ledger import statements
from domain.recognition import rulebook


class Membership(msgspec.Struct):
    org_id: int
    org_name: str
    kind: str
    role: str
    community_id: int


class Me(msgspec.Struct):
    id: int
    name: str
    phone: str | None
    is_admin: bool
    roles: list[str]
    manages: list[OrgRef]
    memberships: list[Membership]
    balances: dict[str, ledger.Balance]
    levels: list[OrgRef] = []          # streets and districts this person manages (read-only above communities)
    administers_units: bool = False    # administers a work unit (双报到)


async def load_me(conn: asyncpg.Connection, actor: Actor) -> Me:
    phone = await conn.fetchval("select phone from users where id = $1", actor.id)
    manages = await conn.fetch("select o.id, o.name from org_managers m join orgs o on o.id = m.org_id "
                               "where m.user_id = $1 order by o.id", actor.id)
    members = await conn.fetch(
        """Select o.id as org_id, o.name as org_name, o.kind, m.role,
                  case when o.kind = 'grid' then o.parent_id else o.id end as community_id
           from org_members m join orgs o on o.id = m.org_id where m.user_id = $1 order by o.id""", actor.id)
    community_manager = any(r["id"] in actor.manages for r in manages)
    # on a partner organisation's staff: handles the cases dispatched to it
    handles_cases = bool(await conn.fetchval("select 1 from partner_staff where user_id = $1 limit 1", actor.id))
    roles = sorted({m["role"] for m in members} | ({"manager"} if community_manager else set())
                   | ({"admin"} if actor.is_admin else set()) | ({"handler"} if handles_cases else set()))
    levels = await units.levels_of(conn, actor)  # the one answer to "which levels does this person manage"
    administers_units = bool(await conn.fetchval("select 1 from unit_admins where user_id = $1 limit 1", actor.id))
    return Me(id=actor.id, name=actor.name, phone=phone, is_admin=actor.is_admin, roles=roles,
              manages=[OrgRef(**r) for r in manages if r["id"] in actor.manages],
              memberships=[Membership(**r) for r in members], balances=await ledger.balances(conn, actor.id),
              levels=[OrgRef(id=r["id"], name=r["name"]) for r in levels], administers_units=administers_units)


class MeController(Controller):
    path = "/api/me"
    tags = ["me"]

    @get("/")
    async def me(self, actor: Actor, pool: asyncpg.Pool) -> Me:
        async with pool.acquire() as conn:
            return await load_me(conn, actor)

    @get("/balances")
    async def balances(self, actor: Actor, pool: asyncpg.Pool) -> ledger.Wallet:
        """Totals per unit (总额 / 冻结中 / 可用) and the part issued by each community."""
        async with pool.acquire() as conn:
            return await ledger.wallet(conn, actor.id)

    @get("/statement")
    async def statement(self, actor: Actor, pool: asyncpg.Pool, unit: str = "points", limit: int = 20,
                        cursor: str | None = None) -> statements.StatementPage:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await statements.statement(conn, actor.id, unit, limit, before, rules_of=rulebook.rules_of)


CONTROLLERS = (MeController,)  # listed in api/capabilities.py

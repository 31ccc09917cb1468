"""Households (户): a manager groups members of a community into families, for 最美家庭 rankings.

A person belongs to one household at a time; adding them to another moves them (the household
ranking of a quarter counts a person's whole quarter in their current household).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import invalid, not_found
from domain.people import orgs


class Member(msgspec.Struct, frozen=True):
    user_id: int
    name: str


class Household(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    name: str
    created_at: datetime
    members: list[Member]


async def get(conn: asyncpg.Connection, household_id: int) -> Household:
    row = await conn.fetchrow("select id, community_id, name, created_at from households where id = $1",
                              household_id)
    if row is None:
        raise not_found("household")
    members = await conn.fetch(
        """Select u.id as user_id, u.name from household_members m join users u on u.id = m.user_id
           where m.household_id = $1 order by m.added_at, u.id""", household_id)
    return Household(**row, members=[Member(**m) for m in members])


async def create(conn: asyncpg.Connection, actor: Actor, *, community_id: int, name: str) -> Household:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "a community")
    orgs.require_manager(actor, community_id)
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 50:
        raise invalid("name", "1 to 50 characters")
    async with conn.transaction():
        household_id = await conn.fetchval(
            "insert into households (community_id, name, created_by, created_at) values ($1, $2, $3, $4) returning id",
            community_id, name, actor.id, clock.now())
        await audit.record(conn, actor, "household_edit", community_id=community_id,
                           target=("household", household_id), after={"created": name})
    return await get(conn, household_id)


async def add_member(conn: asyncpg.Connection, actor: Actor, household_id: int, user_id: int) -> Household:
    """Only a member of the household's community joins it (volunteer, or courier of one of its grids)."""
    community_id = await conn.fetchval("select community_id from households where id = $1", household_id)
    if community_id is None:
        raise not_found("household")
    orgs.require_manager(actor, community_id)
    await orgs.require_member_of(conn, user_id, community_id)  # a stranger answers as an unknown id
    async with conn.transaction():
        before = await conn.fetchval("select household_id from household_members where user_id = $1 for update",
                                     user_id)
        await conn.execute(
            """Insert into household_members (user_id, household_id, added_by, added_at) values ($1, $2, $3, $4)
               on conflict (user_id) do update
               set household_id = excluded.household_id, added_by = excluded.added_by, added_at = excluded.added_at""",
            user_id, household_id, actor.id, clock.now())
        await audit.record(conn, actor, "household_edit", community_id=community_id,
                           target=("household", household_id),
                           before={"user_id": user_id, "household_id": before},
                           after={"user_id": user_id, "household_id": household_id})
    return await get(conn, household_id)


async def list_for(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[Household]:
    orgs.require_manager(actor, community_id)
    ids = await conn.fetch("select id from households where community_id = $1 order by id", community_id)
    return [await get(conn, r["id"]) for r in ids]

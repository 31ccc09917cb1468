"""A community's check-in policy, kept with the community in the database (checkin_policies): the daily
cap of check-in points and the kiosk code's rotation for the activities it creates. What a community
has not set comes from the environment (LINLI_DAILY_CHECKIN_POINTS_CAP, LINLI_ROTATION_SECONDS),
which gives defaults only. An activity copies the policy when it is created (its posters are
printed with it); a change applies to activities created afterwards."""

import asyncpg
import msgspec

from domain.core import audit, clock, settings
from domain.core.actor import Actor, require_manager
from domain.core.errors import invalid, not_found


class CheckinPolicy(msgspec.Struct, frozen=True):
    community_id: int
    daily_points_cap: int        # points one person may earn from check-ins here in a local day
    rotation_seconds: int        # how often a kiosk's check-in code changes
    daily_points_cap_set: bool   # false: the deployment's default (the environment)
    rotation_seconds_set: bool


async def effective(conn: asyncpg.Connection, community_id: int) -> CheckinPolicy:
    """The community's policy, its unset parts from the environment's defaults."""
    row = await conn.fetchrow("select daily_points_cap, rotation_seconds from checkin_policies "
                              "where community_id = $1", community_id)
    config = settings.get()
    cap = row["daily_points_cap"] if row else None
    rotation = row["rotation_seconds"] if row else None
    return CheckinPolicy(community_id=community_id,
                         daily_points_cap=config.daily_checkin_points_cap if cap is None else cap,
                         rotation_seconds=config.rotation_seconds if rotation is None else rotation,
                         daily_points_cap_set=cap is not None, rotation_seconds_set=rotation is not None)


async def _community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    kind = await conn.fetchval("select kind from orgs where id = $1", community_id)
    if kind != "community":
        raise not_found("community")
    require_manager(actor, community_id)


async def read(conn: asyncpg.Connection, actor: Actor, community_id: int) -> CheckinPolicy:
    await _community(conn, actor, community_id)
    return await effective(conn, community_id)


async def update(conn: asyncpg.Connection, actor: Actor, community_id: int, *, daily_points_cap: int | None,
                 rotation_seconds: int | None) -> CheckinPolicy:
    """Set the community's policy; None gives a part back to the environment's default. Audited."""
    await _community(conn, actor, community_id)
    if daily_points_cap is not None and not 0 <= daily_points_cap <= 100000:
        raise invalid("daily_points_cap", "0 to 100000")
    if rotation_seconds is not None and not 2 <= rotation_seconds <= 300:
        raise invalid("rotation_seconds", "2 to 300")
    async with conn.transaction():
        before = await effective(conn, community_id)
        await conn.execute(
            """insert into checkin_policies (community_id, daily_points_cap, rotation_seconds, updated_by, updated_at)
               values ($1, $2, $3, $4, $5)
               on conflict (community_id) do update set daily_points_cap = $2, rotation_seconds = $3,
                   updated_by = $4, updated_at = $5""",
            community_id, daily_points_cap, rotation_seconds, actor.id, clock.now())
        after = await effective(conn, community_id)
        await audit.record(conn, actor, "checkin_policy", community_id=community_id, target=("org", community_id),
                           before=msgspec.to_builtins(before), after=msgspec.to_builtins(after))
    return after

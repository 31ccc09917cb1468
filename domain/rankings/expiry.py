"""Optional points expiry per community: points earned in a year expire at the end of the next year.

The rule, precisely (ranking_rules.fifo_remaining does the arithmetic):
- Points are earned in lots: one per person, community and local day (earned_daily: awards and
  adjustments from the community's issuing account, net of their reversals).
- Spending is FIFO: every outflow (redemption, gift, deduction, earlier expiry) takes the oldest
  points first. So what a person still holds is always their newest points; the unspent points of
  year Y are the part of the available balance (balance minus held) that newer lots do not cover.
  Held points (a redemption waiting for approval) count as spent and never expire under a hold.
- From local midnight of 1 January Y+2 (LINLI_TZ, Asia/Shanghai by default), the sweep moves the
  unspent year-Y points of each community whose policy is on back to that community's issuing
  account: a transfer of kind "expiry", cause ("expiry", Y), visible in the person's statement.
  Lots of communities without the policy never expire, and minutes never expire.
- The sweep of year Y runs once per person (points_expiry_done is the claim, so several processes
  can sweep at once); when nobody is left, the year is marked finished and later sweeps skip it.
  A community that turns the policy on after its year-Y sweep finished expires from year Y+1 on.
"""

from datetime import date, datetime
from functools import partial

import asyncpg
import msgspec

from domain import ledger, rankings
from domain.core import audit, clock, queries, sweeper
from domain.core.actor import Actor
from domain.core.errors import invalid
from domain.people import orgs
from domain.rankings import rules

LEDGER = queries.load("ledger")

BATCH = 200


class Policy(msgspec.Struct, frozen=True):
    community_id: int
    points_expire: bool
    updated_at: datetime | None


class ExpiringItem(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    year: int                  # the year the points were earned
    points: int


class Expiring(msgspec.Struct, frozen=True):
    expires_at: datetime       # when the items below expire, unless spent first
    total: int
    items: list[ExpiringItem]


# ---- policy -----------------------------------------------------------------------------------

async def _community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "a community")
    orgs.require_manager(actor, community_id)


async def get_policy(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Policy:
    await _community(conn, actor, community_id)
    row = await conn.fetchrow("select points_expire, updated_at from points_expiry_policy where community_id = $1",
                              community_id)
    return Policy(community_id, bool(row and row["points_expire"]), row["updated_at"] if row else None)


async def set_policy(conn: asyncpg.Connection, actor: Actor, community_id: int, points_expire: bool) -> Policy:
    await _community(conn, actor, community_id)
    now = clock.now()
    async with conn.transaction():
        before = await conn.fetchval("select points_expire from points_expiry_policy where community_id = $1 "
                                     "for update", community_id)
        await conn.execute(
            """Insert into points_expiry_policy (community_id, points_expire, updated_by, updated_at)
               values ($1, $2, $3, $4) on conflict (community_id) do update
               set points_expire = excluded.points_expire, updated_by = excluded.updated_by,
                   updated_at = excluded.updated_at""", community_id, points_expire, actor.id, now)
        await audit.record(conn, actor, "expiry_policy", community_id=community_id, target=("org", community_id),
                           before={"points_expire": bool(before)}, after={"points_expire": points_expire})
    return Policy(community_id, points_expire, now)


# ---- the arithmetic over the database ---------------------------------------------------------

async def _unspent(conn: asyncpg.Connection, user_id: int, year: int, available: dict[int, int]) -> dict[int, int]:
    """Unspent points earned in `year`, per community whose policy is on. `available` is per issuing
    community (a person's points are kept per community, migrations/018): FIFO runs within each."""
    rows = await conn.fetch(
        """Select e.day, e.community_id, e.earned from earned_daily e
           where e.user_id = $1 and e.unit = 'points' and e.day >= $2""", user_id, date(year, 1, 1))
    unspent: dict[int, int] = {}
    for community_id, points in available.items():
        lots = [rules.Lot(r["day"], r["community_id"], r["earned"]) for r in rows if r["community_id"] == community_id]
        unspent |= rules.unspent_of_year(points, lots, year)
    if not unspent:
        return {}
    on = await conn.fetch("select community_id from points_expiry_policy where points_expire "
                          "and community_id = any($1::bigint[])", list(unspent))
    return {r["community_id"]: unspent[r["community_id"]] for r in on}


async def expiring(conn: asyncpg.Connection, user_id: int) -> Expiring:
    """Points that expire next (at the end of this year: those earned last year), if not spent first."""
    tz = clock.zone()
    await rankings.sync_time_zone(conn)
    year = clock.local_day(clock.now(), tz).year - 1
    available = {r["org_id"]: r["available"] for r in await conn.fetch(
        LEDGER.available_points_by_community, user_id)}
    unspent = await _unspent(conn, user_id, year, available)
    names = {r["id"]: r["name"] for r in await conn.fetch(
        "select id, name from orgs where id = any($1::bigint[])", list(unspent))}
    items = [ExpiringItem(c, names.get(c, ""), year, p) for c, p in sorted(unspent.items())]
    return Expiring(expires_at=rules.expiry_of_year(year, tz), total=sum(unspent.values()), items=items)


# ---- the sweep --------------------------------------------------------------------------------

async def _expire_person(conn: asyncpg.Connection, user_id: int, year: int, now: datetime) -> int:
    """In the caller's transaction: claim (year, person), then move their unspent year-`year` points."""
    claimed = await conn.fetchval(
        """Insert into points_expiry_done (year, user_id, expired, swept_at) values ($1, $2, 0, $3)
           on conflict do nothing returning true""", year, user_id, now)
    if not claimed:
        return 0  # another process swept this person
    accounts = await conn.fetch(
        "select id, org_id, balance - held as available from accounts where user_id = $1 and unit = 'points' "
        "and kind = 'user' order by id for update", user_id)
    if not accounts:
        return 0
    ids = {r["org_id"]: r["id"] for r in accounts}
    total = 0
    unspent = await _unspent(conn, user_id, year, {r["org_id"]: r["available"] for r in accounts})
    for community_id, points in sorted(unspent.items()):
        await ledger.post(conn, unit="points", debit=ids[community_id],
                          credit=await ledger.org_account(conn, community_id, "issuing", "points"),
                          amount=points, kind="expiry", cause=("expiry", year),
                          memo=f"{year}年积分到期",
                          key=f"expiry:{year}:{user_id}:{community_id}")
        total += points
    await conn.execute("update points_expiry_done set expired = $3 where year = $1 and user_id = $2",
                       year, user_id, total)
    return total


async def expire_year(pool: asyncpg.Pool, year: int, now: datetime | None = None) -> int:
    """Sweep every person with year-`year` points in a community with the policy; one short
    transaction per person. Callable from a CLI; returns the points moved."""
    now = now or clock.now()
    tz = clock.zone()
    if now < rules.expiry_of_year(year, tz):
        raise invalid("year", f"points of {year} expire only at {rules.expiry_of_year(year, tz).isoformat()}")
    async with pool.acquire() as conn:
        await rankings.sync_time_zone(conn)
    moved = 0
    failed: list[int] = []  # people whose sweep failed (logged and counted): left for the next round
    while True:
        people = await pool.fetch(
            """Select distinct e.user_id from earned_daily e
                 join points_expiry_policy p on p.community_id = e.community_id and p.points_expire
                where e.unit = 'points' and e.day >= $1 and e.day < $2 and e.earned > 0
                  and not exists (select 1 from points_expiry_done d where d.year = $3 and d.user_id = e.user_id)
                  and e.user_id <> all($5::bigint[])
                limit $4""", date(year, 1, 1), date(year + 1, 1, 1), year, BATCH, failed)
        if not people:
            break
        for r in people:
            result = await sweeper.one_row(pool, "points_expiry", r["user_id"],
                                           partial(_expire_person, user_id=r["user_id"], year=year, now=now))
            if result is None:
                failed.append(r["user_id"])
            moved += result or 0
    if failed:  # the year is not finished: the next round tries these people again
        return moved
    await pool.execute("insert into points_expiry_years (year, finished_at) values ($1, $2) on conflict do nothing",
                       year, now)
    return moved


async def sweep(pool: asyncpg.Pool, now: datetime) -> int:
    """The periodic sweep: expire the year that is due, once."""
    year = rules.year_due_for_expiry(now, clock.zone())
    if await pool.fetchval("select 1 from points_expiry_years where year = $1", year):
        return 0
    return await expire_year(pool, year, now)


SWEEPS = (sweep,)  # listed in api/capabilities.py

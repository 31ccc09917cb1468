"""The community dashboard: how the community is doing at a glance, for its managers.

Cheap reads only: earnings come from earned_daily, redemptions from the supermarket account's
entries, queues from the capability tables by their (community_id, state) indexes. Tables of
capabilities that are not installed yet are skipped (to_regclass), and their numbers are null.
"""

from datetime import date, datetime, timedelta

import asyncpg
import msgspec

from domain import ledger, rankings
from domain.core import clock, queries
from domain.core.actor import Actor
from domain.core.errors import not_found
from domain.people import orgs
from domain.rankings import rules

Q = queries.load("rankings")
PEOPLE = queries.load("people")

WEEKS = 12
TOP_ACTIVITIES_DAYS = 30


class Week(msgspec.Struct, frozen=True):
    week_start: date           # a Monday, local
    issued: int                # points earned from the community (net of annulments)
    redeemed: int              # points that reached the supermarket (net of refunds)


class Queues(msgspec.Struct, frozen=True):
    redemptions: int | None    # requests waiting for approval
    reports: int | None        # courier reports waiting for verification
    timebank: int | None       # services done, waiting for the minutes to be confirmed


class TopActivity(msgspec.Struct, frozen=True):
    id: int
    title: str
    starts_at: datetime
    people: int
    points: int
    minutes: int


class Dashboard(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    generated_at: datetime
    time_zone: str
    month_start: date
    active_volunteers: int     # people who earned points or minutes from the community this month
    points_issued_month: int
    points_redeemed_month: int
    minutes_banked_month: int
    minutes_banked_total: int
    weeks: list[Week]
    queues: Queues
    top_activities: list[TopActivity]


async def _table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval("select to_regclass($1) is not null", name)


# Queue name -> (table, count of what waits for a manager of community $1). A capability that is not
# installed counts as None; the page then leaves its card out.
QUEUES = {
    "redemptions": ("redemptions", "select count(*) from redemptions where community_id = $1 and state = 'requested'"),
    "reports": ("reports", "select count(*) from reports where community_id = $1 and state = 'pending'"),
    "services": ("service_requests",
                 "select count(*) from service_requests where community_id = $1 and state = 'completed'"),
    "appeals": ("posting_appeals", "select count(*) from posting_appeals a join postings p on p.id = a.posting_id "
                                   "where p.community_id = $1 and a.answered_at is null"),
    "join_requests": ("join_requests", PEOPLE.join_requests_waiting),
    "unit_reports": ("unit_reports",
                     "select count(*) from unit_reports where community_id = $1 and state = 'pending'"),
    "adjustments": ("adjustment_requests",
                    "select count(*) from adjustment_requests where community_id = $1 and state = 'pending'"),
}


async def _count_if(conn: asyncpg.Connection, table: str, sql: str, *args) -> int | None:
    """A count from another capability's table, or None when that capability is not installed."""
    if not await _table_exists(conn, table):
        return None
    return await conn.fetchval(sql, *args)


async def points_redeemed(conn: asyncpg.Connection, community_ids: list[int], start: datetime,
                          end: datetime) -> dict[int, int]:
    """兑换积分, the one definition every page uses (the community's dashboard, the street's and the
    district's overview): points that reached each community's supermarket account from start to
    end, net of refunds. A redemption counts when it is approved (its points are posted), not when
    the goods are handed over: the points are spent then (the overview used to count only
    handed-over rewards and read 0 where the dashboard read 230)."""
    rows = await conn.fetch(
        """Select a.org_id, coalesce(sum(e.amount), 0)::bigint as amount
           from accounts a join entries e on e.account_id = a.id and e.created_at >= $2 and e.created_at < $3
           where a.org_id = any($1::bigint[]) and a.kind = 'supermarket' and a.unit = 'points'
           group by a.org_id""", community_ids, start, end)
    found = {r["org_id"]: r["amount"] for r in rows}
    return {c: found.get(c, 0) for c in community_ids}


async def _redeemed_by_day(conn: asyncpg.Connection, account: int, since: datetime, tz: str) -> dict[date, int]:
    # Entries on the supermarket account are redemptions (+) and their refunds (-). The account
    # sees far fewer postings than the issuing one, so its entries_account range is read whole.
    rows = await conn.fetch(
        """Select (created_at at time zone $3)::date as day, sum(amount)::bigint as amount from entries
           where account_id = $1 and created_at >= $2 group by 1""", account, since, tz)
    return {r["day"]: r["amount"] for r in rows}


async def _top_activities(conn: asyncpg.Connection, community_id: int, since: datetime) -> list[TopActivity]:
    if not (await _table_exists(conn, "activities") and await _table_exists(conn, "attendances")):
        return []
    rows = await conn.fetch(
        Q.top_activities, community_id, since, clock.now())
    return [TopActivity(**r) for r in rows]


async def dashboard(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Dashboard:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    orgs.require_reader(actor, community_id)  # street and district managers read it too
    tz_name = await rankings.sync_time_zone(conn)
    tz = clock.zone()
    now = clock.now()
    mondays = rules.week_starts(now, tz, WEEKS)
    month = rules.month_start(now, tz)
    first = min(mondays[0], month)

    # Summed by PostgreSQL: the rows themselves (a community of 20,000, five weeks) cost the app 47 ms
    # of CPU per call to add up.
    by_week = {r["monday"]: r["issued"] for r in await conn.fetch(
        """Select date_trunc('week', day)::date as monday, sum(earned)::bigint as issued from earned_daily
           where community_id = $1 and unit = 'points' and day >= $2 group by 1""", community_id, first)}
    this_month = await conn.fetchrow(
        """Select count(distinct user_id) filter (where earned > 0)::int as active,
                  coalesce(sum(earned) filter (where unit = 'points'), 0)::bigint as points,
                  coalesce(sum(earned) filter (where unit = 'minutes'), 0)::bigint as minutes
           from earned_daily where community_id = $1 and day >= $2""", community_id, month)
    supermarket = await ledger.org_account(conn, community_id, "supermarket", "points")
    redeemed = await _redeemed_by_day(conn, supermarket, rules.local_midnight(first, tz), tz_name)

    def week_of(day: date) -> date:
        return day - timedelta(days=day.weekday())

    issued_by_week = {m: by_week.get(m, 0) for m in mondays}
    redeemed_by_week = {m: 0 for m in mondays}
    points_month, minutes_month = this_month["points"], this_month["minutes"]
    for day, amount in redeemed.items():
        if week_of(day) in redeemed_by_week:
            redeemed_by_week[week_of(day)] += amount

    minutes_total = await conn.fetchval(
        "select coalesce(sum(earned), 0)::bigint from earned_daily where community_id = $1 and unit = 'minutes'",
        community_id)
    queues = Queues(
        redemptions=await _count_if(conn, *QUEUES["redemptions"], community_id),
        reports=await _count_if(conn, *QUEUES["reports"], community_id),
        timebank=await _count_if(conn, *QUEUES["services"], community_id))
    return Dashboard(
        community_id=community_id, community_name=org.name, generated_at=now, time_zone=tz_name, month_start=month,
        active_volunteers=this_month["active"], points_issued_month=points_month,
        points_redeemed_month=(await points_redeemed(conn, [community_id], rules.local_midnight(month, tz),
                                                     now + timedelta(microseconds=1)))[community_id],
        minutes_banked_month=minutes_month, minutes_banked_total=minutes_total,
        weeks=[Week(m, issued_by_week[m], redeemed_by_week[m]) for m in mondays], queues=queues,
        top_activities=await _top_activities(conn, community_id, now - timedelta(days=TOP_ACTIVITIES_DAYS)))

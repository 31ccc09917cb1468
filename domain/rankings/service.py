"""Quarterly rankings of points (or minutes) earned, per community, street, team or household,
as JSON and as CSV, and the community ledger export for audits.

Rankings read only `earned_quarterly`, the per person-community-quarter sum of `earned_daily`,
both kept by a trigger on `entries` in the posting's own transaction (migrations/008_rankings.sql
says what counts as earned, domain/rankings/sql/earned.sql keeps them). A ranking's period is a
whole quarter, so `quarter >= first day and quarter < end day` reads exactly its days. Scopes:
- community: everyone paid by the community's issuing account in the quarter (whoever they are);
- street: the same over all communities of the street, summed per person;
- team: every member of the team (zero included), earned from any community;
- household: every household of the community (org_id is the community), its members' earnings summed.
Only managers see rankings: of their community (community, team, household) or, for a street,
a manager of at least one of its communities; admins everywhere. Names are shown in full to
them, phone numbers always masked; the public posting (domain/postings.py) masks names too.
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import asyncpg
import msgspec

from domain import ledger
from domain.core import clock, csv_export, queries
from domain.core.actor import Actor
from domain.core.csv_export import cell as csv_cell
from domain.core.errors import forbidden, invalid, not_found
from domain.ledger import statements
from domain.people import orgs
from domain.rankings import rules

SCOPES = ("community", "street", "team", "household", "party", "units")
# Scopes wider than a community: a street's (or district's) communities; names masked as in 公示.
WIDE_SCOPES = ("street", "party", "units")

Q = queries.load("rankings")


class RankingItem(msgspec.Struct, frozen=True):
    rank: int
    id: int                    # the person, or the household
    name: str
    phone: str | None          # masked, e.g. 138****1234; none for households
    amount: int                # points, or minutes when unit is minutes
    members: list[str] | None = None  # a household's members


class Ranking(msgspec.Struct, frozen=True):
    scope: str
    org_id: int
    org_name: str
    quarter: str
    unit: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime
    total: int                 # rows in the full ranking (items may be cut to `limit`)
    items: list[RankingItem]


# ---- the rankings time zone -------------------------------------------------------------------

async def sync_time_zone(conn: asyncpg.Connection) -> str:
    """The zone of earned_daily's day buckets, LINLI_TZ, written to the database's copy first (a test
    may have changed it since the start; domain/core/clock.py `write_zone`)."""
    await clock.write_zone(conn)
    return clock.zone().key


# ---- rankings ---------------------------------------------------------------------------------

async def _authorise(conn: asyncpg.Connection, actor: Actor, scope: str, org_id: int) -> str:
    """Check the scope fits the org and the actor may see it; return the org's display name."""
    if scope == "team":
        team = await conn.fetchrow("select name, community_id from teams where id = $1", org_id)
        if team is None:
            raise not_found("team")
        orgs.require_manager(actor, team["community_id"])
        return team["name"]
    org = await orgs.get_org(conn, org_id)
    want = ("street", "district") if scope in ("party", "units") else ("street",) if scope == "street" else ("community",)
    if org.kind not in want:
        raise invalid("org_id", f"a {scope} ranking needs a {' or a '.join(want)}")
    if scope in WIDE_SCOPES:
        if not actor.is_admin:
            inside = await conn.fetchval(
                """Select count(*) from orgs where kind = 'community' and id = any($2::bigint[])
                   and (parent_id = $1 or parent_id in (select id from orgs where parent_id = $1))""",
                org_id, list(actor.manages | actor.oversees))
            if not inside:
                raise forbidden("not a manager in this street")
    elif scope == "community":
        orgs.require_reader(actor, org_id)
    else:
        orgs.require_manager(actor, org_id)
    return org.name


async def _unmasked(conn: asyncpg.Connection, actor: Actor, user_ids: list[int],
                    quarter: rules.Quarter) -> set[int]:
    """Whose full name this viewer may see in a ranking: themself, and the people of the communities
    they manage (members there, or who earned there this quarter). Everyone else shows masked, as
    in the public posting (公示): a street or district manager reads figures, not names."""
    if actor.is_admin:
        return set(user_ids)
    mine = await conn.fetch(
        """Select m.user_id from org_members m join orgs o on o.id = m.org_id
           where m.user_id = any($1::bigint[]) and (o.id = any($2::bigint[]) or o.parent_id = any($2::bigint[]))
           union
           select e.user_id from earned_quarterly e
           where e.user_id = any($1::bigint[]) and e.community_id = any($2::bigint[]) and e.quarter >= $3
             and e.quarter < $4""",
        user_ids, list(actor.manages), quarter.first_day, quarter.end_day)
    return {r["user_id"] for r in mine} | {actor.id}


def masked(items: list[RankingItem], visible: set[int]) -> list[RankingItem]:
    return [item if item.id in visible else msgspec.structs.replace(item, name=rules.mask_name(item.name))
            for item in items]


# Who a ranking of people lists, by scope: the closed list a wrapper's source is filled from
# (domain/rankings/queries.sql says why wrappers and sources).
_PEOPLE_SOURCES = {"community": Q.communities_earned, "street": Q.communities_earned, "party": Q.party_earned,
                   "team": Q.team_earned}


def ranking_sql(scope: str) -> str:
    """The statement behind each scope ($1 communities / team / community / street, $2 unit, $3..$4 days)."""
    if scope == "household":
        return Q.households_ranking
    if scope == "units":
        return Q.units_ranking
    return Q.people_ranking.format(source=people_source(scope))


async def _scope_key(conn: asyncpg.Connection, scope: str, org_id: int) -> object:
    if scope in ("street", "party"):
        return [r["id"] for r in await conn.fetch(
            """Select id from orgs where kind = 'community'
               and (parent_id = $1 or parent_id in (select id from orgs where parent_id = $1))""", org_id)]
    if scope == "community":
        return [org_id]
    return org_id


async def compute(conn: asyncpg.Connection, scope: str, org_id: int, quarter: rules.Quarter,
                  unit: str) -> list[RankingItem]:
    """The full ranking, without any permission check (callers check)."""
    await sync_time_zone(conn)
    rows = await conn.fetch(ranking_sql(scope), await _scope_key(conn, scope, org_id), unit,
                            quarter.first_day, quarter.end_day)
    ranks = rules.competition_ranks([r["amount"] for r in rows])
    if scope == "household":
        return [RankingItem(rank=rank, id=r["id"], name=r["name"], phone=None, amount=r["amount"],
                            members=list(r["members"])) for rank, r in zip(ranks, rows)]
    if scope == "units":
        return [RankingItem(rank=rank, id=r["id"], name=r["name"], phone=None, amount=r["amount"])
                for rank, r in zip(ranks, rows)]
    return [RankingItem(rank=rank, id=r["id"], name=r["name"], phone=rules.mask_phone(r["phone"]),
                        amount=r["amount"]) for rank, r in zip(ranks, rows)]


def people_source(scope: str) -> str:
    """(user_id, amount) of everyone a ranking of people lists ($1..$4 as ranking_sql)."""
    return _PEOPLE_SOURCES.get(scope, Q.communities_earned)


class Top(msgspec.Struct, frozen=True):
    """The head of a ranking of people, its length, and where one person stands in it."""
    items: list[RankingItem]
    total: int                 # how many the whole ranking holds
    person_rank: int | None    # None: the person earned nothing there (or nobody was asked about)
    person_amount: int


async def compute_top(conn: asyncpg.Connection, scope: str, org_id: int, quarter: rules.Quarter, unit: str,
                      limit: int, person: int | None = None) -> Top:
    """The first `limit` items of `compute` (a ranking of people: community, street, team, party), how
    many the whole ranking holds and `person`'s place in it, in one statement, without any permission
    check (callers check)."""
    if scope in ("household", "units"):
        raise ValueError("compute_top ranks people")
    await sync_time_zone(conn)
    rows = await conn.fetch(Q.people_top.format(source=people_source(scope)), await _scope_key(conn, scope, org_id),
                            unit, quarter.first_day, quarter.end_day, limit, person)
    items = [RankingItem(rank=r["rank"], id=r["id"], name=r["name"], phone=rules.mask_phone(r["phone"]),
                         amount=r["amount"]) for r in rows]
    amount = rows[0]["person_amount"] if rows else None
    return Top(items, rows[0]["total"] if rows else 0, None if amount is None else rows[0]["person_above"] + 1,
               amount or 0)


def _check_args(scope: str, unit: str) -> None:
    if scope not in SCOPES:
        raise invalid("scope", "community, street, team, household, party or units")
    if unit not in ledger.UNITS:
        raise invalid("unit", "points or minutes")


async def ranking(conn: asyncpg.Connection, actor: Actor, *, scope: str, org_id: int,
                  quarter: str | None, unit: str = "points", limit: int | None = None,
                  only_party: bool = False, work_unit: int | None = None) -> Ranking:
    """`only_party` and `work_unit` narrow a ranking of people to party members, or to the confirmed
    members of one work unit (双报到); ranks are recounted within the narrower list."""
    _check_args(scope, unit)
    tz = clock.zone()
    q = rules.parse_quarter(quarter) if quarter else rules.quarter_of(clock.now(), tz)
    name = await _authorise(conn, actor, scope, org_id)
    starts_at, ends_at = q.bounds(tz)
    if limit is not None and not (only_party or work_unit) and scope not in ("household", "units"):
        top = await compute_top(conn, scope, org_id, q, unit, limit)
        items, total = top.items, top.total
        if scope != "team":
            items = masked(items, await _unmasked(conn, actor, [i.id for i in items], q))
        return Ranking(scope=scope, org_id=org_id, org_name=name, quarter=str(q), unit=unit,
                       time_zone=str(tz.key), starts_at=starts_at, ends_at=ends_at, total=total, items=items)
    items = await compute(conn, scope, org_id, q, unit)
    if (only_party or work_unit) and scope not in ("household", "units"):
        keep = {r["user_id"] for r in await conn.fetch(
            """Select user_id from unit_members where confirmed and (not $1 or party_member)
               and ($2::bigint is null or unit_id = $2)""", only_party, work_unit)}
        items = [i for i in items if i.id in keep]
        ranks = rules.competition_ranks([i.amount for i in items])
        items = [msgspec.structs.replace(i, rank=rank) for rank, i in zip(ranks, items)]
    if scope not in ("household", "units", "team"):
        items = masked(items, await _unmasked(conn, actor, [i.id for i in items], q))
    return Ranking(scope=scope, org_id=org_id, org_name=name, quarter=str(q), unit=unit, time_zone=str(tz.key),
                   starts_at=starts_at, ends_at=ends_at, total=len(items),
                   items=items if limit is None else items[:limit])


RANKING_PAGE = 1_000  # rows per page of the streamed CSV (no whole ranking in memory)

def ranking_filename(scope: str, org_id: int, quarter: str, unit: str) -> str:
    return f"rankings-{scope}-{org_id}-{quarter}-{unit}.csv"


async def ranking_csv_pages(conn: asyncpg.Connection, actor: Actor, *, scope: str, org_id: int,
                            quarter: str | None, unit: str = "points", only_party: bool = False,
                            work_unit: int | None = None) -> AsyncIterator[bytes]:
    """The whole ranking `ranking` answers (every row, the same ranks, names masked alike) as CSV
    pages of RANKING_PAGE rows: the first starts with the byte-order mark and the header. Checks who
    asks before its first page, so the caller can answer a refusal as a JSON error. Runs inside the
    caller's transaction, one query read through a server-side cursor (a street's ranking is tens of
    thousands of people: built whole, +11 MB of a worker per export at city size); the
    caller writes the zone first (`sync_time_zone`), as the transaction may be read-only."""
    _check_args(scope, unit)
    tz = clock.zone()
    q = rules.parse_quarter(quarter) if quarter else rules.quarter_of(clock.now(), tz)
    await _authorise(conn, actor, scope, org_id)
    people = scope not in ("household", "units")
    narrow = people and (only_party or bool(work_unit))
    args: list[object] = [await _scope_key(conn, scope, org_id), unit, q.first_day, q.end_day]
    if narrow:
        args += [only_party, work_unit]
    # The whole ranking ranked by PostgreSQL, narrowed to work units' members first when asked.
    csv_sql = Q.ranking_csv_narrowed if narrow else Q.ranking_csv
    cursor = await conn.cursor(csv_sql.format(source=ranking_sql(scope)), *args)
    header = ["名次", "家庭", "成员"] if scope == "household" else ["名次", "姓名", "手机号"]
    header.append("积分" if unit == "points" else "时长(分钟)")
    first = True
    while True:
        rows = await cursor.fetch(RANKING_PAGE)
        if scope == "household":
            lines = [[r["rank"], r["name"], "、".join(r["members"]), r["amount"]] for r in rows]
        else:
            items = [RankingItem(rank=r["rank"], id=r["id"], name=r["name"],
                                 phone=rules.mask_phone(r["phone"]) if people else None, amount=r["amount"])
                     for r in rows]
            if scope not in ("units", "team"):
                items = masked(items, await _unmasked(conn, actor, [i.id for i in items], q))
            lines = [[i.rank, i.name, i.phone, i.amount] for i in items]
        if rows or first:
            yield csv_export.page(lines, header=header if first else None)
        first = False
        if len(rows) < RANKING_PAGE:
            return


class TeamRef(msgspec.Struct, frozen=True):
    id: int
    name: str
    members: int


async def teams_of(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[TeamRef]:
    """The community's teams, for choosing a team ranking."""
    orgs.require_manager(actor, community_id)
    rows = await conn.fetch(
        """Select t.id, t.name, (select count(*) from team_members m where m.team_id = t.id) as members
           from teams t where t.community_id = $1 order by t.name, t.id""", community_id)
    return [TeamRef(**r) for r in rows]


# ---- the community ledger as CSV --------------------------------------------------------------

KIND_ZH = {"award": "奖励", "adjustment": "调整", "reversal": "冲正", "redemption": "兑换", "service": "服务",
           "gift": "赠与", "donation": "捐赠", "expiry": "过期"}
CAUSE_ZH = {"activity": "志愿活动", "checkin": "活动签到", "report": "网格上报", "redemption": "道德超市兑换",
            "service": "时间银行服务", "adjustment": "人工调整", "gift": "亲情赠与", "donation": "捐赠",
            "expiry": "积分到期", "reversal": "冲正"}
ACCOUNT_ZH = {"issuing": "发放账户", "pool": "公共时间池", "supermarket": "道德超市"}
UNIT_ZH = {"points": "积分", "minutes": "分钟"}
MAX_EXPORT_DAYS = 731

LEDGER_HEADER = ["入账时间", "流水号", "类型", "事由", "说明", "单位", "数量", "付出方", "收入方",
                 "冲正的流水号", "经办人", "备注"]


def _date_arg(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise invalid(field, "a date like 2026-10-01") from None


LEDGER_PAGE = 1_000  # postings per page of the streamed export (no cap, constant memory)


async def ledger_csv_pages(conn: asyncpg.Connection, actor: Actor, community_id: int, date_from: str | None,
                           date_to: str | None) -> AsyncIterator[bytes]:
    """Every posting in [from, to] (local dates, both included) that touches the community's own
    accounts or an account of one of its members (volunteers, and couriers of its grids), as CSV
    pages of LEDGER_PAGE postings: the first starts with the byte-order mark and the header. Checks
    who asks and the period before its first page, so the caller can answer a refusal as a JSON error.

    Runs inside the caller's transaction: one query read through a server-side cursor. Not keyset
    pages: no index orders a community's entries by time (entries_account is by id), so every keyset
    page would read the accounts' whole history again (quadratic in the pages); one query reads it
    once, and the app holds one page at a time (a year of a 20,000-resident community was
    +57-73 MB built whole).

    A ledger lists postings: holds appear on the day they are posted; a hold voided or expired
    never moved value and is not listed. It walks entries_account (account_id, id desc) for each
    of those accounts and keeps the period's rows: an export for audits, not a hot path.
    """
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    orgs.require_manager(actor, community_id)
    tz = clock.zone()
    start, end = _date_arg(date_from, "from"), _date_arg(date_to, "to")
    if end < start:
        raise invalid("to", "on or after from")
    if (end - start).days >= MAX_EXPORT_DAYS:
        raise invalid("to", f"at most {MAX_EXPORT_DAYS} days")
    cursor = await conn.cursor(Q.ledger_postings, community_id, rules.local_midnight(start, tz),
                               rules.local_midnight(end + timedelta(days=1), tz))
    first = True
    while True:
        rows = await cursor.fetch(LEDGER_PAGE)
        if rows or first:
            yield await _ledger_page(conn, rows, tz, header=first)
        first = False
        if len(rows) < LEDGER_PAGE:
            return


async def _ledger_page(conn: asyncpg.Connection, rows: list[asyncpg.Record], tz, *, header: bool) -> bytes:
    """One page's lines, written as csv_export.to_csv writes them (CRLF, formula-safe cells)."""
    labels = await account_labels(conn, {r["debit_account"] for r in rows} | {r["credit_account"] for r in rows})
    memos = await statements.render_memos(conn, [r["memo"] for r in rows])  # people by their name today
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        buffer.write("\ufeff")
        writer.writerow(LEDGER_HEADER)
    for r, memo in zip(rows, memos):
        writer.writerow([csv_cell(v) for v in (
            clock.local_time(r["posted_at"], tz).strftime("%Y-%m-%d %H:%M:%S"), r["id"], KIND_ZH.get(r["kind"], r["kind"]),
            CAUSE_ZH.get(r["cause_type"], r["cause_type"] or ""), memo, UNIT_ZH.get(r["unit"], r["unit"]),
            r["amount"], labels.get(r["debit_account"], ""), labels.get(r["credit_account"], ""), r["reverses"],
            r["actor_name"], r["reason"])])
    return buffer.getvalue().encode()


async def account_labels(conn: asyncpg.Connection, account_ids: set[int]) -> dict[int, str]:
    """People as "name 138****1234", community accounts as "三苏社区 发放账户"."""
    rows = await conn.fetch(
        """Select a.id, a.kind, u.name as user_name, u.phone, o.name as org_name from accounts a
           left join users u on u.id = a.user_id left join orgs o on o.id = a.org_id
           where a.id = any($1::bigint[])""", list(account_ids))
    return {r["id"]: (f"{r['user_name']} {rules.mask_phone(r['phone'])}".strip() if r["kind"] == "user"
                      else f"{r['org_name']} {ACCOUNT_ZH.get(r['kind'], r['kind'])}") for r in rows}


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

"""Rankings with many postings: the query plan and timing of each ranking scope, and what the
earned_daily trigger adds to a posting.

    DATABASE_URL=postgresql://... python -m bench.rankings_plan [--postings 1000000]

Everything happens in ONE transaction that is rolled back at the end: the database is left as it
was (run it on a scratch database all the same; a million postings take a few minutes). It builds
a street of communities with their residents, posts awards through the real ledger triggers
(transfers -> entries -> earned_daily), then prints EXPLAIN (ANALYZE, BUFFERS) of the ranking
statements of domain/rankings.py. Expected: index range scans of earned_daily (its primary key
for community and street, earned_daily_user for team and household), never a scan of entries or
transfers: the ranking reads only the summary rows of its communities and quarter.
"""

import argparse
import asyncio
import os
import re
import time
from datetime import date

import asyncpg

from domain import rankings
from domain.core import db

QUARTER = (date(2026, 10, 1), date(2027, 1, 1))
STREETS = 5  # the communities are spread over a district of five streets


async def build(conn: asyncpg.Connection, postings: int, communities: int, people: int) -> int:
    """The org tree, people, accounts and `postings` awards spread over two quarters; returns one community id."""
    district = await conn.fetchval("insert into orgs (kind, name) values ('district', 'bench') returning id")
    await conn.execute("""insert into orgs (kind, name, parent_id)
                          select 'street', 'bench ' || g, $1 from generate_series(1, $2) g""", district, STREETS)
    streets = [r["id"] for r in await conn.fetch("select id from orgs where parent_id = $1 order by id", district)]
    await conn.execute("""insert into orgs (kind, name, parent_id)
                          select 'community', 'bench ' || g, ($1::bigint[])[1 + g % $3] from generate_series(1, $2) g""",
                       streets, communities, STREETS)
    await conn.execute("""insert into accounts (unit, kind, org_id)
                          select 'points', 'issuing', o.id from orgs o join orgs s on s.id = o.parent_id
                          where s.parent_id = $1""", district)
    await conn.execute("insert into users (name) select 'bench ' || g from generate_series(1, $1) g", people)
    # Person n is paid by the issuer n % communities (AWARDS_SQL): their account is that community's
    # (a person's accounts are per issuing community, migrations/018).
    await conn.execute("""insert into accounts (unit, kind, user_id, org_id)
                          select 'points', 'user', u.id, c.org_id
                          from (select id, row_number() over (order by id) - 1 as n from users
                                where name like 'bench %') u
                          join (select a.org_id, row_number() over (order by a.id) - 1 as k
                                from accounts a join orgs o on o.id = a.org_id join orgs s on s.id = o.parent_id
                                where s.parent_id = $1 and a.kind = 'issuing') c on c.k = u.n % $2
                          order by u.id""",
                       district, communities)
    # Each person lives in one community; awards land on random days of 2026Q3 and Q4.
    await conn.execute(f"""
        create temporary table bench_people on commit drop as
        select a.id as account, row_number() over (order by a.id) - 1 as n
        from accounts a join users u on u.id = a.user_id where u.name like 'bench %';
        create temporary table bench_issuers on commit drop as
        select a.id as account, row_number() over (order by a.id) - 1 as n
        from accounts a join orgs o on o.id = a.org_id join orgs s on s.id = o.parent_id
        where s.parent_id = {district} and a.kind = 'issuing';""")
    # A team and households over the first community's people, for the team/household statements.
    first = await conn.fetchval("select o.org_id from bench_issuers i join accounts o on o.id = i.account where i.n = 0")
    team = await conn.fetchval("insert into teams (name, community_id) values ('bench', $1) returning id", first)
    await conn.execute("""insert into team_members (team_id, user_id)
                          select $1, a.user_id from bench_people p join accounts a on a.id = p.account
                          where p.n % $2 = 0 limit 40""", team, communities)
    await conn.execute("""insert into households (community_id, name, created_at)
                          select $1, 'bench ' || g, now() from generate_series(1, 20) g""", first)
    await conn.execute("""insert into household_members (user_id, household_id, added_at)
                          select a.user_id, h.id, now()
                          from (select account, row_number() over () as k from bench_people where n % $1 = 0 limit 40) p
                          join accounts a on a.id = p.account
                          join (select id, row_number() over (order by id) as k from households where name like 'bench %') h
                            on h.k = (p.k - 1) / 2 + 1""", communities)
    return first


AWARDS_SQL = """
    insert into transfers (unit, debit_account, credit_account, amount, kind, state, created_at)
    select 'points', i.account, p.account, 5 + (g % 20), 'award', 'posted',
           timestamptz '2026-07-01 08:00+08' + (g % 184) * interval '1 day' + (g % 600) * interval '1 minute'
    from generate_series(1, $1) g
    join bench_people p on p.n = (g * 7919) % (select count(*) from bench_people)
    join bench_issuers i on i.n = p.n % $2"""


async def post_awards(conn: asyncpg.Connection, count: int, communities: int) -> float:
    started = time.perf_counter()
    await conn.execute(AWARDS_SQL, count, communities)
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=200_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or db.database_url()
    await db.migrate(url)
    conn = await asyncpg.connect(url)
    tr = conn.transaction()
    await tr.start()
    try:
        community = await build(conn, args.postings, args.communities, args.people)
        # The trigger's cost: EXPLAIN ANALYZE gives the time spent in transfers_apply (which writes
        # the entries and so runs their triggers), per posting, with and without entries_track_earned;
        # alternating, best of two (the machine may be shared: the minimum is the least disturbed).
        sample = min(5_000, args.postings // 4)
        best: dict[bool, float] = {}
        for enabled in (False, True, False, True):
            await conn.execute(f"alter table entries {'enable' if enabled else 'disable'} trigger entries_track_earned")
            plan = "\n".join(r[0] for r in await conn.fetch("explain (analyze) " + AWARDS_SQL, sample, args.communities))
            ms = float(re.search(r"Trigger transfers_apply: time=([0-9.]+)", plan).group(1))
            best[enabled] = min(best.get(enabled, ms), ms)
        print(f"ledger triggers per posting: {best[False] * 1000 / sample:.0f} µs without the earned_daily trigger, "
              f"{best[True] * 1000 / sample:.0f} µs with it")
        await conn.execute("select earned_rebuild()")  # count the batches posted without it too
        sample *= 4
        rest = await post_awards(conn, args.postings - sample, args.communities) if args.postings > sample else 0
        entries = await conn.fetchval("select count(*) from entries")
        summary = await conn.fetchval("select count(*) from earned_daily")
        print(f"posted the rest in {rest:.1f} s; entries: {entries}, earned_daily rows: {summary}")
        await conn.execute("analyze")
        street = await conn.fetchval("select parent_id from orgs where id = $1", community)
        keys = {"community": [community],
                "street": [r["id"] for r in await conn.fetch("select id from orgs where parent_id = $1", street)],
                "team": await conn.fetchval("select id from teams where name = 'bench'"),
                "household": community}
        for scope, key in keys.items():
            plan = await conn.fetch("explain (analyze, buffers) " + rankings.ranking_sql(scope), key, "points", *QUARTER)
            print(f"\n--- {scope} ranking, 2026Q4\n" + "\n".join(r[0] for r in plan))
    finally:
        await tr.rollback()
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())

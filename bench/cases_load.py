"""The grid loop at a Meishan-sized year: 10^5 cases, the queues and the figures people open.

    DATABASE_URL=postgresql://... python -m bench.cases_load [--cases 100000] [--repeat 15]

It makes a database of its own on DATABASE_URL's server (or the embedded one), migrated and committed
and vacuumed as a server's tables are (the figures' index-only scans need the visibility map), and
drops it at the end. It builds a district of 10 streets, 100 communities with 5
grids each, 3 handler organisations per street, and `--cases` cases spread over the past year in the
shares a working loop has (most closed and rated, some open and overdue, a few merged), each with the
history rows its state implies. Then it times, through the domain functions the API calls (no HTTP),
the first page of each queue (a community's, a street's, a handler's, a reporter's own), one case
with its history, and the figures of a street (by community and by handler) and of the district (by
street, and as CSV), as a manager of that level would open them. It prints the median and the 95th
percentile of `--repeat` runs, and the plan of the community queue and the street's figures.

The whole run takes about a minute on 2 cores for 10^5 cases; bench/README.md has the figures.
"""

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg

from domain import cases
from domain.core import clock, db, queries
from domain.core.actor import Actor

STREETS, COMMUNITIES_PER_STREET, GRIDS_PER_COMMUNITY, HANDLERS_PER_STREET = 10, 10, 5, 3


async def build(conn: asyncpg.Connection, n_cases: int) -> dict:
    now = clock.now()
    admin = await conn.fetchval("insert into users (name) values ('bench admin') returning id")
    district = await conn.fetchval("insert into orgs (kind, name) values ('district', 'bench') returning id")
    streets = [r["id"] for r in await conn.fetch(
        "insert into orgs (kind, name, parent_id) select 'street', 'bench ' || g, $1 from generate_series(1, $2) g "
        "returning id", district, STREETS)]
    communities = [r["id"] for r in await conn.fetch(
        """insert into orgs (kind, name, parent_id) select 'community', 'bench ' || g, ($1::bigint[])[1 + g % $2]
           from generate_series(0, $3 - 1) g returning id""", streets, STREETS, STREETS * COMMUNITIES_PER_STREET)]
    await conn.execute(
        """insert into orgs (kind, name, parent_id) select 'grid', 'grid ' || g, c
           from unnest($1::bigint[]) c, generate_series(1, $2) g""", communities, GRIDS_PER_COMMUNITY)
    people = [r["id"] for r in await conn.fetch(
        "insert into users (name) select 'bench ' || g from generate_series(1, 5000) g returning id")]
    # Managers: one per community, one per street, one for the district.
    managers = [r["id"] for r in await conn.fetch(
        "insert into users (name) select 'manager ' || g from generate_series(1, $1) g returning id",
        len(communities) + len(streets) + 1)]
    await conn.execute("insert into org_managers (org_id, user_id) select * from unnest($1::bigint[], $2::bigint[])",
                       communities + streets + [district], managers)
    partners = [r["id"] for r in await conn.fetch(
        """insert into partners (kind, name, parent_id, created_by, created_at)
           select (array['property', 'department', 'department'])[h], 'handler ' || s || '-' || h, s, $2, $3
           from unnest($1::bigint[]) s, generate_series(1, $4) h returning id""",
        streets, admin, now, HANDLERS_PER_STREET)]
    staff = [r["id"] for r in await conn.fetch(
        "insert into users (name) select 'staff ' || g from generate_series(1, $1) g returning id", len(partners))]
    await conn.execute("""insert into partner_staff (partner_id, user_id, role, created_at)
                          select * , 'staff', $3::timestamptz from unnest($1::bigint[], $2::bigint[])""",
                       partners, staff, now)
    await conn.execute(
        """insert into case_categories (street_id, name, deadline_hours, updated_by, updated_at)
           select s, c.name, c.hours, $2, $3 from unnest($1::bigint[]) s,
                  (values ('占道', 48), ('环境卫生', 72), ('设施损坏', 120)) c(name, hours)""", streets, admin, now)
    await conn.execute("create temporary table bench_streets on commit drop as select unnest($1::bigint[]) as id",
                       streets)
    started = time.perf_counter()
    # The cases: a community at random, a grid of it, a day of the past year; the state by its share.
    await conn.execute("""
        create temporary table bench_cases on commit drop as
        select g as n, c.id as community_id, c.parent_id as street_id,
               (select o.id from orgs o where o.parent_id = c.id order by o.id limit 1) as grid_id,
               $3::timestamptz - (random() * 365) * interval '1 day' as created_at,
               random() as fate, ($4::bigint[])[1 + (random() * ($5 - 1))::int] as reporter_id
        from generate_series(1, $1) g
        join lateral (select id, parent_id from orgs where id = ($2::bigint[])[1 + (g % $6)]) c on true""",
        n_cases, communities, now, people, len(people), len(communities))
    await conn.execute("""
        insert into cases (number, source, kind, reporter_id, grid_id, community_id, street_id, title, text, place,
                           state, level, category_id, priority, handler_id, deadline, done_at, closed_in_time, rating,
                           rated_at, escalation, created_at, updated_at)
        select to_char(b.created_at, 'YYYYMMDD') || '-' || (900000000 + b.n), 'resident',
               case when b.fate < 0.05 then 'proposal' else 'problem' end, b.reporter_id, b.grid_id, b.community_id,
               b.street_id, '隐患 ' || b.n, '楼道堆放杂物，请处理', b.n % 40 || '号楼',
               s.state, case when s.state in ('reported', 'sorted') then 'community' else 'street' end,
               cat.id, case when b.n % 10 = 0 then 'urgent' else 'normal' end,
               case when s.state in ('dispatched', 'accepted', 'done', 'rated')
                    then (select p.id from partners p where p.parent_id = b.street_id order by p.id
                          offset (b.n % 3) limit 1) end,
               case when s.state in ('dispatched', 'accepted', 'done', 'rated')
                    then b.created_at + interval '12 hours' + cat.deadline_hours * interval '1 hour' end,
               case when s.state in ('done', 'rated') then b.created_at + (random() * 96 + 2) * interval '1 hour' end,
               null, case when s.state = 'rated' then (array['satisfied', 'satisfied', 'satisfied', 'fair',
                                                            'unsatisfied'])[1 + b.n % 5] end,
               case when s.state = 'rated' then b.created_at + interval '5 days' end,
               case when s.state in ('dispatched', 'accepted') and b.created_at < $1::timestamptz - interval '5 days'
                    then 2 else 0 end,
               b.created_at, b.created_at
        from bench_cases b
        join lateral (select case when b.fate < 0.70 then 'rated' when b.fate < 0.85 then 'done'
                                  when b.fate < 0.90 then 'accepted' when b.fate < 0.92 then 'dispatched'
                                  when b.fate < 0.95 then 'sorted' when b.fate < 0.97 then 'reported'
                                  else 'merged' end as state) s on true
        join lateral (select id, deadline_hours from case_categories where street_id = b.street_id
                      order by id offset (b.n % 3) limit 1) cat on true
        where s.state <> 'merged'""", now)
    await conn.execute("update cases set closed_in_time = done_at <= deadline where done_at is not null "
                       "and street_id in (select id from bench_streets)")
    # Merged duplicates point at the case before them in their community.
    await conn.execute("""
        insert into cases (number, source, kind, reporter_id, grid_id, community_id, street_id, title, text, state,
                           merged_into, created_at, updated_at)
        select to_char(b.created_at, 'YYYYMMDD') || '-' || (900000000 + b.n), 'resident', 'problem', b.reporter_id, b.grid_id,
               b.community_id, b.street_id, '重复 ' || b.n, '同上', 'merged',
               (select k.id from cases k where k.community_id = b.community_id and k.street_id in (select id from bench_streets)
                order by k.id limit 1), b.created_at, b.created_at
        from bench_cases b where b.fate >= 0.97""")
    # The history each state implies: reported, sent up, dispatched, accepted, done, rated.
    await conn.execute("""
        insert into case_events (case_id, act, actor_id, from_state, to_state, at)
        select k.id, e.act, k.reporter_id, null, e.act, k.created_at + e.step * interval '1 hour'
        from cases k
        cross join lateral (values (0, 'reported'), (1, 'sent_up'), (2, 'dispatched'), (3, 'accepted'), (4, 'done'),
                                   (5, 'rated')) e(step, act)
        where k.street_id in (select id from bench_streets) and e.step <= case k.state when 'reported' then 0 when 'sorted' then 1
              when 'merged' then 0 when 'dispatched' then 2 when 'accepted' then 3 when 'done' then 4 else 5 end""")
    made = await conn.fetchval("select count(*) from cases where street_id in (select id from bench_streets)")
    busiest = await conn.fetchrow(
        "select handler_id, count(*) from cases where handler_id = any($1::bigint[]) group by 1 order by 2 desc limit 1",
        partners)
    reporter = await conn.fetchval(
        "select reporter_id from cases where street_id in (select id from bench_streets) group by 1 order by count(*) desc limit 1")
    return {"cases": made, "seconds_to_build": round(time.perf_counter() - started, 1), "district": district,
            "streets": streets, "orgs": [district, *streets, *communities],
            "users": [admin, *people, *managers, *staff], "partners": partners,
            "street": streets[0], "community": communities[0], "partner": busiest["handler_id"],
            "staff": staff[partners.index(busiest["handler_id"])], "reporter": reporter,
            "community_manager": managers[0], "street_manager": managers[len(communities)],
            "district_manager": managers[-1],
            "sample_case": await conn.fetchval("select max(id) from cases where community_id = $1 and state = 'rated'",
                                               communities[0])}


async def timed(repeat: int, call: Callable[[], Awaitable[object]]) -> dict:
    await call()  # warm the plan cache, as a running server's connection would be
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 1)}


async def measure(conn: asyncpg.Connection, w: dict, repeat: int) -> dict[str, dict]:
    community_manager = Actor(w["community_manager"], "bench", False, frozenset({w["community"]}))
    oversees = frozenset(r["id"] for r in await conn.fetch("select id from orgs where parent_id = $1", w["street"]))
    street_manager = Actor(w["street_manager"], "bench", False, frozenset(), oversees)
    district_communities = frozenset(r["id"] for r in await conn.fetch(
        "select c.id from orgs c join orgs s on s.id = c.parent_id where s.parent_id = $1", w["district"]))
    district_manager = Actor(w["district_manager"], "bench", False, frozenset(), district_communities)
    staff = Actor(w["staff"], "bench", False, frozenset())
    reporter = Actor(w["reporter"], "bench", False, frozenset())
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "community queue (first page)": lambda: cases.list_cases(conn, community_manager, view="community",
                                                                 org_id=w["community"]),
        "community queue, open only": lambda: cases.list_cases(conn, community_manager, view="community",
                                                               org_id=w["community"], state="open"),
        "street queue (first page)": lambda: cases.list_cases(conn, street_manager, view="street", org_id=w["street"]),
        "street queue, open only": lambda: cases.list_cases(conn, street_manager, view="street", org_id=w["street"],
                                                            state="open"),
        "handler queue (busiest)": lambda: cases.list_cases(conn, staff, view="handler", org_id=w["partner"]),
        "my cases (busiest reporter)": lambda: cases.list_cases(conn, reporter, view="mine"),
        "one case with its history": lambda: cases.get_case(conn, community_manager, w["sample_case"]),
        "community figures by grid": lambda: cases.figures(conn, community_manager, w["community"]),
        "street figures by community": lambda: cases.figures(conn, street_manager, w["street"]),
        "street figures by handler": lambda: cases.figures(conn, street_manager, w["street"], by="handler"),
        "district figures by street": lambda: cases.figures(conn, district_manager, w["district"]),
        "district figures as CSV": lambda: _csv(conn, district_manager, w["district"]),
        "escalation sweep's pick": lambda: conn.fetch(
            """select id from cases where state in ('dispatched', 'accepted') and escalation < 2 and deadline <= $1
               order by deadline limit 500""", clock.now()),
    }
    return {name: await timed(repeat, call) for name, call in checks.items()}


async def _csv(conn: asyncpg.Connection, actor: Actor, org_id: int) -> bytes:
    return cases.figures_csv(await cases.figures(conn, actor, org_id))


async def plans(conn: asyncpg.Connection, w: dict) -> dict[str, str]:
    queue = await conn.fetch(
        """explain (analyze, buffers, costs off, timing off, summary on)
           select k.id from cases k where k.community_id = $1
           order by (k.state in ('dispatched', 'accepted') and k.deadline < $2) desc, k.id desc limit 21""",
        w["community"], clock.now())
    sql = queries.load("cases").figures.format(key="k.street_id", group="k.street_id",
                                               scope="k.street_id in (select id from orgs where parent_id = $1)")
    figures = await conn.fetch("explain (analyze, buffers, costs off, timing off, summary on) " + sql,
                               w["district"], clock.now() - timedelta(days=366), clock.now(), clock.now())
    return {"community queue": "\n".join(r[0] for r in queue), "district figures": "\n".join(r[0] for r in figures)}


async def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.cases_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--plans", action="store_true", help="print the plans of the community queue and figures")
    args = parser.parse_args(argv)
    server = os.environ.get("DATABASE_URL") or db.database_url()
    name = f"linli_bench_cases_{os.getpid()}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'create database "{name}"')
    try:
        return await run(args, server.rsplit("/", 1)[0] + "/" + name)
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


async def run(args: argparse.Namespace, url: str) -> dict:
    await db.migrate(url)
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    async with conn.transaction():
        world = await build(conn, args.cases)
    # Committed and vacuumed, as a server's tables are: the figures' index-only scans need the visibility map.
    await conn.execute("vacuum analyze cases")
    await conn.execute("vacuum analyze case_events")
    try:
        print(f"{world['cases']} cases built in {world['seconds_to_build']} s", flush=True)
        results = await measure(conn, world, args.repeat)
        width = max(len(name) for name in results)
        print(f"{'':{width}}  median ms   p95 ms")
        for name, r in results.items():
            print(f"{name:{width}}  {r['median_ms']:9.1f}  {r['p95_ms']:7.1f}")
        if args.plans:
            for name, plan in (await plans(conn, world)).items():
                print(f"\n-- {name}\n{plan}")
        return {"cases": world["cases"], "build_seconds": world["seconds_to_build"], "timings": results}
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())

"""A city's worth of data for `python -m bench --city` (issue 37), loaded set-based.

Meishan's numbers (the source article): 2 districts, 13 streets, 325 communities, 2,576 grids,
2,700 work units each with an administrator, 39,000 party members in those units, a manager for
every community, street and district; 300,000 residents (one community of 20,000, the others about
860 each), 24 activities a year in every community with 40 attendances each, a year of audit rows
(120,000 for the large community: more than the 100,000 rows the audit export was capped at) and a
year of award postings (default 10^6, `--city-postings 10000000` for Meishan's 10^7: see
bench/README.md for why the default is scaled down by 10 on this 2-core machine).

`build(url, one_community=True)` writes the same large community with exactly the same people,
activities, audit rows and postings, and nothing of the other 324 communities: the one-community
world the city's reads are compared with (a community's page should not cost more because the city
around it exists).

The rows are written as the app would have written them (the ledger check passes), but in a few
statements per table with session_replication_role = replica (triggers and foreign-key checks
off: row by row through the triggers a city takes hours). Postings are written by
bench/ledger_growth.py's statement (`postings_sql`): transfers, both entries with the running balance,
the accounts' balances and earned_daily in one statement per batch, earned_quarterly refilled from
earned_daily at the end. Awards are `cause_type = 'activity'` (an activity's award without an
attendance; the seeded attendances credit nothing, so the ledger check's attendance rule holds).
"""

import contextlib
import time
from dataclasses import dataclass, field

import asyncpg

from bench import ledger_growth
from domain.core import db
from domain.people import auth

CITY = {"districts": 2, "streets": 13, "communities": 325, "grids": 2576, "units": 2700, "party_members": 39_000,
        "residents": 300_000, "big_community": 20_000, "activities_per_community": 24, "attendances_per_activity": 40,
        "audit_big": 120_000, "audit_other": 200}
DEFAULT_POSTINGS = 1_000_000
MEISHAN_POSTINGS = 10_000_000
BATCH = 200_000


@dataclass
class CityWorld:
    url: str
    one_community: bool
    community_id: int = 0          # the large community (20,000 residents)
    typical_community_id: int = 0  # a community of about 860 (the city only; 0 in the one-community world)
    street_id: int = 0
    district_id: int = 0
    grid_id: int = 0
    unit_id: int = 0
    activity_id: int = 0
    member_id: int = 0             # a resident of the large community (a manager opens them)
    logins: dict = field(default_factory=dict)   # role -> (token, csrf, user_id)
    facts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def _n(one_community: bool) -> dict:
    n = dict(CITY)
    n["other_size"] = (n["residents"] - n["big_community"]) // (n["communities"] - 1)
    return n


async def build(url: str, *, one_community: bool, postings: int = DEFAULT_POSTINGS, log=print) -> CityWorld:
    await db.migrate(url)
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    world = CityWorld(url=url, one_community=one_community)
    n = _n(one_community)
    started = time.perf_counter()

    def step(name: str, t0: float) -> float:
        world.timings[name] = round(time.perf_counter() - t0, 2)
        return time.perf_counter()

    try:
        await auth.create_user(conn, phone="13800000000", password=None, name="市管理员", is_admin=True)
        t = time.perf_counter()
        await conn.execute("set session_replication_role = replica")
        # Community k (0 is the large one) belongs to street k % 13, street s to district s % 2; grid g
        # to community g % 325. The one-community world keeps community 0, its street, district, grids.
        keep = "where k = 0" if one_community else ""
        await conn.execute(f"""
            create temp table c_district as
            with x as (insert into orgs (kind, name, code, parent_id)
                       select 'district', '第' || (k + 1) || '区', 'MS-D' || k, null
                         from generate_series(0, {n['districts'] - 1}) k {keep} order by k returning id, code)
            select substr(code, 5)::int as k, id from x""")
        await conn.execute(f"""
            create temp table c_street as
            with x as (insert into orgs (kind, name, code, parent_id)
                       select 'street', '第' || (g.k + 1) || '街道', 'MS-S' || g.k, d.id
                         from generate_series(0, {n['streets'] - 1}) g(k) join c_district d on d.k = g.k % {n['districts']}
                        {keep.replace('k', 'g.k')} order by g.k returning id, code)
            select substr(code, 5)::int as k, id from x""")
        await conn.execute(f"""
            create temp table c_community as
            with x as (insert into orgs (kind, name, code, parent_id)
                       select 'community', '第' || (g.k + 1) || '社区', 'MS-C' || g.k, s.id
                         from generate_series(0, {n['communities'] - 1}) g(k) join c_street s on s.k = g.k % {n['streets']}
                        {keep.replace('k', 'g.k')} order by g.k returning id, code)
            select substr(code, 5)::int as k, id from x""")
        await conn.execute(f"""
            create temp table c_grid as
            with x as (insert into orgs (kind, name, code, parent_id)
                       select 'grid', '第' || (g / {n['communities']} + 1) || '网格', 'MS-G' || g, c.id
                         from generate_series(0, {n['grids'] - 1}) g join c_community c on c.k = g % {n['communities']}
                        order by g returning id, code, parent_id)
            select substr(code, 5)::int as g, id, parent_id as community_id,
                   (substr(code, 5)::int / {n['communities']}) as j from x""")
        await conn.execute("analyze c_grid")
        await conn.execute("create temp table c_grids_per as select community_id, count(*)::int as n "
                           "from c_grid group by community_id")
        # A community's own accounts, as ledger.open_community_accounts opens them.
        await conn.execute("""insert into accounts (unit, kind, org_id)
                              select x.unit, x.kind, c.id from c_community c
                               cross join (values ('points', 'issuing'), ('minutes', 'issuing'), ('minutes', 'pool'),
                                                  ('points', 'supermarket')) x(unit, kind)""")
        t = step("orgs", t)
        # Residents: u < 20,000 live in community 0, the rest round-robin in communities 1..324.
        residents = n["big_community"] if one_community else n["residents"]
        await conn.execute(f"""
            create temp table c_res as
            with x as (insert into users (phone, name, created_at)
                       select '13' || lpad(u::text, 9, '0'), '居民' || u, now() - interval '400 days'
                         from generate_series(0, {residents - 1}) u order by u returning id, phone)
            select substr(phone, 3)::int as u, id,
                   case when substr(phone, 3)::int < {n['big_community']} then 0
                        else 1 + (substr(phone, 3)::int - {n['big_community']}) % {n['communities'] - 1} end as k
              from x""")
        await conn.execute("alter table c_res add primary key (u)")
        await conn.execute("analyze c_res")
        await conn.execute("""alter table c_res add column community_id bigint, add column grid_id bigint""")
        await conn.execute("""update c_res r set community_id = c.id from c_community c where c.k = r.k""")
        await conn.execute("""update c_res r set grid_id = g.id from c_grids_per p, c_grid g
                              where p.community_id = r.community_id and g.community_id = r.community_id
                                and g.j = r.u % p.n""")
        await conn.execute("""insert into org_members (org_id, user_id, role, created_at)
                              select community_id, id, 'volunteer', now() - interval '400 days' from c_res""")
        await conn.execute("""insert into resident_profiles (community_id, user_id, grid_id, updated_at)
                              select community_id, id, grid_id, now() - interval '400 days' from c_res""")
        await conn.execute("""insert into accounts (unit, kind, user_id, org_id)
                              select x.unit, 'user', r.id, r.community_id from c_res r
                               cross join unnest(array['points', 'minutes']) x(unit)""")
        t = step("residents", t)
        # Managers of every community, street and district; unit administrators.
        for table, prefix in (("c_community", "150"), ("c_street", "151"), ("c_district", "152")):
            await conn.execute(f"""
                with x as (insert into users (phone, name)
                           select '{prefix}' || lpad(k::text, 8, '0'), '书记' || '{prefix}' || k from {table} order by k
                           returning id, phone)
                insert into org_managers (org_id, user_id)
                select o.id, x.id from x join {table} o on o.k = substr(x.phone, 4)::int""")
        await conn.execute(f"""
            create temp table c_unit as
            with x as (insert into units (name, kind, parent_id, created_at, code, party_org)
                       select '第' || (i + 1) || '单位', 'government', d.id, now() - interval '400 days',
                              'MS-U' || i, '第' || (i + 1) || '党支部'
                         from generate_series(0, {n['units'] - 1}) i
                         join c_district d on d.k = case when {str(one_community).lower()} then 0
                                                         else i % {n['districts']} end
                        order by i returning id, code)
            select substr(code, 5)::int as i, id from x""")
        await conn.execute("""
            with x as (insert into users (phone, name)
                       select '153' || lpad(i::text, 8, '0'), '管理员' || i from c_unit order by i returning id, phone)
            insert into unit_admins (unit_id, user_id, created_at)
            select c.id, x.id, now() - interval '400 days' from x join c_unit c on c.i = substr(x.phone, 4)::int""")
        # Party member i is resident 3 + 7 i, in unit i % 2,700.
        await conn.execute(f"""
            insert into unit_members (unit_id, user_id, party_member, confirmed, created_at)
            select c.id, r.id, true, true, now() - interval '300 days'
              from generate_series(0, {n['party_members'] - 1}) p(n)
              join c_res r on r.u = 3 + 7 * p.n join c_unit c on c.i = p.n % {n['units']}""")
        t = step("managers and units", t)
        # Activities: 24 a year per community, two a month, the last two still published.
        per = n["activities_per_community"]
        await conn.execute(f"""
            insert into activities (community_id, title, place, starts_at, ends_at, points, state, created_by,
                                    created_at, published_at, closed_at, taken)
            select c.id, '第' || (a + 1) || '次志愿服务', '社区广场',
                   date_trunc('day', now()) - interval '365 days' + a * interval '15 days' + interval '9 hours',
                   date_trunc('day', now()) - interval '365 days' + a * interval '15 days' + interval '12 hours',
                   10, case when a >= {per - 2} then 'published' else 'closed' end, m.user_id,
                   date_trunc('day', now()) - interval '372 days' + a * interval '15 days',
                   date_trunc('day', now()) - interval '372 days' + a * interval '15 days',
                   case when a >= {per - 2} then null
                        else date_trunc('day', now()) - interval '364 days' + a * interval '15 days' end,
                   {n['attendances_per_activity']}
              from c_community c join org_managers m on m.org_id = c.id cross join generate_series(0, {per - 1}) a
             order by c.k, a""")
        # Attendances: 40 residents of the community each (they credit nothing: the awards are postings).
        await conn.execute(f"""
            insert into attendances (activity_id, user_id, state, source, checked_in_at, checked_out_at, minutes,
                                     points, created_at)
            select a.id, r.id, 'done', 'self', a.starts_at, a.ends_at, 0, 0, a.starts_at
              from activities a
              join c_community c on c.id = a.community_id
              cross join generate_series(0, {n['attendances_per_activity'] - 1}) s
              join c_res r on r.u = case when c.k = 0 then (a.id * 37 + s * 499) % {n['big_community']}
                                         else {n['big_community']} + (c.k - 1)
                                              + {n['communities'] - 1} * ((a.id * 7 + s * 13) % {n['other_size']}) end""")
        t = step("activities", t)
        # A year of audit rows: 120,000 in the large community, 200 in each other.
        await conn.execute(f"""
            insert into audit_log (actor_id, act, community_id, target_type, target_id, reason, created_at)
            select m.user_id, (array['phone_view', 'member_edit', 'attendance_mark', 'member_add'])[1 + i % 4],
                   c.id, 'user', i, null,
                   now() - interval '365 days' + i * (interval '365 days' / (case when c.k = 0
                        then {n['audit_big']} else {n['audit_other']} end))
              from c_community c join org_managers m on m.org_id = c.id
              cross join lateral generate_series(0, case when c.k = 0 then {n['audit_big']}
                                                         else {n['audit_other']} end - 1) i
             order by 7""")
        t = step("audit", t)
        # Postings: award g goes to resident (g * 7919) % 300,000, every 1,000th to resident 0 (the measured
        # person); the one-community world keeps only those of community 0's residents.
        # Fresh tables have no statistics yet (autovacuum lags on a busy machine): planned blind, the
        # joins below ran as nested loops of sequential scans (minutes for 20,000 residents).
        for table in ("c_res", "c_community", "accounts", "users", "org_members"):
            await conn.execute(f"analyze {table}")
        await conn.execute("""
            create temp table c_acct as
            select r.u, a.id as acc, i.id as issuing from c_res r
              join accounts a on a.user_id = r.id and a.unit = 'points' and a.kind = 'user'
              join accounts i on i.org_id = r.community_id and i.kind = 'issuing' and i.unit = 'points'""")
        await conn.execute("alter table c_acct add primary key (u)")
        # Fresh tables have no statistics: planned blind, each batch joined accounts row by row (13 s, not 1).
        for table in ("c_acct", "accounts", "earned_daily", "transfers", "entries"):
            await conn.execute(f"analyze {table}")
        for low in range(0, postings, BATCH):
            high = min(postings, low + BATCH) - 1
            batch_started = time.perf_counter()
            await conn.execute(_POSTINGS.format(residents=n["residents"]), low, high, postings)
            log(f"    postings {low:,}..{high:,}: {time.perf_counter() - batch_started:.1f} s")
        await conn.execute("select earned_quarterly_rebuild()")
        t = step("postings", t)
        await conn.execute("reset session_replication_role")
        for table in ("users", "orgs", "org_members", "resident_profiles", "accounts", "transfers", "entries",
                      "earned_daily", "earned_quarterly", "audit_log", "activities", "attendances", "units", "unit_members",
                      "unit_admins", "org_managers"):
            await conn.execute(f"vacuum analyze {table}")
        # The load's dirty pages are written now, not by the checkpointer spreading them over the reads
        # measured next (whose share of the server's CPU would then depend on when the load ended).
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # a DATABASE_URL role may not
            await conn.execute("checkpoint")
        t = step("vacuum analyze", t)
        await people(conn, world)
        world.timings["total"] = round(time.perf_counter() - started, 1)
        log(f"  city world ({'one community' if one_community else 'the city'}) loaded in "
            f"{world.timings['total']} s: " + ", ".join(f"{k} {v:,}" for k, v in world.facts.items()))
    finally:
        await conn.close()
    return world


async def attach(url: str, *, one_community: bool) -> CityWorld:
    """A world already loaded (by build) with fresh sessions for its people: for a second look."""
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    try:
        world = CityWorld(url=url, one_community=one_community)
        await people(conn, world)
        return world
    finally:
        await conn.close()


async def people(conn: asyncpg.Connection, world: CityWorld) -> None:
    """Who the reads run as (a session each), the ids their pages name, and the world's counts."""
    org = "select id from orgs where code = $1"
    world.community_id = await conn.fetchval(org, "MS-C0")
    world.street_id = await conn.fetchval("select parent_id from orgs where id = $1", world.community_id)
    world.district_id = await conn.fetchval("select parent_id from orgs where id = $1", world.street_id)
    world.grid_id = await conn.fetchval(org, "MS-G0")
    world.unit_id = await conn.fetchval("select id from units where code = 'MS-U0'")
    world.activity_id = await conn.fetchval(
        "select id from activities where community_id = $1 and state = 'closed' order by starts_at desc limit 1",
        world.community_id)
    user = "select id from users where phone = $1"
    world.member_id = await conn.fetchval(user, "13000000007")
    manager = "select user_id from org_managers where org_id = $1"
    world.typical_community_id = await conn.fetchval(org, "MS-C7") or 0
    persons = {
        "resident": await conn.fetchval(user, "13000000000"),
        "community_manager": await conn.fetchval(manager, world.community_id),
        "unit_admin": await conn.fetchval("select user_id from unit_admins where unit_id = $1", world.unit_id),
        "street_manager": await conn.fetchval(manager, world.street_id),
        "district_manager": await conn.fetchval(manager, world.district_id),
        "admin": await conn.fetchval(user, "13800000000"),
    }
    if world.typical_community_id:
        persons["typical_manager"] = await conn.fetchval(manager, world.typical_community_id)
    for role, user_id in persons.items():
        login = await auth._new_session(conn, user_id)
        world.logins[role] = (login.token, login.csrf, user_id)
    world.facts = dict(await conn.fetchrow(
        """select (select count(*) from orgs where kind = 'community') as communities,
                  (select count(*) from orgs where kind = 'grid') as grids,
                  (select count(*) from units) as units,
                  (select count(*) from unit_members) as party_members,
                  (select count(*) from org_members) as residents,
                  (select count(*) from org_members where org_id = $1) as large_community_members,
                  (select count(*) from transfers) as postings,
                  (select count(*) from entries) as entries,
                  (select count(*) from audit_log) as audit_rows,
                  (select count(*) from audit_log where community_id = $1) as large_community_audit_rows,
                  (select count(*) from activities) as activities,
                  (select count(*) from attendances) as attendances""", world.community_id))


# One batch of award postings ($1 first g, $2 last g, $3 all postings of the year), written by
# bench/ledger_growth.py's statement (transfers, entries with running balances, balances, earned_daily).
_AWARDS = """
    select a.issuing as debit_account, a.acc as credit_account, 1 + g % 20 as amount, '志愿服务' as memo,
           now() - interval '365 days' + g * (interval '365 days' / $3::bigint) as created_at
      from generate_series($1::bigint, $2::bigint) g
      join c_acct a on a.u = case when g % 1000 = 0 then 0 else (g * 7919) % {residents} end
     order by g"""
_POSTINGS = ledger_growth.postings_sql(_AWARDS)

"""Ledger growth: do the reads people wait for stay flat as the history grows?

One fresh database per size: 10^4, 10^5 and 10^6 postings (10^7 with --full-10m; a posting here is
one transfer, i.e. two entries). The app's own read paths are then timed in every database in
turn, round after round, so machine noise falls on every size alike (median of N rounds, through
the domain functions, one connection per database):
- balance: domain.ledger.balances (what /api/me/balances reads);
- statement: domain.ledger.statements.statement, the first page of 20 (the named query statement_page);
- ranking: domain.rankings.compute, a community ranking of one quarter (reads earned_daily).
Each is printed as a ratio to its 10^4 figure, with the EXPLAIN (ANALYZE, BUFFERS) summary of the
statement that did the work (recorded from the domain call itself, so it is the app's exact SQL).
Beside the wall time, the CPU the call cost the connection's PostgreSQL backend (its run time in
/proc/<pid>/schedstat, nanoseconds; only when the server runs on this machine): wall time on a
crowded machine is mostly waiting for a core, the backend's CPU is what the read costs the server,
so its ratio is the one judged when measured.

The data: 1,000 volunteers in 10 communities; the person whose balance and statement are read gets
one posting in ten, so their own history grows with the ledger. In every database the first 10^4
postings are the same and dated in the ranked quarter (2024Q1), every later one after it: the
ranking covers the same quarter at every size while the history around it grows, as it does in a
real deployment.

Fast path: rows are written set-based with session_replication_role = replica (triggers off:
the ledger triggers would apply them one row at a time, ~10x slower); the same statements write
the entries, running balances, balance_after and earned_daily exactly as the triggers would. The
largest step is then checked with the ledger invariant check (domain/ledger_check.py), so the
figures are about a ledger the app itself could have written (the check reads every entry, so it
runs on the 10^5 database by default: the same statements loaded the larger ones; --verify-all
checks every size). Without superuser rights (a
DATABASE_URL role that cannot set replica mode) the rows go through the triggers instead.
"""

import statistics
import time
from datetime import datetime, timedelta

import asyncpg

from bench.report import percentile
from domain import ledger, rankings
from domain.core import db
from domain.ledger import check as ledger_check
from domain.ledger import statements
from domain.people import auth, orgs
from domain.rankings import rules as ranking_rules

USERS = 1000
COMMUNITIES = 10
TARGET_SHARE = 10           # the measured person gets one posting in this many
BATCH = 100_000
RANKED_QUARTER = "2024Q1"
# Where each step's postings are dated: the base step inside the ranked quarter, the rest after it.
BASE = 10_000
RANKED_PERIOD = ("2024-01-01T00:00:00+08:00", "2024-03-31T23:00:00+08:00")
LATER_PERIOD = ("2024-04-01T00:00:00+08:00", "2026-06-30T23:00:00+08:00")

# Award postings written set-based, as the ledger's triggers would write them row by row:
# `awards` is a SELECT of (debit_account, credit_account, amount, memo, created_at) in posting order;
# the statement inserts the transfers (kind 'award', cause 'activity'), both entries with the running
# balance of the credited account in id order (what ledger_write_entries does), the accounts' balances
# and earned_daily (the issuing community's local day). bench/city_world.py loads the city with it too.
# earned_quarterly is refilled from earned_daily once the load is over (earned_quarterly_rebuild()):
# a quarter's active days need the day's net after every batch, which one statement cannot see.
#
# Awards of an activity without an attendance (cause_type 'activity'): the ledger check ties every
# 'checkin' award to an attendance of its person (issue 16), which these bulk rows do not have.
def postings_sql(awards: str) -> str:
    return f"""
with t as (
    insert into transfers (unit, debit_account, credit_account, amount, kind, state, cause_type, memo, created_at)
    select 'points', debit_account, credit_account, amount, 'award', 'posted', 'activity', memo, created_at
      from ({awards}) awards
    returning id, debit_account, credit_account, amount, created_at),
running as (
    select t.id, t.credit_account, t.amount, t.created_at,
           a.balance + sum(t.amount) over (partition by t.credit_account order by t.id) as balance_after
      from t join accounts a on a.id = t.credit_account),
entries_written as (
    insert into entries (transfer_id, account_id, amount, balance_after, created_at)
    select id, account, amount, balance_after, created_at from (
        select id, 0 as side, debit_account as account, -amount as amount, null::bigint as balance_after, created_at
          from t
        union all
        select id, 1, credit_account, amount, balance_after, created_at from running) x
     order by id, side
    returning 1),
balances as (
    update accounts a set balance = a.balance + s.total
      from (select credit_account, sum(amount) as total from t group by credit_account) s
     where a.id = s.credit_account
    returning 1)
insert into earned_daily (user_id, community_id, unit, day, earned)
select u.user_id, i.org_id, 'points', (t.created_at at time zone (select tz from local_zone))::date,
       sum(t.amount)
  from t join accounts u on u.id = t.credit_account join accounts i on i.id = t.debit_account
 group by 1, 2, 3, 4
on conflict (community_id, unit, day, user_id) do update set earned = earned_daily.earned + excluded.earned
"""


# One batch: $1 issuing account ids by community, $2 user account ids, $3 the first serial of the
# batch, $4 its last, $5 step start, $6 seconds per serial.
_AWARDS = """
    select ($1::bigint[])[1 + (who % {communities})] as debit_account, ($2::bigint[])[1 + who] as credit_account,
           1 + g % 20 as amount, '压测活动' as memo, $5::timestamptz + make_interval(secs => (g - $3) * $6) as created_at
      from (select g, case when g % {share} = 0 then 0 else 1 + (g * 7919) % ({users} - 1) end as who
              from generate_series($3::bigint, $4::bigint) g) s
     order by g"""
_LOAD = postings_sql(_AWARDS)

# The same rows through the triggers (no replica mode): slower, but needs no superuser.
_LOAD_WITH_TRIGGERS = """
insert into transfers (unit, debit_account, credit_account, amount, kind, state, cause_type, memo, created_at)
select 'points', ($1::bigint[])[1 + (who % {communities})], ($2::bigint[])[1 + who], 1 + g % 20, 'award',
       'posted', 'activity', '压测活动', $5::timestamptz + make_interval(secs => (g - $3) * $6)
  from (select g, case when g % {share} = 0 then 0 else 1 + (g * 7919) % ({users} - 1) end as who
          from generate_series($3::bigint, $4::bigint) g) s
 order by g
"""


def _sql(template: str) -> str:
    return template.format(communities=COMMUNITIES, share=TARGET_SHARE, users=USERS)


class Recorder:
    """A connection that remembers the statements a domain function sends (to EXPLAIN them)."""

    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn
        self.statements: list[tuple[str, tuple]] = []

    def __getattr__(self, name):
        return getattr(self._conn, name)

    async def fetch(self, sql, *args, **kw):
        self.statements.append((sql, args))
        return await self._conn.fetch(sql, *args, **kw)

    async def fetchrow(self, sql, *args, **kw):
        self.statements.append((sql, args))
        return await self._conn.fetchrow(sql, *args, **kw)

    async def fetchval(self, sql, *args, **kw):
        self.statements.append((sql, args))
        return await self._conn.fetchval(sql, *args, **kw)


def explain_summary(lines: list[str]) -> dict:
    """The top plan node, its buffers, and the planning and execution times of an EXPLAIN ANALYZE."""
    top = lines[0].strip() if lines else ""
    buffers = next((line.strip() for line in lines[1:] if line.strip().startswith("Buffers:")), "")
    planning = next((line.strip() for line in lines if line.strip().startswith("Planning Time")), "")
    execution = next((line.strip() for line in lines if line.strip().startswith("Execution Time")), "")
    try:
        execution_ms = float(execution.split(":")[1].split()[0])
    except (IndexError, ValueError):
        execution_ms = None
    indexes = sorted({part.split(" using ", 1)[1].split()[0] for part in lines if " using " in part})
    seq_scans = sorted({line.split("Seq Scan on ", 1)[1].split()[0] for line in lines if "Seq Scan on " in line})
    return {"top": top, "buffers": buffers, "planning": planning, "execution": execution,
            "execution_ms": execution_ms, "indexes": indexes, "seq_scans": seq_scans}


async def _explain(conn: asyncpg.Connection, sql: str, args: tuple) -> dict:
    rows = await conn.fetch(f"explain (analyze, buffers) {sql}", *args)
    lines = [r[0] for r in rows]
    return {**explain_summary(lines), "sql": " ".join(sql.split())[:200]}


class Growth:
    def __init__(self, url: str):
        self.url = url
        self.conn: asyncpg.Connection | None = None
        self.replica = False
        self.issuing: list[int] = []
        self.user_accounts: list[int] = []
        self.target_user = 0
        self.community = 0
        self.backend_pid = 0

    async def setup(self) -> None:
        await db.migrate(self.url)
        self.conn = conn = await asyncpg.connect(self.url)
        await db._init_connection(conn)
        self.backend_pid = local_backend(await conn.fetchval("select pg_backend_pid()"))
        admin_id = await auth.create_user(conn, phone="13800000000", password=None, name="增长管理员", is_admin=True)
        admin = await orgs.load_actor(conn, admin_id)
        district = await orgs.create_org(conn, admin, kind="district", name="增长区", parent_id=None)
        street = await orgs.create_org(conn, admin, kind="street", name="增长街道", parent_id=district.id)
        communities = [(await orgs.create_org(conn, admin, kind="community", name=f"增长社区{i + 1}",
                                              parent_id=street.id)).id for i in range(COMMUNITIES)]
        # People in bulk (no passwords, so no hashing); accounts open empty as the guard demands.
        user_ids = [r["id"] for r in await conn.fetch(
            """insert into users (phone, name) select '137' || lpad(g::text, 8, '0'), '居民' || g
               from generate_series(1, $1) g order by g returning id""", USERS)]
        # Person i belongs to community i % COMMUNITIES, whose issuing account pays them (_LOAD): their
        # accounts are that community's (a person's accounts are per issuing community, migrations/018).
        homes = [communities[i % COMMUNITIES] for i in range(len(user_ids))]
        await conn.execute("insert into accounts (unit, kind, user_id, org_id) select u, 'user', id, org "
                           "from unnest($1::bigint[], $3::bigint[]) as x(id, org) cross join unnest($2::text[]) u",
                           user_ids, list(ledger.UNITS), homes)
        await conn.execute("insert into org_members (org_id, user_id, role) select ($1::bigint[])[1 + (n - 1) % $3], "
                           "id, 'volunteer' from unnest($2::bigint[]) with ordinality as x(id, n)",
                           communities, user_ids, COMMUNITIES)
        self.issuing = [await ledger.org_account(conn, c, "issuing", "points") for c in communities]
        self.user_accounts = [await ledger.user_account(conn, u, "points", home) for u, home in zip(user_ids, homes)]
        self.target_user, self.community = user_ids[0], communities[0]
        try:
            await conn.execute("set session_replication_role = replica")
            await conn.execute("reset session_replication_role")
            self.replica = True
        except asyncpg.InsufficientPrivilegeError:
            self.replica = False

    async def load(self, size: int) -> dict:
        """Write `size` postings in batches; returns the load figures."""
        conn = self.conn
        started = time.perf_counter()
        for first, last, (start_text, end_text) in ((1, min(size, BASE), RANKED_PERIOD), (BASE + 1, size, LATER_PERIOD)):
            if last < first:
                continue
            start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
            spacing = (end - start).total_seconds() / (last - first + 1)
            for low in range(first, last + 1, BATCH):
                high = min(last, low + BATCH - 1)
                async with conn.transaction():
                    if self.replica:
                        await conn.execute("set local session_replication_role = replica")
                    await conn.execute(_sql(_LOAD if self.replica else _LOAD_WITH_TRIGGERS), self.issuing,
                                       self.user_accounts, low, high, start + timedelta(seconds=(low - first) * spacing),
                                       spacing)
        if self.replica:
            await conn.execute("select earned_quarterly_rebuild()")
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        for table in ("transfers", "entries", "accounts", "earned_daily", "earned_quarterly"):
            await conn.execute(f"vacuum analyze {table}")
        vacuum_s = time.perf_counter() - started
        return {"load_s": round(load_s, 2), "us_per_posting": round(load_s / size * 1e6, 1),
                "vacuum_analyze_s": round(vacuum_s, 2), "path": "set-based (replica)" if self.replica else "triggers"}

    def reads(self) -> dict:
        quarter = ranking_rules.parse_quarter(RANKED_QUARTER)
        return {
            "balance": lambda c: ledger.balances(c, self.target_user),
            "statement": lambda c: statements.statement(c, self.target_user, "points", 20, 0),
            "ranking": lambda c: rankings.compute(c, "community", self.community, quarter, "points"),
        }

    def backend_cpu_s(self) -> float | None:
        """CPU seconds the connection's backend has run so far; None when its process is not on this
        machine (a remote DATABASE_URL) or the kernel does not say."""
        return backend_cpu_s(self.backend_pid)

    async def time_once(self, name: str) -> tuple[float, float | None]:
        """Wall seconds of one call and the backend CPU seconds it cost (None when not measurable)."""
        cpu0 = self.backend_cpu_s()
        started = time.perf_counter()
        await self.reads()[name](self.conn)
        elapsed = time.perf_counter() - started
        cpu1 = self.backend_cpu_s()
        return elapsed, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)

    async def explain(self, name: str) -> dict:
        """EXPLAIN (ANALYZE, BUFFERS) every statement one call sends; the costliest is the summary."""
        recorder = Recorder(self.conn)
        await self.reads()[name](recorder)
        plans = [await _explain(self.conn, sql, args) for sql, args in recorder.statements]
        main = max(range(len(plans)), key=lambda i: plans[i]["execution_ms"] or 0) if plans else None
        # How PostgreSQL planned the app's prepared statement during the timed rounds: custom plans
        # are planned again on every call, which EXPLAIN's execution time does not show.
        cache = await self.conn.fetchrow(
            "select generic_plans, custom_plans from pg_prepared_statements where statement = $1",
            recorder.statements[main][0]) if main is not None else None
        return {"statements": len(plans), "plan": plans[main] if main is not None else {}, "all_plans": plans,
                "plan_cache": f"{cache['generic_plans']} generic, {cache['custom_plans']} custom" if cache else None}

    async def facts(self) -> dict:
        return dict(await self.conn.fetchrow(
            """select (select count(*) from transfers) as transfers, (select count(*) from entries) as entries,
                      (select count(*) from earned_daily) as earned_daily_rows,
                      (select count(*) from entries e join accounts a on a.id = e.account_id
                        where a.user_id = $1 and a.unit = 'points') as target_entries""", self.target_user))

    async def verify(self) -> dict:
        """The bulk-loaded ledger passes the app's invariant check, and earned_daily adds up."""
        started = time.perf_counter()
        problems = await ledger_check.check(self.conn)
        earned = await self.conn.fetchval("select coalesce(sum(earned), 0) from earned_daily")
        awarded = await self.conn.fetchval("select coalesce(sum(amount), 0) from transfers where kind = 'award'")
        return {"ledger_check": "clean" if not problems else {k: v[:3] for k, v in problems.items()},
                "earned_daily_matches_awards": earned == awarded, "seconds": round(time.perf_counter() - started, 2),
                "ok": not problems and earned == awarded}

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


READS = ("balance", "statement", "ranking")


def local_backend(pid: int) -> int:
    """The backend's pid if that process is a PostgreSQL one on this machine, else 0 (a remote
    server, or one in another pid namespace, where the same number is some other process)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if b"postgres" in f.read() else 0
    except OSError:
        return 0


def backend_cpu_s(pid: int) -> float | None:
    """A process's CPU time so far from /proc/<pid>/schedstat (its first field: nanoseconds on a
    core, at nanosecond resolution where /proc/<pid>/stat counts 10 ms ticks); None if unreadable."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def ratios(steps: list[dict]) -> None:
    """Each read's figures as a ratio to the first size's: `ratio_to_first` of the wall-time medians,
    `cpu_ratio_to_first` of the backend CPU (None when not measured), and `judged_ratio`, the CPU
    ratio when measured, else the wall one."""
    base = steps[0]
    for s in steps:
        for name in READS:
            read, first = s[name], base[name]
            read["ratio_to_first"] = round(read["median_ms"] / first["median_ms"], 2)
            cpu, cpu_first = read.get("postgres_cpu_ms"), first.get("postgres_cpu_ms")
            read["cpu_ratio_to_first"] = round(cpu / cpu_first, 2) if cpu is not None and cpu_first else None
            read["judged_ratio"] = read["cpu_ratio_to_first"] if read["cpu_ratio_to_first"] is not None \
                else read["ratio_to_first"]
            read["judged_on"] = "PostgreSQL CPU" if read["cpu_ratio_to_first"] is not None else "wall time"


async def run(new_database, sizes: list[int], *, rounds: int = 25, verify_sizes: tuple[int, ...] = (100_000,),
              log=print) -> dict:
    """`await new_database()` gives the URL of a fresh, empty database (one per size)."""
    growths: list[Growth] = []
    steps: list[dict] = []
    try:
        for size in sizes:
            growth = Growth(await new_database())
            growths.append(growth)
            await growth.setup()
            load = await growth.load(size)
            steps.append({"postings": size, "load": load})
            log(f"  ledger growth: {size:>10,} postings loaded in {load['load_s']} s "
                f"({load['us_per_posting']} µs each, {load['path']})")
        # Interleaved: every round times each read once in every database.
        samples = {(i, name): [] for i in range(len(growths)) for name in READS}
        cpu_samples: dict[tuple[int, str], list[float]] = {key: [] for key in samples}
        for round_ in range(rounds + 3):
            for i, growth in enumerate(growths):
                for name in READS:
                    elapsed, cpu = await growth.time_once(name)
                    if round_ >= 3:  # the first rounds warm caches and prepared statements
                        samples[(i, name)].append(elapsed)
                        if cpu is not None:
                            cpu_samples[(i, name)].append(cpu)
        for i, (growth, step) in enumerate(zip(growths, steps)):
            for name in READS:
                step[name] = {"median_ms": round(statistics.median(samples[(i, name)]) * 1000, 3),
                              "p90_ms": round(percentile(samples[(i, name)], 90) * 1000, 3),
                              "postgres_cpu_ms": round(statistics.median(cpu_samples[(i, name)]) * 1000, 3)
                              if cpu_samples[(i, name)] else None,
                              **await growth.explain(name)}
            step["facts"] = await growth.facts()
        checks = {}
        for growth, size in zip(growths, sizes):
            if size in verify_sizes:
                checks[size] = await growth.verify()
                log(f"  ledger growth: invariant check of the {size:,} database: {checks[size]['ledger_check']}"
                    f" ({checks[size]['seconds']} s)")
    finally:
        for growth in growths:
            await growth.close()
    ratios(steps)
    return {"steps": steps, "verify": checks, "verified_ok": all(c["ok"] for c in checks.values()),
            "rounds": rounds, "target_person_share": f"1/{TARGET_SHARE}", "ranked_quarter": RANKED_QUARTER,
            "users": USERS, "communities": COMMUNITIES}



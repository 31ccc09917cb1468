"""Every read a page makes, at city size (issue 37): each GET the pages of a resident, a community's
manager, a unit's administrator, a street's and a district's manager call, as that person, against
`linli serve` on the city world and on the one-community world (bench/city_world.py), same run.

Per operation: 2 warm-up calls, then 8 concurrent readers (each its own kept-alive connection)
make 4 calls each; p50/p95 of the time from request sent to response read over loopback (the
server's time plus a loopback round trip), and the PostgreSQL server's and the app's CPU during
those calls divided by the calls. pg_stat_statements is reset before each operation; its costliest
statement afterwards (total time over the operation's calls) is explained with EXPLAIN
(GENERIC_PLAN) (the app's statements are prepared, so a generic plan is what a prepared statement
settles on) and summarised: top node, cost, indexes, and sequential scans, flagged when the table
holds more than SEQ_SCAN_FLAG_ROWS rows (a whole city's table read for one page is a defect).

Exports are timed alone (3 calls one after another): seconds, bytes, and the largest growth of a
serve worker's peak resident memory (VmHWM, reset through /proc/<pid>/clear_refs before each call).
"""

import asyncio
import statistics
import time
from datetime import date, timedelta

import asyncpg

from bench.report import percentile
from bench.server import App, CpuMeter, process_group_cpu

READERS = 8
CALLS_PER_READER = 4
WARMUP = 2
EXPORT_CALLS = 3
SEQ_SCAN_FLAG_ROWS = 50_000

# (role, kind, path). {c} community, {s} street, {d} district, {g} grid, {u} unit, {a} activity,
# {m} a resident of the community, {month} last month, {year_ago} a year ago (YYYY-MM-DD).
# kind: community (a community's own reads: a resident's, its manager's, a unit's), aggregate (a
# street's or district's), export (timed alone, memory measured).
OPERATIONS = [
    ("resident", "community", "/api/me"),
    ("resident", "community", "/api/me/balances"),
    ("resident", "community", "/api/me/statement?limit=20"),
    ("resident", "community", "/api/me/activities"),
    ("resident", "community", "/api/me/activities?when=past"),
    ("resident", "community", "/api/activities?state=published&limit=100"),
    ("resident", "community", "/api/me/rank"),
    ("resident", "community", "/api/me/expiring"),
    ("resident", "community", "/api/me/workbench"),
    ("resident", "community", "/api/me/messages"),
    ("resident", "community", "/api/me/messages/unread"),
    ("resident", "community", "/api/me/card"),
    ("resident", "community", "/api/me/service-record"),
    ("resident", "community", "/api/me/records"),
    ("resident", "community", "/api/me/levels"),
    ("resident", "community", "/api/me/invitations"),
    ("resident", "community", "/api/me/role-invites"),
    ("resident", "community", "/api/me/micro-grids"),
    ("resident", "community", "/api/rewards"),
    ("resident", "community", "/api/redemptions"),
    ("resident", "community", "/api/timebank/me"),
    ("resident", "community", "/api/cases?view=mine"),
    ("community_manager", "community", "/api/me/workbench"),
    ("community_manager", "community", "/api/console/summary"),
    ("community_manager", "community", "/api/console/tree"),
    ("community_manager", "community", "/api/communities/{c}/members?limit=50"),
    ("community_manager", "community", "/api/communities/{c}/members?limit=50&q=%E5%B1%85%E6%B0%91123"),
    ("community_manager", "community", "/api/members/{m}"),
    ("community_manager", "community", "/api/users/{m}/statement"),
    ("community_manager", "community", "/api/audit?community_id={c}&limit=50"),
    ("community_manager", "community", "/api/activities?community_id={c}"),
    ("community_manager", "community", "/api/activities/{a}"),
    ("community_manager", "community", "/api/activities/{a}/attendance"),
    ("community_manager", "community", "/api/communities/{c}/dashboard"),
    ("community_manager", "community", "/api/rankings?scope=community&org_id={c}"),
    ("community_manager", "community", "/api/communities/{c}/households"),
    ("community_manager", "community", "/api/communities/{c}/teams"),
    ("community_manager", "community", "/api/communities/{c}/postings"),
    ("community_manager", "community", "/api/communities/{c}/settings"),
    ("community_manager", "community", "/api/communities/{c}/join-requests"),
    ("community_manager", "community", "/api/communities/{c}/residents"),
    ("community_manager", "community", "/api/held?community_id={c}"),
    ("community_manager", "community", "/api/manager-flags"),
    ("community_manager", "community", "/api/adjustment-requests"),
    ("community_manager", "community", "/api/communities/{c}/needs"),
    ("community_manager", "community", "/api/communities/{c}/unit-reports"),
    ("community_manager", "community", "/api/communities/{c}/units-served"),
    ("community_manager", "community", "/api/communities/{c}/need-claims"),
    ("community_manager", "community", "/api/cases?view=community&org_id={c}"),
    ("community_manager", "community", "/api/cases/figures?org_id={c}&by=grid"),
    ("community_manager", "community", "/api/redemptions/counts?community_id={c}"),
    ("community_manager", "community", "/api/timebank/requests?community_id={c}"),
    ("community_manager", "community", "/api/grids/{g}/micro-grids"),
    # The manager of a typical community (about 860 residents) of the city: a plan that walks the whole
    # city's table to find a small community's rows shows here first (city world only).
    ("typical_manager", "community", "/api/console/tree"),
    ("typical_manager", "community", "/api/communities/{c7}/members?limit=50"),
    ("typical_manager", "community", "/api/communities/{c7}/members?limit=50&q=%E5%B1%85%E6%B0%91123"),
    ("typical_manager", "community", "/api/audit?community_id={c7}&limit=50"),
    ("typical_manager", "community", "/api/activities?community_id={c7}"),
    ("typical_manager", "community", "/api/communities/{c7}/dashboard"),
    ("typical_manager", "community", "/api/rankings?scope=community&org_id={c7}"),
    ("typical_manager", "export", "/api/communities/{c7}/members.csv"),
    ("unit_admin", "community", "/api/units?mine=true"),
    ("unit_admin", "community", "/api/units/{u}/view"),
    ("unit_admin", "community", "/api/me/need-claims"),
    ("street_manager", "aggregate", "/api/me/levels"),
    ("street_manager", "aggregate", "/api/levels/{s}/overview"),
    ("street_manager", "aggregate", "/api/levels/{s}/units-ranking"),
    ("street_manager", "aggregate", "/api/rankings?scope=street&org_id={s}"),
    ("street_manager", "aggregate", "/api/rankings?scope=party&org_id={s}"),
    ("street_manager", "aggregate", "/api/rankings?scope=units&org_id={s}"),
    ("street_manager", "aggregate", "/api/orgs/{s}/settlement?month={month}"),
    ("street_manager", "aggregate", "/api/cases/figures?org_id={s}&by=community"),
    ("street_manager", "aggregate", "/api/cases?view=street&org_id={s}"),
    ("street_manager", "aggregate", "/api/role-invites?level_id={s}"),
    ("street_manager", "aggregate", "/api/units?under={s}"),
    ("street_manager", "aggregate", "/api/orgs?parent_id={s}"),
    ("district_manager", "aggregate", "/api/me/levels"),
    ("district_manager", "aggregate", "/api/levels/{d}/overview"),
    ("district_manager", "aggregate", "/api/levels/{d}/units-ranking"),
    ("district_manager", "aggregate", "/api/rankings?scope=party&org_id={d}"),
    ("district_manager", "aggregate", "/api/rankings?scope=units&org_id={d}"),
    ("district_manager", "aggregate", "/api/orgs/{d}/settlement?month={month}"),
    ("district_manager", "aggregate", "/api/cases/figures?org_id={d}&by=street"),
    ("district_manager", "aggregate", "/api/role-invites?level_id={d}"),
    ("district_manager", "aggregate", "/api/units?under={d}"),
    ("district_manager", "aggregate", "/api/orgs?parent_id={d}"),
    ("community_manager", "export", "/api/communities/{c}/members.csv"),
    ("community_manager", "export", "/api/audit.csv?community_id={c}&from={year_ago}"),
    ("community_manager", "export", "/api/communities/{c}/ledger.csv?from={year_ago}&to={today}"),
    ("community_manager", "export", "/api/activities/{a}/attendance?format=csv"),
    ("street_manager", "export", "/api/rankings?scope=street&org_id={s}&format=csv"),
]


class Reader:
    """A kept-alive HTTP/1.1 connection for GETs with a bearer token (bench/checkin_load.Phone's
    shape: a full client costs ~1 ms of CPU a request, taken from the app on 2 cores)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path: str, token: str) -> tuple[int, int]:
        """Status and body bytes (the body is read and dropped: a 20,000-row export stays small here)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        try:
            self.writer.write(f"GET {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                              f"authorization: Bearer {token}\r\n\r\n".encode())
            status = int((await self.reader.readline()).split(b" ", 2)[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
                elif name == "connection":
                    close = value == "close"
            size = 0
            if chunked:
                while chunk := int((await self.reader.readline()).split(b";")[0], 16):
                    size += len(await self.reader.readexactly(chunk + 2)) - 2
                await self.reader.readline()
            else:
                while length - size > 0:
                    size += len(await self.reader.read(min(1 << 20, length - size)))
            if close:
                await self.close()
            return status, size
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def paths(world) -> dict:
    today = date.today()
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return {"c7": world.typical_community_id, "c": world.community_id, "s": world.street_id, "d": world.district_id, "g": world.grid_id,
            "u": world.unit_id, "a": world.activity_id, "m": world.member_id, "month": last_month,
            "year_ago": (today - timedelta(days=365)).isoformat(), "today": today.isoformat()}


def _rss_peak_reset(pids: list[int]) -> dict[int, int]:
    """Resets each process's peak RSS (clear_refs 5) and returns its current RSS in kB."""
    now = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
            now[pid] = _status_kb(pid, "VmRSS")
        except OSError:
            pass
    return now


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def _stats_reset(conn: asyncpg.Connection) -> None:
    await conn.execute("select pg_stat_statements_reset()")


async def _costliest(conn: asyncpg.Connection) -> dict:
    """The operation's costliest statement (pg_stat_statements since the reset) and its generic plan."""
    row = await conn.fetchrow(
        """select query, calls, total_exec_time, total_plan_time from pg_stat_statements
            where dbid = (select oid from pg_database where datname = current_database())
              and query not like '%pg_stat_statements%' and calls > 0
            order by total_exec_time desc limit 1""")
    if row is None:
        return {}
    out = {"sql": " ".join(row["query"].split())[:300], "calls": row["calls"],
           "ms_per_call": round(row["total_exec_time"] / row["calls"], 3)}
    try:
        # EXPLAIN of a text with $n and no values needs the simple protocol: a session-local function.
        await conn.execute("""create or replace function pg_temp.bench_explain(q text) returns setof text
                              language plpgsql as $f$ begin return query execute 'explain (generic_plan) ' || q;
                              end $f$""")
        lines = [r[0] for r in await conn.fetch("select pg_temp.bench_explain($1)", row["query"])]
    except asyncpg.PostgresError as error:
        out["explain_error"] = str(error)[:200]
        return out
    out.update(plan_summary(lines))
    seq = out["seq_scans"]
    if seq:
        sizes = {r["relname"]: int(r["reltuples"]) for r in await conn.fetch(
            "select relname, reltuples from pg_class where relname = any($1::text[]) and relkind = 'r'", seq)}
        out["seq_scan_rows"] = sizes
        big = sorted(t for t, n in sizes.items() if n > SEQ_SCAN_FLAG_ROWS)
        blind = await _blind_to_partial_index(conn, lines, big)
        out["big_seq_scans"] = [t for t in big if t not in blind]
        if blind:
            out["normalised_partial_index"] = blind
    else:
        out["big_seq_scans"] = []
    return out


async def _blind_to_partial_index(conn: asyncpg.Connection, lines: list[str], tables: list[str]) -> list[str]:
    """The tables among `tables` scanned only because pg_stat_statements made a constant a parameter:
    the statement says `kind = 'user'` and a partial index `where kind = 'user'` serves it, but the
    normalised text EXPLAINed here says `kind = $6`, which the planner cannot match to the index's
    predicate. A table is listed when each of its sequential scans filters, by a parameter, on a column
    that a partial index of the table is restricted by."""
    blind = []
    for table in tables:
        columns = {r["column"] for r in await conn.fetch(
            """select a.attname as column from pg_index i join pg_class c on c.oid = i.indrelid
                 join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
                where c.relname = $1 and i.indpred is not null
                  and pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M')""", table)}
        filters = [lines[i + 1] for i, line in enumerate(lines[:-1]) if f"Seq Scan on {table} " in line]
        if columns and filters and all(any(f"{col} = $" in f for col in columns) for f in filters):
            blind.append(table)
    return blind


def plan_summary(lines: list[str]) -> dict:
    top = lines[0].strip() if lines else ""
    cost = None
    if "cost=" in top:
        try:
            cost = float(top.split("cost=")[1].split("..")[1].split()[0])
        except (IndexError, ValueError):
            pass
    indexes = sorted({part.split(" using ", 1)[1].split()[0] for part in lines if " using " in part})
    seq_scans = sorted({line.split("Seq Scan on ", 1)[1].split()[0] for line in lines if "Seq Scan on " in line})
    return {"top": top.split("  (")[0], "total_cost": cost, "indexes": indexes, "seq_scans": seq_scans,
            "plan": [line.rstrip() for line in lines[:40]]}


async def measure(app: App, world, server_cpu, *, operations=OPERATIONS, log=print) -> list[dict]:
    """Every operation as its person against `app` (serving `world`); one result per operation."""
    host, port = "127.0.0.1", app.port
    ids = paths(world)
    stats = await asyncpg.connect(world.url)
    results = []
    try:
        for role, kind, template in operations:
            if role not in world.logins:  # the typical community's manager: the city only
                continue
            path = template.format(**ids)
            token = world.logins[role][0]
            result = {"role": role, "kind": kind, "operation": template, "path": path}
            # Warmed by as many readers as will be timed, at once: the app's database pools grow to
            # their working size and each connection prepares the operation's statements, as in a
            # server that has been running (one reader warmed one connection, and the first operation
            # measured paid for opening the rest: /api/me's p95 was 80 ms at 2 ms of CPU a call).
            readers = 1 if kind == "export" else READERS  # an export is timed one call at a time
            status, size = (await _warm(host, port, path, token, readers))[0]
            result["status"], result["bytes"] = status, size
            if status != 200:
                results.append(result)
                log(f"    {role:17} {template[:70]:70} status {status}")
                continue
            await _stats_reset(stats)
            if kind == "export":
                result.update(await _export(app, host, port, path, token, server_cpu))
            else:
                result.update(await _concurrent(app, host, port, path, token, server_cpu))
            result["costliest"] = await _costliest(stats)
            results.append(result)
            flag = " SEQ SCAN " + ",".join(result["costliest"].get("big_seq_scans", [])) \
                if result["costliest"].get("big_seq_scans") else ""
            log(f"    {role:17} {template[:70]:70} p50 {result['p50_ms']:7.1f}  p95 {result['p95_ms']:7.1f} ms"
                f"  PG {result['postgres_cpu_ms_per_call']} ms/call{flag}")
    finally:
        await stats.close()
    return results


async def _warm(host: str, port: int, path: str, token: str, readers: int) -> list[tuple[int, int]]:
    """WARMUP calls by each of `readers` readers at once; the (status, bytes) of each reader's last."""
    async def reader() -> tuple[int, int]:
        r = Reader(host, port)
        try:
            for _ in range(WARMUP):
                answer = await r.get(path, token)
            return answer
        finally:
            await r.close()

    return list(await asyncio.gather(*(reader() for _ in range(readers))))


async def _concurrent(app, host, port, path, token, server_cpu) -> dict:
    latencies: list[float] = []

    async def reader() -> None:
        r = Reader(host, port)
        try:
            for _ in range(CALLS_PER_READER):
                started = time.perf_counter()
                status, _ = await r.get(path, token)
                latencies.append(time.perf_counter() - started)
        finally:
            await r.close()

    meter = CpuMeter(postgres=server_cpu, app=lambda: process_group_cpu(app.pids)).start()
    started = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(READERS)))
    wall = time.perf_counter() - started
    cpu = meter.stop()
    calls = len(latencies)
    return {"calls": calls, "readers": READERS, "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p95_ms": round(percentile(latencies, 95) * 1000, 2), "calls_per_s": round(calls / wall, 1),
            "postgres_cpu_ms_per_call": round(cpu["postgres"] * 1000 / calls, 2) if cpu["postgres"] is not None
            else None,
            "app_cpu_ms_per_call": round(cpu["app"] * 1000 / calls, 2) if cpu["app"] is not None else None}


async def _export(app, host, port, path, token, server_cpu) -> dict:
    times, grown, sizes = [], [], []
    meter = CpuMeter(postgres=server_cpu, app=lambda: process_group_cpu(app.pids)).start()
    for _ in range(EXPORT_CALLS):
        pids = app.pids()
        before = _rss_peak_reset(pids)
        r = Reader(host, port)
        try:
            started = time.perf_counter()
            status, size = await r.get(path, token)
            times.append(time.perf_counter() - started)
        finally:
            await r.close()
        sizes.append(size)
        growth = 0
        for pid, rss in before.items():
            try:
                growth = max(growth, _status_kb(pid, "VmHWM") - rss)
            except OSError:
                pass
        grown.append(growth)
    cpu = meter.stop()
    calls = len(times)
    return {"calls": calls, "readers": 1, "p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(max(times) * 1000, 1), "bytes": max(sizes), "rss_growth_kb": max(grown),
            "postgres_cpu_ms_per_call": round(cpu["postgres"] * 1000 / calls, 1) if cpu["postgres"] is not None
            else None,
            "app_cpu_ms_per_call": round(cpu["app"] * 1000 / calls, 1) if cpu["app"] is not None else None}


def compare(city: list[dict], one: list[dict]) -> list[dict]:
    """Each operation's city figures beside the one-community world's, with the p95 ratio."""
    by_key = {(r["role"], r["operation"]): r for r in one}
    rows = []
    for r in city:
        o = by_key.get((r["role"], r["operation"]), {})
        ratio = round(r["p95_ms"] / o["p95_ms"], 2) if r.get("p95_ms") and o.get("p95_ms") else None
        cpu_ratio = round(r["postgres_cpu_ms_per_call"] / o["postgres_cpu_ms_per_call"], 2) \
            if r.get("postgres_cpu_ms_per_call") and o.get("postgres_cpu_ms_per_call") else None
        rows.append({**r, "one_community": {k: o.get(k) for k in ("status", "p50_ms", "p95_ms",
                                                                     "postgres_cpu_ms_per_call", "app_cpu_ms_per_call",
                                                                     "rss_growth_kb", "bytes", "costliest")},
                     "p95_ratio": ratio, "postgres_cpu_ratio": cpu_ratio})
    return rows

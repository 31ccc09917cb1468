"""Where the time of a check-in goes: the app in-process (the same Litestar app `linli serve` runs,
driven over ASGI by httpx), on the benchmark's database and world.

Three measurements:
- database round trips per check-in and per check-out (asyncpg calls counted);
- CPU against wall time per scan at one client: what the Python process spends itself, and
  what it waits for PostgreSQL;
- a sampling profile (pyinstrument; cProfile when it is missing) of scans at a few concurrent
  clients, with the top frames by self time and the time per package.
"""

import asyncio
import contextlib
import os
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx

from bench.checkin_load import TRUSTED_PROXY, AsgiPhone, Tally, World, scan

COUNTED = ("fetch", "fetchrow", "fetchval", "execute", "executemany")


@contextlib.asynccontextmanager
async def in_process_app(url: str):
    from api.app import create_app
    from domain.core import settings
    os.environ.setdefault("LINLI_TRUSTED_PROXIES", TRUSTED_PROXY)  # the phones' own addresses, as under load
    settings.reload()
    # `linli serve --log-level warning` under load; in-process the request log wrote a line per scan
    # to the terminal (7 % of the profile's wall clock was TextIOWrapper.write).
    import logging
    app = create_app(url, run_sweeper=False, pool_size=10)
    logging.getLogger("linli.request").setLevel(logging.WARNING)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan():  # enter and exit the lifespan in one task, as an ASGI server does
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await started.wait()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
                                     base_url="http://127.0.0.1") as client:
            yield AsgiPhone(client)
    finally:
        stop.set()
        await task


@contextlib.contextmanager
def counting_queries():
    """Count asyncpg calls (each is at least one round trip to PostgreSQL)."""
    calls: Counter = Counter()
    originals = {name: getattr(asyncpg.Connection, name) for name in COUNTED}

    def wrap(name, original):
        async def counted(self, *args, **kwargs):
            calls[name] += 1
            return await original(self, *args, **kwargs)
        return counted

    for name, original in originals.items():
        setattr(asyncpg.Connection, name, wrap(name, original))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)


async def _sequential(client: AsgiPhone, world: World, kind: str, count: int) -> tuple[int, float, float]:
    """`count` scans of one kind, one at a time: (successful, wall seconds, CPU seconds)."""
    tally = Tally()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(count):
        await scan(client, world, kind, tally)
    ok = tally.checked_in if kind == "in" else tally.checked_out
    return ok, time.perf_counter() - wall0, time.process_time() - cpu0


async def _concurrent(client: AsgiPhone, world: World, clients: int, pairs: int) -> None:
    per_client = max(1, pairs // clients)

    async def loop():
        tally = Tally()
        for _ in range(per_client):
            await scan(client, world, "in", tally)
            await scan(client, world, "out", tally)

    await asyncio.gather(*(loop() for _ in range(clients)))


def _area(file_path: str) -> str:
    """The package a frame belongs to, for the time-per-package summary."""
    path = file_path.replace("\\", "/")
    if path in ("<built-in>", "~") or not path:
        return "C built-ins (socket send/recv, epoll, ...)"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for mine in ("/domain/", "/api/", "/bench/"):
        if mine in path:
            return mine.strip("/")
    if "/asyncio/" in path or "selectors" in path:
        return "asyncio (event loop, idle)"
    return "python stdlib" if "/lib/python" in path else "other"


def _top_frames(root, total: float, n: int = 10) -> tuple[list[dict], dict[str, float]]:
    by_function: Counter = Counter()
    by_area: Counter = Counter()
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.is_synthetic or frame.total_self_time <= 0:  # "[self]" frames: already in their parent's
            continue
        path = frame.file_path or ""
        key = (frame.function or "?", frame.file_path_short or path, frame.line_no or 0)
        by_function[key] += frame.total_self_time
        by_area[_area(path)] += frame.total_self_time
    top = [{"function": f, "where": f"{p}:{line}", "self_s": round(t, 3), "share": round(t / total, 3)}
           for (f, p, line), t in by_function.most_common(n)]
    areas = {a: round(t / total, 3) for a, t in by_area.most_common()}
    return top, areas


_DB_COUNTERS = ("xact_commit", "xact_rollback", "blks_hit", "blks_read", "tup_returned", "tup_fetched",
                "tup_inserted", "tup_updated", "tup_deleted")


async def _server_stats(url: str) -> dict:
    """The database's counters and its PL/pgSQL functions' times, once every other session of this
    database has ended (sessions hand their statistics in when they end)."""
    conn = await asyncpg.connect(url)
    try:
        for _ in range(100):
            if not await conn.fetchval("select count(*) from pg_stat_activity where datname = current_database() "
                                       "and pid <> pg_backend_pid()"):
                break
            await asyncio.sleep(0.05)
        row = await conn.fetchrow(f"select {', '.join(_DB_COUNTERS)} from pg_stat_database "
                                  "where datname = current_database()")
        functions = {r["funcname"]: (r["calls"], r["total_time"], r["self_time"]) for r in await conn.fetch(
            "select funcname, calls, total_time, self_time from pg_stat_user_functions")}
        return {"db": dict(row), "functions": functions}
    finally:
        await conn.close()


async def _server_side(url: str, world: World, kind: str, count: int, server_cpu) -> dict:
    """`count` scans of one kind, one at a time, in a fresh in-process app, with what they cost
    the server: PostgreSQL CPU, database counters and trigger function times, per scan."""
    async with in_process_app(url) as client:  # warm the world, then let its sessions end
        await scan(client, world, kind, Tally())
    before, cpu0 = await _server_stats(url), server_cpu() if server_cpu else None
    async with in_process_app(url) as client:
        with counting_queries() as calls:
            ok, wall, cpu = await _sequential(client, world, kind, count)
    after = await _server_stats(url)
    cpu1 = server_cpu() if server_cpu else None
    if ok == 0:  # nothing was scanned (no pair left): say so rather than print figures of nothing
        raise RuntimeError(f"the profile's {kind!r} scans found no pair to scan: reserve more (World.reserve)")
    n = ok
    functions = {}
    for name, (calls_after, total_after, self_after) in after["functions"].items():
        calls_before, total_before, self_before = before["functions"].get(name, (0, 0.0, 0.0))
        if calls_after > calls_before:
            functions[name] = {"calls_per_scan": round((calls_after - calls_before) / n, 2),
                               "total_ms_per_scan": round((total_after - total_before) / n, 3),
                               "self_ms_per_scan": round((self_after - self_before) / n, 3)}
    return {"scans": ok, "db_calls_per_scan": round(sum(calls.values()) / n, 1),
            "wall_ms_per_scan": round(wall / n * 1000, 2), "python_cpu_ms_per_scan": round(cpu / n * 1000, 2),
            "postgres_cpu_ms_per_scan": round((cpu1 - cpu0) / n * 1000, 2) if cpu0 is not None and cpu1 else None,
            "waiting_share": round(max(0.0, 1 - cpu / wall), 2) if wall else None,
            "per_scan": {k: round((after["db"][k] - before["db"][k]) / n, 1) for k in _DB_COUNTERS},
            "trigger_functions": dict(sorted(functions.items(), key=lambda kv: -kv[1]["self_ms_per_scan"]))}


async def _track_functions(url: str, on: bool) -> bool:
    """Time PL/pgSQL functions (the ledger triggers) in new sessions of this database; needs superuser."""
    conn = await asyncpg.connect(url)
    try:
        name = await conn.fetchval("select current_database()")
        await conn.execute(f'alter database "{name}" ' + ("set track_functions = 'pl'" if on else "reset track_functions"))
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()


async def run(url: str, world: World, out_base: Path, *, pairs: int = 200, clients: int = 8,
              sequential: int = 30, server_cpu=None) -> dict:
    """Run with no other session on the database (the serve process stopped): the server-side
    figures are the database's own counters."""
    result: dict = {"mode": "in-process app over ASGI (no HTTP server), same database"}
    conn = await asyncpg.connect(url)
    try:  # the load left work for autovacuum: do it now, so it does not land in the per-scan counters
        await conn.execute("vacuum analyze")
    finally:
        await conn.close()
    tracked = await _track_functions(url, True)
    try:
        for kind, name in (("in", "checkin"), ("out", "checkout")):
            result[name] = await _server_side(url, world, kind, sequential, server_cpu)
    finally:
        if tracked:
            await _track_functions(url, False)
    async with in_process_app(url) as client:
        for _ in range(5):  # warm the pool and the prepared-statement caches
            await scan(client, world, "in", Tally())
            await scan(client, world, "out", Tally())
        try:
            from pyinstrument import Profiler
        except ImportError:
            Profiler = None
        started = time.perf_counter()
        if Profiler is not None:  # wall clock: where a scan waits as well as where it computes
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            await _concurrent(client, world, clients, pairs)
            profiler.stop()
            root = profiler.last_session.root_frame()
            top, areas = _top_frames(root, root.time) if root else ([], {})
            wall_text = profiler.output_text(unicode=True, color=False, show_all=False)
        else:
            top, areas, wall_text = [], {}, "pyinstrument is not installed: pip install -e '.[bench]'"
        elapsed = time.perf_counter() - started
        cpu_top, cpu_areas, cpu_text = await _cpu_profile(client, world, clients, max(20, pairs // 2))
    path = out_base.with_suffix(".profile.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"Check-in path profile: {clients} clients, check-in + check-out pairs, in-process app", "",
             "Sequential scans (one client):"]
    for name in ("checkin", "checkout"):
        r = result[name]
        lines.append(f"  {name}: {r['db_calls_per_scan']} database calls, {r['wall_ms_per_scan']} ms wall, "
                     f"{r['python_cpu_ms_per_scan']} ms Python CPU (app and test client), "
                     f"{r['postgres_cpu_ms_per_scan']} ms PostgreSQL CPU per scan")
        lines.append("    per scan: " + ", ".join(f"{k} {v}" for k, v in r["per_scan"].items()))
        for fn, f in list(r["trigger_functions"].items())[:6]:
            lines.append(f"    {fn}: {f['calls_per_scan']} calls, {f['self_ms_per_scan']} ms self, "
                         f"{f['total_ms_per_scan']} ms total per scan")
    lines += ["", f"Top 10 frames by self time, wall clock (pyinstrument, {pairs} pairs, {elapsed:.1f} s):"]
    lines += [f"  {t['share'] * 100:5.1f}%  {t['function']}  ({t['where']})" for t in top]
    lines += ["", "Wall-clock self time per package:"]
    lines += [f"  {share * 100:5.1f}%  {area}" for area, share in areas.items()]
    lines += ["", "Top 10 functions by CPU time (cProfile with a process-time clock; its own overhead inflates "
              "small calls):"]
    lines += [f"  {t['share'] * 100:5.1f}%  {t['function']}  ({t['where']})" for t in cpu_top]
    lines += ["", "CPU time per package:"] + [f"  {share * 100:5.1f}%  {area}" for area, share in cpu_areas.items()]
    lines += ["", "Full wall-clock profile:", wall_text, "", "cProfile (process time):", cpu_text]
    path.write_text("\n".join(lines), encoding="utf-8")
    result.update(profiler="pyinstrument" if Profiler else "cProfile", clients=clients, pairs=pairs,
                  seconds=round(elapsed, 1), top_frames=top or cpu_top, time_per_package=areas,
                  cpu_top_frames=cpu_top, cpu_per_package=cpu_areas, file=str(path))
    return result


async def _cpu_profile(client: AsgiPhone, world: World, clients: int, pairs: int):
    """Where the process's CPU goes (not its waits): cProfile timed by process time."""
    import cProfile
    import io
    import pstats
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    await _concurrent(client, world, clients, pairs)
    profile.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer).sort_stats("tottime")
    stats.print_stats(25)
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    top = [{"function": func[2], "where": f"{Path(func[0]).name}:{func[1]}", "self_s": round(v[2], 3),
            "share": round(v[2] / total, 3)}
           for func, v in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:10]]
    areas: Counter = Counter()
    for func, v in stats.stats.items():
        areas[_area(func[0])] += v[2]
    return top, {a: round(t / total, 3) for a, t in areas.most_common()}, buffer.getvalue()

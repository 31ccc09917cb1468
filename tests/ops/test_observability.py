"""Operating Linli (issue 17): `linli serve --workers 2` on a fresh database, a scenario of
registrations, logins, scans, redemptions and reports over HTTP; then /metrics (summed over both
workers) must match the database, and the JSON log must hold one line per request with its
request id and no phone number, password, token or code."""

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from domain.core import db, logs, metrics, sweeper
from domain.people import orgs
from tests.conftest import World, _fresh_database, drop_database, new_phone
from tests.app.test_serve import free_port

TOKEN = "metrics-token-for-the-test"
PASSWORD = "scenario-pass-123"


def scrape(base: str) -> dict[str, dict[tuple, float]]:
    r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    found: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return found


def by(samples: dict[tuple, float], label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, value in samples.items():
        out[dict(labels)[label]] += value
    return {k: v for k, v in out.items() if v}


class Scenario:
    """An HTTP client that remembers every answer (for the log) and every secret it saw (to grep for)."""

    def __init__(self, base: str):
        self.base = base
        self.answers: list[httpx.Response] = []
        self.secrets: set[str] = {PASSWORD}
        # No keep-alive: each request is a new connection, so both workers take their share.
        self.client = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0),
                                        event_hooks={"response": [self._seen]})

    async def _seen(self, response: httpx.Response) -> None:
        self.answers.append(response)

    async def call(self, method: str, path: str, who=None, expect: int = 200, **kw) -> httpx.Response:
        headers = kw.pop("headers", {}) | ({"Authorization": f"Bearer {who.token}"} if who else {})
        r = await self.client.request(method, path, headers=headers, **kw)
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        return r


@pytest.fixture
async def served(admin_url, tmp_path):
    url = await _fresh_database(admin_url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LINLI_METRICS_TOKEN": TOKEN, "LINLI_LOG_FORMAT": "json",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           "LINLI_SMS_SHOW_CODES": "1"}  # registration needs the SMS code: the API hands it back
    out = open(tmp_path / "stdout.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "linli", "serve", "--workers", "2", "--port", str(port)],
                            env=env, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, (tmp_path / "stdout.log").read_text()
        assert time.monotonic() < deadline, "the server did not become ready"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    pool = await db.create_pool(url, min_size=1, max_size=4)
    try:
        yield base, pool, proc, tmp_path
    finally:
        await pool.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        out.close()
        await drop_database(admin_url, url)


async def test_two_workers_metrics_match_the_database_and_logs_keep_no_secrets(served):
    base, pool, proc, folder = served
    world = World(pool)
    s = Scenario(base)
    community = await world.community("观测社区")
    manager = community.manager
    courier = await world.member(community, "快递员", role="courier")
    outsider = await world.person("外人")
    s.secrets |= {manager.token, courier.token, outsider.token, manager.phone, courier.phone, outsider.phone}
    admin = await world.actor(await world.admin())
    s.secrets.add((await world.admin()).token)
    s.secrets.add((await world.admin()).phone)

    # Three residents register and log in over HTTP; the community takes them in.
    volunteers = []
    for i in range(3):
        phone = new_phone()
        sent = await s.call("POST", "/api/auth/phone-codes", expect=202, json={"phone": phone, "purpose": "register"})
        await s.call("POST", "/api/auth/register", expect=201,
                     json={"phone": phone, "password": PASSWORD, "name": f"居民{i}", "code": sent.json()["demo_code"],
                           "consent": 1})
        login = (await s.call("POST", "/api/auth/login", json={"phone": phone, "password": PASSWORD})).json()
        s.secrets |= {phone, login["token"], login["csrf"]}
        async with pool.acquire() as conn:
            await orgs.add_member(conn, admin, community.id, login["user_id"], "volunteer")
        volunteers.append(SimpleNamespace(id=login["user_id"], token=login["token"], phone=phone))
    await s.call("POST", "/api/auth/login", expect=401, json={"phone": volunteers[0].phone, "password": "wrong-pass-999"})

    # An activity; everyone scans its poster; one unknown code, one stranger.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    activity = (await s.call("POST", "/api/activities", manager, expect=201, json={
        "community_id": community.id, "title": "清洁家园", "place": "小区广场",
        "starts_at": (now - timedelta(minutes=10)).isoformat(), "ends_at": (now + timedelta(hours=2)).isoformat(),
        "points": 10})).json()
    await s.call("POST", f"/api/activities/{activity['id']}/publish", manager)
    poster = await pool.fetchval("select code from codes where kind = 'poster' and target_id = $1", activity["id"])
    s.secrets.add(poster)
    for v in volunteers:
        await s.call("POST", "/api/scans", v, json={"code": poster, "nonce": uuid.uuid4().hex})
    await s.call("POST", "/api/scans", volunteers[0], expect=404, json={"code": "ZZZZZZZZZZZZ"})
    await s.call("POST", "/api/scans", outsider, expect=403, json={"code": poster, "nonce": uuid.uuid4().hex})

    # The supermarket: one redemption handed over, one rejected, one cancelled.
    for v in volunteers:
        await world.fund(v, community, "points", 100)
    reward = (await s.call("POST", "/api/rewards", manager, expect=201, json={
        "community_id": community.id, "name": "洗衣液", "description": "2kg", "cost_points": 30, "stock": 10})).json()
    asked = [(await s.call("POST", "/api/redemptions", v, expect=201, json={"reward_id": reward["id"], "quantity": 1}
                           )).json() for v in volunteers]
    await s.call("POST", f"/api/redemptions/{asked[0]['id']}/approve", manager)
    voucher = (await s.call("GET", f"/api/redemptions/{asked[0]['id']}/voucher", volunteers[0])).json()["code"]
    s.secrets.add(voucher)
    await s.call("POST", "/api/scans", manager, json={"code": voucher})
    await s.call("POST", f"/api/redemptions/{asked[1]['id']}/reject", manager, json={"reason": "库存调整"})
    await s.call("POST", f"/api/redemptions/{asked[2]['id']}/cancel", volunteers[2])

    # Courier reports: one verified, one rejected, one waiting.
    filed = []
    for text in ("楼道堆放杂物", "帮老人取快递", "路灯不亮"):
        filed.append((await s.call("POST", "/api/reports", courier, expect=201,
                                   files={"kind": (None, "service"), "text": (None, text)})).json())
    await s.call("POST", f"/api/reports/{filed[0]['id']}/verify", manager)
    await s.call("POST", f"/api/reports/{filed[1]['id']}/reject", manager, json={"reason": "重复上报"})

    # Request ids: a caller's is kept (cut to safe characters), a missing one is made.
    kept = await s.call("GET", "/healthz", headers={"X-Request-ID": "lb-7f3a.1:2"})
    assert kept.headers["x-request-id"] == "lb-7f3a.1:2"
    cleaned = await s.call("GET", "/healthz", headers={"X-Request-ID": 'a b"<script>' + "x" * 100})
    assert cleaned.headers["x-request-id"] == "abscript" + "x" * 56
    missing = await s.call("GET", "/api/no-such-thing", expect=404)
    assert len(missing.headers["x-request-id"]) == 32

    # A burst on separate connections reaches both workers.
    await asyncio.gather(*(s.call("GET", "/readyz") for _ in range(30)))

    # /metrics is for the scraper only.
    assert httpx.get(f"{base}/metrics", timeout=10).status_code == 401
    assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401

    [run_folder] = (folder / "metrics").iterdir()
    served_by = {}  # worker pid -> requests it counted, read from its own file
    for f in run_folder.glob("counter_*.db"):
        served_by[f.stem.rsplit("_", 1)[1]] = sum(
            value for key, value, *_ in MmapedDict.read_all_values_from_file(str(f)) if "linli_requests_total" in key)
    assert sum(1 for n in served_by.values() if n) >= 2, f"both workers should have served: {served_by}"

    scraped = [scrape(base) for _ in range(4)]  # whichever worker answers, the sums are the same
    m = scraped[-1]
    for other in scraped[:-1]:
        for name in ("linli_scans_total", "linli_points_issued_total", "linli_redemptions_total",
                     "linli_reports_total"):
            assert other[name] == m[name], name

    scans = m["linli_scans_total"]
    accepted = {k: v for k, v in by(scans, "result").items() if k != "refused"}
    refused = by({k: v for k, v in scans.items() if dict(k)["result"] == "refused"}, "reason")
    checked_in = await pool.fetchval("select count(*) from attendances where activity_id = $1", activity["id"])
    fulfilled = await pool.fetchval("select count(*) from redemptions where state = 'fulfilled' and not on_the_spot")
    assert accepted == {"checked_in": checked_in, "fulfilled": fulfilled} == {"checked_in": 3, "fulfilled": 1}
    logged = {r["reason"]: r["n"] for r in await pool.fetch("select reason, count(*) as n from failed_scans group by reason")}
    assert refused == logged == {"code_unknown": 1, "not_member": 1}

    issued = await pool.fetchval("select coalesce(sum(amount), 0) from transfers "
                                 "where unit = 'points' and kind = 'award' and state = 'posted'")
    redeemed = await pool.fetchval("select coalesce(sum(amount), 0) from transfers "
                                   "where unit = 'points' and kind = 'redemption' and state = 'posted'")
    assert issued > 0 and redeemed == 30
    assert sum(m["linli_points_issued_total"].values()) == issued
    assert sum(m["linli_points_redeemed_total"].values()) == redeemed

    events = {r["to_state"]: r["n"] for r in await pool.fetch(
        "select to_state, count(*) as n from redemption_events group by to_state")}
    assert by(m["linli_redemptions_total"], "state") == events == {
        "requested": 3, "approved": 1, "fulfilled": 1, "rejected": 1, "cancelled": 1}
    states = {r["state"]: r["n"] for r in await pool.fetch("select state, count(*) as n from reports group by state")}
    assert by(m["linli_reports_total"], "state") == {"pending": sum(states.values()), "verified": states["verified"],
                                                    "rejected": states["rejected"]} == {
        "pending": 3, "verified": 1, "rejected": 1}
    assert sum(m["linli_db_pool_connections"].values()) >= 2  # both workers' pools
    requests = by(m["linli_requests_total"], "route")
    assert requests["/api/scans"] == 6 and requests["/api/auth/login"] == 4

    # The log: one JSON line per request, in the order nobody promised, matched by request id.
    proc.terminate()
    proc.wait(timeout=30)
    text = (folder / "stdout.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    request_lines = {line["request_id"]: line for line in lines if line.get("message") == "request"}
    scenario = [r for r in s.answers if r.request.url.path != "/metrics"]
    for r in scenario:
        line = request_lines[r.headers["x-request-id"]]
        assert (line["method"], line["status"]) == (r.request.method, r.status_code)
        assert set(line) >= {"time", "method", "path", "status", "duration_ms", "user_id", "request_id"}
    scan_lines = [line for line in request_lines.values() if line["path"] == "/api/scans"]
    assert {line["user_id"] for line in scan_lines} == {v.id for v in volunteers} | {outsider.id, manager.id}
    assert request_lines["lb-7f3a.1:2"]["path"] == "/healthz"
    assert {line["path"] for line in request_lines.values()} >= {
        "/api/redemptions/{redemption_id}/approve", "/api/reports", "/api/auth/login"}
    leaked = sorted(secret for secret in s.secrets if secret in text)
    assert not leaked, f"secrets in the log: {leaked}"
    assert not list((folder / "metrics").iterdir()), "the run's metrics folder is removed when serve stops"


async def test_a_sweep_run_is_one_log_line_and_counted(pool, caplog, monkeypatch):
    async def broken(pool, now):
        raise asyncpg.PostgresConnectionError("gone")

    async def fine(pool, now):
        return 2

    monkeypatch.setattr(sweeper, "SWEEPS", [fine, broken])
    runs = metrics.SWEEP_RUNS.labels(sweep="broken")._value.get()
    failures = metrics.SWEEP_FAILURES.labels(sweep="broken")._value.get()
    caplog.set_level(logging.INFO, logger="linli")
    assert await sweeper.sweep_once(pool) == 2
    [line] = [r for r in caplog.records if r.getMessage() == "sweep"]
    assert line.fields["done"] == 2 and line.fields["failed"] == ["broken"] and line.fields["results"] == {"fine": 2}
    assert metrics.SWEEP_RUNS.labels(sweep="broken")._value.get() == runs + 1
    assert metrics.SWEEP_FAILURES.labels(sweep="broken")._value.get() == failures + 1
    assert metrics.SWEEP_FAILURES.labels(sweep="fine")._value.get() == 0


def test_log_lines_are_json_or_text():
    record = logging.LogRecord("linli.request", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"method": "GET", "path": "/api/me", "status": 200, "duration_ms": 1.5, "user_id": None,
                     "request_id": "abc"}
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "request" and line["path"] == "/api/me" and line["request_id"] == "abc"
    assert line["time"].endswith("+00:00")
    text = logs.TextFormatter().format(record)
    assert "request" in text and "path=/api/me" in text and "request_id=abc" in text and "user_id" not in text


async def test_counters_wait_for_the_commit(pool):
    """after_commit hooks run when the outermost transaction commits, never for a rolled-back part."""
    seen = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            db.after_commit(conn, lambda: seen.append("outer"))
            with pytest.raises(ValueError):
                async with conn.transaction():
                    db.after_commit(conn, lambda: seen.append("rolled back savepoint"))
                    raise ValueError
            async with conn.transaction():
                db.after_commit(conn, lambda: seen.append("savepoint"))
            assert seen == []
        assert seen == ["outer", "savepoint"]
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with conn.transaction():
                db.after_commit(conn, lambda: seen.append("never"))
                await conn.execute("select 1/0")
        db.after_commit(conn, lambda: seen.append("no transaction: now"))
    assert seen == ["outer", "savepoint", "no transaction: now"]


async def test_readyz_names_pending_migrations(client, pool, monkeypatch):
    assert (await client.get("/readyz")).json() == {"status": "ok", "database": "ok"}
    known = db.migration_files()
    monkeypatch.setattr(db, "migration_files", lambda: [*known, Path("999_not_applied.sql")])
    r = await client.get("/readyz")
    assert r.status_code == 503 and r.json()["pending_migrations"] == ["999_not_applied.sql"]
    assert (await client.get("/healthz")).status_code == 200


async def test_metrics_need_the_token(client, setenv):
    assert (await client.get("/metrics")).status_code == 404  # no token configured: not there
    setenv("LINLI_METRICS_TOKEN", "s3cret-token")
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    r = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert r.status_code == 200 and "linli_db_pool_in_use" in r.text

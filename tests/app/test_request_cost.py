"""What a request costs the app beyond its database work (issue 24): the per-request layers stay
cheap without losing what they do (headers, metrics, logs)."""

import json
import logging
import uuid
from datetime import datetime, timezone

import litestar._kwargs.kwargs_model as kwargs_model
import pytest

from api import cli
from domain.core import logs, metrics
from tests.checkin.test_activities import new_activity, poster_code

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def test_a_scan_resolves_its_actor_without_a_task_group(client, world, pool, monkeypatch):
    """`actor` and `pool` side by side in one handler were resolved concurrently by Litestar, in an anyio
    task group with a task each: more CPU than the rest of the dependency injection of a scan."""
    community = await world.community()
    volunteer = await world.member(community)
    code = await poster_code(pool, (await new_activity(client, community))["id"])
    groups = []
    real = kwargs_model.create_task_group
    monkeypatch.setattr(kwargs_model, "create_task_group", lambda: groups.append(1) or real())
    r = await client.post("/api/scans", json={"code": code, "nonce": uuid.uuid4().hex}, headers=volunteer.headers)
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text
    assert groups == []
    unauthenticated = await client.post("/api/scans", json={"code": code})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "unauthenticated"


async def test_headers_metrics_and_log_line_of_a_request(client, world, pool, caplog):
    person = await world.person()
    caplog.set_level(logging.INFO, logger="linli")
    before = metrics.REQUESTS.labels(method="GET", route="/api/me", status="200")._value.get()
    for _ in range(2):
        r = await client.get("/api/me", headers=person.headers)
        assert r.status_code == 200
        assert r.headers["x-frame-options"] == "DENY" and len(r.headers["x-request-id"]) == 32
        assert r.headers["content-security-policy"].count("frame-ancestors") == 1
    assert metrics.REQUESTS.labels(method="GET", route="/api/me", status="200")._value.get() == before + 2
    # The pool gauges are what the pool holds once the request is done (written only on change).
    assert metrics.POOL_SIZE._value.get() == pool.get_size()
    assert metrics.POOL_IN_USE._value.get() == pool.get_size() - pool.get_idle_size()
    lines = [rec for rec in caplog.records if rec.name == "linli.request" and rec.fields["path"] == "/api/me"]
    assert len(lines) >= 2 and lines[-1].fields["user_id"] == person.id
    assert lines[-1].fields["request_id"] == r.headers["x-request-id"]
    docs = await client.get("/schema")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


def test_the_json_line_is_the_same_json_on_its_fast_path():
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("linli.request", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"method": "POST", "path": "/api/scans", "status": 200, "duration_ms": 1.25, "user_id": None,
                     "request_id": "abc", "name": "张三 \"q\"\n"}
    line = formatter.format(record)
    assert json.loads(line) == {"time": json.loads(line)["time"], "level": "info", "logger": "linli.request",
                                "message": "request", **record.fields}
    assert json.loads(line)["time"].endswith("+00:00")
    assert "张三" in line  # not escaped to \\uXXXX
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    record.fields = {"at": at, "failed": ["x"]}  # not plain values: json.dumps with str(), as before
    assert json.loads(formatter.format(record))["at"] == str(at)


def test_serve_names_uvloop_and_httptools(monkeypatch):
    """uvicorn[standard] brings both; `linli serve` names them instead of leaving it to "auto"."""
    seen = {}
    monkeypatch.setenv("LINLI_PUBLIC_URL", "http://127.0.0.1:8123")  # _serve sets it when missing: not for later tests
    monkeypatch.setattr(cli, "_url", lambda: "postgresql://unused")

    async def no_migrations(url):
        return []

    monkeypatch.setattr(cli.db, "migrate", no_migrations)
    import signal

    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    args = cli.argparse.Namespace(host="127.0.0.1", port=8123, workers=2, log_level="warning", demo=False)
    assert cli._serve(args) == 0
    assert (seen["app"], seen["loop"], seen["http"], seen["workers"]) == ("api.asgi:app", "uvloop", "httptools", 2)

"""Issue 16 findings 10 and 11 at the edge of the process: the embedded PostgreSQL's handles after a
kill -9, and whose X-Forwarded-For is believed."""

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from domain.core import db, settings

# ---- finding 10: a kill -9 must not keep the embedded server alive forever -------------------------

CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from domain.core import db
    db.start_embedded(Path(sys.argv[1]))
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), 9)   # no atexit: the PID stays in the handle file
""")


def _child(folder: Path, how: str) -> int:
    code = CHILD.format(root=str(settings.get().home))
    proc = subprocess.run([sys.executable, "-c", code, str(folder), how], timeout=180,
                          capture_output=True, text=True)
    return proc.returncode


def test_finding_10_kill_9_leaves_no_stale_handle_that_keeps_the_server_running(tmp_path):
    folder = tmp_path / "data"
    pgdata = folder / "pg"
    try:
        assert _child(folder, "kill") == -9
        handles = json.loads((pgdata / ".handle_pids.json").read_text())
        assert len(handles) == 1  # the killed process is still listed
        assert (pgdata / "postmaster.pid").exists()  # and the server runs on
        # A later run that ends cleanly is the last user: it stops the server.
        assert _child(folder, "exit") == 0
        assert not (pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL was left running"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        pidfile = pgdata / "postmaster.pid"
        if pidfile.exists():  # leave no server behind whatever happened: SIGQUIT is an immediate shutdown
            try:
                os.kill(int(pidfile.read_text().split()[0]), 3)
            except (OSError, ValueError):
                pass


def test_forget_dead_handles_keeps_the_living(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".handle_pids.json").write_text(json.dumps([os.getpid(), dead.pid]))
    assert db.forget_dead_handles(tmp_path) == [dead.pid]
    assert json.loads((tmp_path / ".handle_pids.json").read_text()) == [os.getpid()]
    (tmp_path / ".handle_pids.json").write_text("not json")
    assert db.forget_dead_handles(tmp_path) == []


# ---- finding 11: X-Forwarded-For only from configured proxies ----------------------------------

async def _audited_ip(client, world, pool, headers: dict) -> str:
    c = await world.community("代理社区")
    r = await client.post("/api/teams", headers={**c.manager.headers, **headers},
                          json={"name": "一队", "community_id": c.id})
    assert r.status_code == 201
    return await pool.fetchval("select ip from audit_log where act = 'team_create' and target_id = $1",
                               r.json()["id"])


async def test_finding_11_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(client, world, pool, setenv):
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    assert settings.get().trusted_proxies == frozenset()  # the default: nobody's header is believed
    assert await _audited_ip(client, world, pool, spoof) == client.client_ip
    setenv("LINLI_TRUSTED_PROXIES", "192.0.2.1, 192.0.2.2")  # not this client
    assert await _audited_ip(client, world, pool, spoof) == client.client_ip
    setenv("LINLI_TRUSTED_PROXIES", f"192.0.2.1,{client.client_ip}")
    assert await _audited_ip(client, world, pool, spoof) == "203.0.113.9"
    # Several hops: the right-most address that is not a trusted proxy is the client.
    chain = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 192.0.2.1"}
    assert await _audited_ip(client, world, pool, chain) == "203.0.113.9"


@pytest.mark.parametrize("configured, proxy_headers, allowed", [
    ("", False, None), ("10.0.0.6, 10.0.0.5", True, "10.0.0.5,10.0.0.6")])
def test_finding_11_uvicorn_believes_forwarded_headers_only_from_configured_proxies(
        monkeypatch, setenv, configured, proxy_headers, allowed):
    """uvicorn's proxy_headers would believe X-Forwarded-For and -Proto from 127.0.0.1 on its own:
    `linli serve` turns it on only for LINLI_TRUSTED_PROXIES, and then for exactly those."""
    import uvicorn

    from api import cli
    seen = {}

    async def no_migrations(url):
        return []

    monkeypatch.setattr(db, "database_url", lambda: "postgresql://unused/linli")
    monkeypatch.setattr(db, "migrate", no_migrations)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(settings, "set_public_url_default", lambda url: None)
    monkeypatch.setattr(settings, "set_metrics_dir", lambda folder: None)  # in-process: leave the metrics alone
    setenv("LINLI_TRUSTED_PROXIES", configured)
    import signal
    previous = signal.getsignal(signal.SIGTERM)
    try:
        cli.cmd_serve(argparse.Namespace(host="127.0.0.1", port=8000, workers=1, log_level="warning", demo=False))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (seen["proxy_headers"], seen["forwarded_allow_ips"]) == (proxy_headers, allowed)

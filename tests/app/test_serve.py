"""The real `linli serve` process: migrations under a lock, health, demo logins (issue 3)."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx

from tests.conftest import _with_database, drop_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(url: str, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "linli", "serve", "--port", str(port), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


async def _create(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()


def test_two_processes_start_together_on_a_new_database_and_migrate_once(admin_url):
    name = f"linli_race_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(admin_url, name))
    url = _with_database(admin_url, name)
    ports = [free_port(), free_port()]
    procs = [start(url, port) for port in ports]
    try:
        for port, proc in zip(ports, procs):
            assert wait_healthy(port, proc) == {"status": "ok", "database": "ok"}

        async def applied():
            conn = await asyncpg.connect(url)
            try:
                return await conn.fetch("select name, count(*) from schema_migrations group by name")
            finally:
                await conn.close()
        rows = asyncio.run(applied())
        assert rows and all(r["count"] == 1 for r in rows)
        assert "001_people_and_orgs.sql" in {r["name"] for r in rows}
    finally:
        stop(*procs)
        asyncio.run(drop_database(admin_url, url))


def test_serve_demo_prints_logins_that_work(admin_url):
    name = f"linli_demo_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(admin_url, name))
    url = _with_database(admin_url, name)
    port = free_port()
    proc = start(url, port, "--demo")
    try:
        wait_healthy(port, proc)
        base = f"http://127.0.0.1:{port}"
        spec = httpx.get(f"{base}/schema/openapi.json").json()
        assert {"/api/auth/login", "/api/me", "/api/orgs"} <= set(spec["paths"])
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
        assert f"http://127.0.0.1:{port}/" in output
        logins = [line.split()[0] for line in output.splitlines() if line.strip().startswith(("138", "139", "137"))]
        password = output.split("password for all: ", 1)[1].split(")", 1)[0]
        assert len(logins) >= 5
        proc = start(url, port)
        wait_healthy(port, proc)
        for phone in logins:
            r = httpx.post(f"{base}/api/auth/login", json={"phone": phone, "password": password})
            assert r.status_code == 200, (phone, r.text)
            me = httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
            assert me["roles"], phone
    finally:
        stop(proc)
        asyncio.run(drop_database(admin_url, url))


def test_embedded_postgres_is_kept_between_runs_and_stopped_on_exit(tmp_path):
    """Without DATABASE_URL, `linli serve` starts PostgreSQL in its data folder and stops it on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LINLI_DATA_DIR"] = str(tmp_path / "data")
    port = free_port()
    for run in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "linli", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_healthy(port, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        pid_file = tmp_path / "data" / "pg" / "postmaster.pid"
        deadline = time.monotonic() + 20
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pid_file.exists(), f"run {run}: the embedded PostgreSQL is still running"
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()  # the data folder is kept

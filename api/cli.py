"""`linli` command line: serve, migrate, demo, create-admin, ledger check, audit, backup, restore.

Every command works on the embedded default (no DATABASE_URL: PostgreSQL in LINLI_DATA_DIR, started
for the command and stopped when it ends) and on any server named by DATABASE_URL. The URL is
resolved before any event loop starts: starting the embedded server runs a loop of its own.
"""

import argparse
import asyncio
import getpass
import sys
from datetime import datetime
from pathlib import Path

from domain.core import db, settings
from domain.core.errors import DomainError


def _run(coro):
    return asyncio.run(coro)


def _url() -> str:
    """The database URL, starting the embedded server when none is configured (outside any loop)."""
    return db.database_url()


async def _connect(url: str):
    import asyncpg
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    return conn


def _with_conn(fn):
    """Run `fn(conn)` on the database, migrated first."""
    url = _url()

    async def run():
        await db.migrate(url)
        conn = await _connect(url)
        try:
            return await fn(conn)
        finally:
            await conn.close()
    return _run(run())


def cmd_migrate(args) -> int:
    applied = _run(db.migrate(_url()))
    print("applied: " + (", ".join(applied) if applied else "nothing new"))
    return 0


def _refused(what: str, exc: DomainError) -> None:
    from domain.core.reasons import REASONS
    detail = ", ".join(f"{k}: {v}" for k, v in exc.details.items())
    print(f"linli: {what}: {exc.message or REASONS[exc.code][1]} ({detail})", file=sys.stderr)


def print_logins() -> None:
    from domain.demo import LOGINS, PASSWORD
    print("Demo logins (password for all: %s):" % PASSWORD)
    for who, phone in LOGINS:
        print(f"  {phone}  {who}")


def cmd_demo(args) -> int:
    from domain import demo
    async def seed(conn):
        async with conn.transaction():  # all of the demo city or none of it
            return await demo.seed(conn)
    try:
        city = _with_conn(seed)
    except DomainError as exc:
        _refused("demo city not created", exc)
        return 1
    print("demo city created" if city else "demo city already present")
    print_logins()
    return 0


def cmd_create_admin(args) -> int:
    from domain.people import auth
    password = args.password or settings.get().admin_password or getpass.getpass("password: ")
    try:
        user_id = _with_conn(lambda conn: auth.create_user(conn, phone=args.phone, password=password,
                                                           name=args.name, is_admin=True))
    except DomainError as exc:
        _refused("admin not created", exc)
        return 1
    print(f"admin created: user {user_id}")
    return 0


def cmd_ledger_check(args) -> int:
    from domain.ledger import check as ledger_check
    problems = _with_conn(ledger_check.check)
    return _report_ledger(problems)


def cmd_audit(args) -> int:
    """What broke "nobody creates value alone": domain/oversight/report.py."""
    from domain.oversight import report
    found = _with_conn(report.report)
    if not found:
        print("audit: clean")
        return 0
    for name, rows in found.items():
        print(f"FOUND: {name} ({len(rows)})")
        for row in rows:
            print(f"    {row}")
    return 1


def _report_ledger(problems: dict) -> int:
    if not problems:
        print("ledger check: clean")
        return 0
    for name, rows in problems.items():
        print(f"DRIFT: {name}")
        for row in rows:
            print(f"    {row}")
    return 1


def cmd_backup(args) -> int:
    from domain.core import backup
    target = Path(args.file or datetime.now().strftime("linli-backup-%Y%m%d-%H%M%S.dump")).resolve()
    try:
        size = backup.dump(_url(), target)
    except backup.BackupError as exc:
        print(f"linli: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {target} ({size} bytes)")
    return 0


def cmd_restore(args) -> int:
    from domain.core import backup
    from domain.ledger import check as ledger_check
    source = Path(args.file).resolve()
    try:
        backup.check_archive(source)
    except backup.BackupError as exc:
        print(f"linli: restore refused: {exc}", file=sys.stderr)
        return 1
    url = _url()

    async def prepare() -> int:
        conn = await _connect(url)
        try:
            tables = await backup.table_count(conn)
            if tables and args.force:
                await backup.wipe(conn)
            return tables
        finally:
            await conn.close()

    tables = _run(prepare())
    if tables and not args.force:
        print(f"linli: restore refused: the database is not empty ({tables} tables). Restore into an empty "
              "database, or add --force to replace everything in it (stop `linli serve` first).", file=sys.stderr)
        return 1
    try:
        backup.restore(url, source)
    except backup.BackupError as exc:
        print(f"linli: restore failed, the database is left empty: {exc}", file=sys.stderr)
        return 1

    async def count(conn):
        return await conn.fetchval("select count(*) from accounts")
    print(f"restored: {source}" + (f" (replaced {tables} tables)" if tables else ""))
    # An older backup gets the migrations added since it was taken; then the ledger is verified.
    print(f"accounts: {_with_conn(count)}")
    return _report_ledger(_with_conn(ledger_check.check))


def _exit_on_sigterm(signum, frame) -> None:
    # uvicorn re-raises the signal it stopped on once it has shut down; exiting through SystemExit
    # (not the default handler, which kills the process) lets atexit stop the embedded PostgreSQL.
    raise SystemExit(0)


def cmd_serve(args) -> int:
    import shutil
    import tempfile

    # Workers share their metrics through files in one folder, fresh for each run (counts of an
    # earlier run must not add up into this one), set before prometheus_client is first imported.
    parent = settings.get().metrics_dir
    if parent:
        parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="linli-metrics-", dir=parent))
    settings.set_metrics_dir(folder)
    try:
        return _serve(args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serve(args) -> int:
    import signal

    import uvicorn
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    url = _url()  # starts the embedded server once, in this parent process
    _run(db.migrate(url))
    if args.demo:
        cmd_demo(args)
        settings.set_sms_show_codes()  # workers inherit it: a visitor registers without a real phone
        settings.set_demo_id_key()     # a visitor may try the ID number (a key for this run only)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"Linli is running at http://{shown}:{args.port}/  (API docs: http://{shown}:{args.port}/schema)",
          flush=True)
    settings.set_public_url_default(f"http://{shown}:{args.port}")
    from domain.core import logs
    # Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from LINLI_TRUSTED_PROXIES
    # (default none). uvicorn's own default would believe them from 127.0.0.1: without configured
    # proxies its proxy handling is off; with them it trusts exactly those (as api/deps.py client_ip does).
    trusted = sorted(settings.get().trusted_proxies)
    loop, http = server_loop()
    uvicorn.run("api.asgi:app", host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                proxy_headers=bool(trusted), forwarded_allow_ips=",".join(trusted) if trusted else None,
                access_log=False, log_config=logs.uvicorn_config(), loop=loop, http=http)
    return 0


def server_loop() -> tuple[str, str]:
    """Uvicorn's event loop and HTTP parser, named rather than left to "auto": uvloop and httptools
    (uvicorn[standard] installs both) spend less CPU per request than asyncio's loop and h11. Where
    they cannot be installed (uvloop has no Windows build) the pure-Python ones serve instead.
    uvicorn over granian: measured side by side on the same app, granian's Rust threads
    handing each request to the Python worker cost more CPU per request, not less."""
    import importlib.util
    return ("uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "httptools" if importlib.util.find_spec("httptools") else "h11")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="linli", description="Linli (邻里): points and rewards for community volunteering. Every command uses "
        "the PostgreSQL named by DATABASE_URL, or else an embedded one kept in LINLI_DATA_DIR (started for the "
        "command, stopped when it ends).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web app (embedded PostgreSQL unless DATABASE_URL is set)",
                           description="Apply new migrations, then serve the web app and the JSON API.")
    config = settings.get()
    serve.add_argument("--host", default=config.host)
    serve.add_argument("--port", type=int, default=config.port)
    serve.add_argument("--workers", type=int, default=config.workers)
    serve.add_argument("--demo", action="store_true", help="seed the demo city and print its logins")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(fn=cmd_serve)
    sub.add_parser("migrate", help="apply new migrations",
                   description="Apply the migrations not yet applied, in order, once each.").set_defaults(fn=cmd_migrate)
    sub.add_parser("demo", help="seed the demo city and print its logins",
                   description="Create the demo city (a district, communities, people, activities, rewards) "
                   "unless it is there already, and print its logins.").set_defaults(fn=cmd_demo)
    admin = sub.add_parser("create-admin", help="create a platform admin",
                           description="Create a platform admin who can log in with this phone and password.")
    admin.add_argument("--phone", required=True)
    admin.add_argument("--name", default="管理员")
    admin.add_argument("--password", help="or LINLI_ADMIN_PASSWORD, or asked for")
    admin.set_defaults(fn=cmd_create_admin)
    ledger = sub.add_parser("ledger", help="ledger tools", description="Ledger tools.")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    ledger_sub.add_parser("check", help="verify every ledger invariant; non-zero exit on drift",
                          description="Verify every ledger invariant over the whole database (balances, "
                          "entries, holds, reversals); print each drift and exit 1 if any.").set_defaults(
        fn=cmd_ledger_check)
    sub.add_parser("audit", help="list value created without a second person; non-zero exit if any",
                   description="List value created without a second person (what broke 'nobody creates "
                   "value alone'): manual value above the "
                   "community's thresholds or daily limit posted by its maker alone, activities published "
                   "above the threshold unapproved, managers' own credits and on-the-spot redemptions for "
                   "their own residents, and credits of presence proven after an automatic check-out. "
                   "Exit 1 if any.").set_defaults(fn=cmd_audit)
    dump = sub.add_parser("backup", help="write the whole database to a file (pg_dump custom format)",
                          description="Write a consistent copy of the whole database to FILE (pg_dump custom "
                          "format), safe while Linli runs. Restore it with `linli restore`.")
    dump.add_argument("file", metavar="FILE", nargs="?",
                      help="where to write (default: linli-backup-YYYYMMDD-HHMMSS.dump in this folder)")
    dump.set_defaults(fn=cmd_backup)
    load = sub.add_parser("restore", help="load a backup into the database (refuses a non-empty one without --force)",
                          description="Load FILE (made by `linli backup`) into the database, then apply newer "
                          "migrations and run the ledger check. Refuses a database that holds data unless "
                          "--force; stop `linli serve` first.")
    load.add_argument("file", metavar="FILE", help="a file written by `linli backup`")
    load.add_argument("--force", action="store_true",
                      help="drop everything in the database first (its current data is lost)")
    load.set_defaults(fn=cmd_restore)
    try:
        args = parser.parse_args(argv)
        sys.exit(args.fn(args))
    except settings.SettingsError as exc:
        sys.exit(f"linli: configuration error: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

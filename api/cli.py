"""`linli` command line: serve, migrate, demo, create-admin, ledger check."""

import argparse
import asyncio
import getpass
import sys

from domain.core import db, settings


def _run(coro):
    return asyncio.run(coro)


async def _with_conn(fn):
    import asyncpg
    await db.migrate(db.database_url())
    conn = await asyncpg.connect(db.database_url())
    await db._init_connection(conn)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def cmd_migrate(args) -> int:
    applied = _run(db.migrate(db.database_url()))
    print("applied: " + (", ".join(applied) if applied else "nothing new"))
    return 0


def print_logins() -> None:
    from domain.demo import LOGINS, PASSWORD
    print("Demo logins (password for all: %s):" % PASSWORD)
    for who, phone in LOGINS:
        print(f"  {phone}  {who}")


def cmd_demo(args) -> int:
    from domain import demo
    city = _run(_with_conn(demo.seed))
    print("demo city created" if city else "demo city already present")
    print_logins()
    return 0


def cmd_create_admin(args) -> int:
    from domain.people import auth
    password = args.password or settings.get().admin_password or getpass.getpass("password: ")
    user_id = _run(_with_conn(lambda conn: auth.create_user(conn, phone=args.phone, password=password,
                                                            name=args.name, is_admin=True)))
    print(f"admin created: user {user_id}")
    return 0


def cmd_ledger_check(args) -> int:
    from domain.ledger import check as ledger_check
    problems = _run(_with_conn(ledger_check.check))
    if not problems:
        print("ledger check: clean")
        return 0
    for name, rows in problems.items():
        print(f"DRIFT: {name}")
        for row in rows:
            print(f"    {row}")
    return 1


def _exit_on_sigterm(signum, frame) -> None:
    # uvicorn re-raises the signal it stopped on once it has shut down; exiting through SystemExit
    # (not the default handler, which kills the process) lets atexit stop the embedded PostgreSQL.
    raise SystemExit(0)


def cmd_serve(args) -> int:
    import signal

    import uvicorn
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    url = db.database_url()  # starts the embedded server once, in this parent process
    _run(db.migrate(url))
    if args.demo:
        cmd_demo(args)
        settings.set_sms_show_codes()  # workers inherit it: a visitor registers without a real phone
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"Linli is running at http://{shown}:{args.port}/  (API docs: http://{shown}:{args.port}/schema)",
          flush=True)
    settings.set_public_url_default(f"http://{shown}:{args.port}")
    # Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from LINLI_TRUSTED_PROXIES
    # (default none). uvicorn's own default would believe them from 127.0.0.1: without configured
    # proxies its proxy handling is off; with them it trusts exactly those (as api/deps.py client_ip does).
    trusted = sorted(settings.get().trusted_proxies)
    uvicorn.run("api.asgi:app", host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                proxy_headers=bool(trusted), forwarded_allow_ips=",".join(trusted) if trusted else None,
                access_log=False)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) community volunteering platform")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web app (embedded PostgreSQL unless DATABASE_URL is set)")
    config = settings.get()
    serve.add_argument("--host", default=config.host)
    serve.add_argument("--port", type=int, default=config.port)
    serve.add_argument("--workers", type=int, default=config.workers)
    serve.add_argument("--demo", action="store_true", help="seed the demo city and print its logins")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(fn=cmd_serve)
    sub.add_parser("migrate", help="apply new migrations").set_defaults(fn=cmd_migrate)
    sub.add_parser("demo", help="seed the demo city").set_defaults(fn=cmd_demo)
    admin = sub.add_parser("create-admin", help="create a platform admin")
    admin.add_argument("--phone", required=True)
    admin.add_argument("--name", default="管理员")
    admin.add_argument("--password", help="or LINLI_ADMIN_PASSWORD, or asked for")
    admin.set_defaults(fn=cmd_create_admin)
    ledger = sub.add_parser("ledger", help="ledger tools")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    ledger_sub.add_parser("check", help="verify every ledger invariant; non-zero exit on drift").set_defaults(
        fn=cmd_ledger_check)
    try:
        args = parser.parse_args(argv)
        sys.exit(args.fn(args))
    except settings.SettingsError as exc:
        sys.exit(f"linli: configuration error: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

"""Bulk import of residents (issue 18): how long a 10,000-row file takes, dry run and commit, as
.csv and as .xlsx, and a second import of the same file (which must change nothing).

    DATABASE_URL=postgresql://... python -m bench.import_residents [--rows 10000]

Without DATABASE_URL it starts an embedded PostgreSQL in a temporary folder. It makes a fresh
database (dropped afterwards), a community with two grids and its manager, then times the domain
calls the API makes (domain/people/imports.py: parse, classify, set-based insert). The target is
"well under a minute" for 10,000 rows; the import is a handful of statements whatever the size
(unnest arrays), so the time is mostly reading the file.
"""

import argparse
import asyncio
import csv
import io
import random
import time

import asyncpg
import openpyxl

from bench.server import Postgres
from domain.core import db
from domain.core.actor import Actor
from domain.people import auth, imports, orgs

HEADER = imports.TEMPLATE_HEADER


def rows(n: int, seed: int) -> list[list]:
    rng = random.Random(seed)
    phones = rng.sample(range(10**8), n)
    return [[f"居民{i}", f"13{p:09d}", ("第一网格", "第二网格")[i % 2], f"{i % 60 + 1}栋{i % 6 + 1}单元{i % 30 + 101}",
             "党员" if i % 7 == 0 else "", "眉山市第一中学" if i % 5 == 0 else ""] for i, p in enumerate(phones)]


def as_csv(table: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(table)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(table: list[list]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def setup(conn: asyncpg.Connection) -> tuple[Actor, int]:
    admin_id = await auth.create_user(conn, phone="13800000000", password=None, name="管理员", is_admin=True)
    admin = await orgs.load_actor(conn, admin_id)
    district = await orgs.create_org(conn, admin, kind="district", name="东坡区", parent_id=None)
    street = await orgs.create_org(conn, admin, kind="street", name="苏祠街道", parent_id=district.id)
    community = await orgs.create_org(conn, admin, kind="community", name="三苏社区", parent_id=street.id)
    for grid in ("第一网格", "第二网格"):
        await orgs.create_org(conn, admin, kind="grid", name=grid, parent_id=community.id)
    manager_id = await auth.create_user(conn, phone="13800000001", password=None, name="李晓梅")
    await orgs.appoint_manager(conn, admin, community.id, manager_id)
    return await orgs.load_actor(conn, manager_id), community.id


async def timed(label: str, coro) -> imports.Report:
    start = time.perf_counter()
    report = await coro
    c = report.counts
    print(f"{label:28} {time.perf_counter() - start:7.2f} s   new {c.new:6}  member {c.member:6}  "
          f"updated {c.updated:3}  error {c.error:3}", flush=True)
    return report


async def run(url: str, n: int) -> None:
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    try:
        manager, community = await setup(conn)
        for fmt, data in (("csv", as_csv(rows(n, 1))), ("xlsx", as_xlsx(rows(n, 2)))):
            print(f"{n:,} rows as .{fmt}: {len(data) / 1024:,.0f} KiB", flush=True)
            report = await timed(f"  dry run (.{fmt})", imports.check(conn, manager, community, data, f"r.{fmt}"))
            await timed(f"  commit (.{fmt})", imports.commit(conn, manager, community, data, report.file_sha256,
                                                           f"r.{fmt}"))
            again = await timed(f"  commit again (.{fmt})", imports.commit(conn, manager, community, data,
                                                                           report.file_sha256, f"r.{fmt}"))
            assert again.counts.new == again.counts.updated == 0, "a second import changed something"
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_residents", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    server = Postgres().start()
    try:
        url = server.database("import")
        asyncio.run(db.migrate(url))
        asyncio.run(run(url, args.rows))
    finally:
        server.stop()


if __name__ == "__main__":
    main()

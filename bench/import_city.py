"""A city loads itself (issue 31): how long Meishan's lists take, dry run and commit, as .xlsx, and
a second commit of each (which must change nothing).

    DATABASE_URL=postgresql://... python -m bench.import_city [--scale 1.0]

Meishan's numbers (the source article): 13 streets, 325 communities, 2,576 grids, 2,700 work units
and 39,000 party members. Four files, loaded in order as the admin (tree) and a district's manager
(units, party members, managers): the org tree (2 districts, 13 streets, 325 communities, 2,576
grids: 2,916 rows), 2,700 units each with an administrator, 39,000 party members, and one manager
for every community (325 rows). Without DATABASE_URL it starts an embedded PostgreSQL in a
temporary folder; it makes a fresh database (dropped afterwards) and times the domain calls the
API makes (domain/people/city.py). Target: minutes, not hours, on this 2-core machine.
"""

import argparse
import asyncio
import io
import random
import time

import asyncpg
import openpyxl

from bench.server import Postgres
from domain.core import db
from domain.people import auth, city, orgs

MEISHAN = {"streets": 13, "communities": 325, "grids": 2576, "units": 2700, "party_members": 39_000}


def xlsx(header: list[str], rows: list[list]) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def lists(scale: float, seed: int = 31) -> dict[str, bytes]:
    """The four files of a Meishan-sized city (codes MS-...)."""
    rng = random.Random(seed)
    n = {k: max(1, round(v * scale)) for k, v in MEISHAN.items()}
    tree = [["区", "MS-D1", "东坡区", ""], ["区", "MS-D2", "彭山区", ""]]
    streets = [f"MS-S{i:02d}" for i in range(n["streets"])]
    tree += [["街道", s, f"第{i + 1}街道", "MS-D1" if i % 2 == 0 else "MS-D2"] for i, s in enumerate(streets)]
    communities = [f"MS-C{i:03d}" for i in range(n["communities"])]
    tree += [["社区", c, f"第{i + 1}社区", streets[i % len(streets)]] for i, c in enumerate(communities)]
    grids = [(f"MS-G{i:04d}", communities[i % len(communities)]) for i in range(n["grids"])]
    tree += [["网格", g, f"第{i // len(communities) + 1}网格", c] for i, (g, c) in enumerate(grids)]
    phones = iter(rng.sample(range(10**8), n["units"] + n["party_members"] + n["communities"]))
    units = [[f"MS-U{i:04d}", f"第{i + 1}单位党支部", "机关", "MS-D1" if i % 2 == 0 else "MS-D2", f"第{i + 1}党支部",
              f"管理员{i}", f"139{next(phones):08d}"] for i in range(n["units"])]
    members = []
    for i in range(n["party_members"]):
        grid, community = grids[rng.randrange(len(grids))]
        members.append([f"党员{i}", f"137{next(phones):08d}", units[i % len(units)][0], community, grid])
    managers = [[c, f"书记{i}", f"135{next(phones):08d}"] for i, c in enumerate(communities)]
    return {"tree": xlsx(["层级", "编码", "名称", "上级编码"], tree),
            "units": xlsx(["单位编码", "单位名称", "类型", "上级编码", "党组织", "管理员姓名", "管理员手机"], units),
            "party_members": xlsx(["姓名", "手机号", "单位编码", "社区编码", "网格编码"], members),
            "managers": xlsx(["编码", "姓名", "手机号"], managers)}


async def timed(label: str, coro) -> tuple[city.Report, float]:
    start = time.perf_counter()
    report = await coro
    seconds = time.perf_counter() - start
    c = report.counts
    print(f"  {label:22} {seconds:7.2f} s   new {c.new:6}  same {c.same:6}  updated {c.updated:4}  "
          f"error {c.error:3}  invites {report.invites}", flush=True)
    return report, seconds


async def run(url: str, scale: float) -> dict[str, float]:
    files = lists(scale)
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    times: dict[str, float] = {}
    try:
        admin = await orgs.load_actor(conn, await auth.create_user(conn, phone="13800000000", password=None,
                                                                    name="管理员", is_admin=True))
        for kind in ("tree", "units", "party_members", "managers"):
            data = files[kind]
            print(f"{kind}: {len(data) / 1024:,.0f} KiB", flush=True)
            report, times[f"{kind} dry run"] = await timed("dry run", city.check(conn, admin, kind, data, f"{kind}.xlsx"))
            assert not report.errors, report.errors[:5]
            _, times[f"{kind} commit"] = await timed("commit", city.commit(conn, admin, kind, data, report.file_sha256,
                                                                           f"{kind}.xlsx"))
            again, times[f"{kind} again"] = await timed("commit again", city.commit(conn, admin, kind, data,
                                                                                    report.file_sha256, f"{kind}.xlsx"))
            assert again.counts.new == again.counts.updated == again.invites == 0, "a second import changed something"
        print(f"total {sum(times.values()):.1f} s", flush=True)
    finally:
        await conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_city", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: Meishan's numbers")
    args = parser.parse_args()
    server = Postgres().start()
    try:
        url = server.database("city")
        asyncio.run(db.migrate(url))
        asyncio.run(run(url, args.scale))
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Rankings' demo: households, a year of earnings over the quarters, a published posting."""

from datetime import timedelta

import asyncpg

from domain import ledger
from domain.core import clock
from domain.demo.city import City
from domain.people import orgs
from domain.rankings import households, postings


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """A household for 刘芳 and 陈伟, a year of earnings spread over the quarters, and a published
    posting of the last full quarter, so the rankings, posting and dashboard pages have content."""
    sansu = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    if await conn.fetchval("select 1 from households where community_id = $1", sansu):
        return
    home = await households.create(conn, manager, community_id=sansu, name="刘家")
    for name in ("刘芳", "陈伟"):
        await households.add_member(conn, manager, home.id, city.volunteers[name])
    other = await households.create(conn, manager, community_id=sansu, name="杨家")
    await households.add_member(conn, manager, other.id, city.volunteers["杨丽"])

    # Activity awards over the last twelve weeks (points and minutes), back-dated with the clock.
    now = clock.now()
    plan = [("刘芳", 20, 120), ("陈伟", 15, 90), ("杨丽", 10, 60), ("周秀英", 10, 60)]
    titles = ["清理楼道小广告", "关爱独居老人", "垃圾分类宣传", "社区义诊帮手"]
    issuing = {u: await ledger.org_account(conn, sansu, "issuing", u) for u in ledger.UNITS}
    unit: ledger.Unit  # the pairs below name the ledger's units
    frozen_before = clock._frozen  # restored below: a caller may have frozen the clock itself
    try:
        for week in range(12):
            for i, (name, points, minutes) in enumerate(plan):
                if (week + i) % 3 == 2:
                    continue  # not everyone comes every week
                clock.freeze(now - timedelta(weeks=11 - week, days=i))
                user = city.volunteers[name]
                async with conn.transaction():
                    for unit, amount in (("points", points + week % 4 * 5), ("minutes", minutes)):
                        await ledger.post(conn, unit=unit, debit=issuing[unit],
                                          credit=await ledger.user_account(conn, user, unit, sansu), amount=amount,
                                          kind="award", memo=titles[(week + i) % len(titles)],
                                          key=f"demo:rankings:{user}:{week}:{unit}")
    finally:
        if frozen_before:
            clock.freeze(frozen_before)
        else:
            clock.unfreeze()
    q = clock.quarter_of(now)
    await postings.publish(conn, manager, community_id=sansu, quarter=str(q), top_n=3, days=7)

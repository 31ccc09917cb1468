"""People's demo: console acts a visitor finds in the members list and the audit log."""

import asyncpg

from domain.demo.city import City
from domain.oversight import adjustments
from domain.people import members, orgs, residents


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """Console acts a visitor finds in the members list and the audit log. A second run adds nothing."""
    if await conn.fetchval("select 1 from users where phone = '13700000003'"):
        return
    sansu = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    ip = "192.0.2.10"  # documentation range: the demo's pretend desk
    grid = city.grids.get("三苏社区第二网格") or city.grids.get("三苏社区第一网格")
    # A courier the manager invited before they registered: registering with the number claims the
    # account, and they accept the invitation waiting there (the same answer for any phone).
    await members.invite(conn, manager, sansu, phone="13700000003", name="吴磊", role="courier", grid_id=grid, ip=ip)
    # A volunteer of another community who also helps in 三苏社区 (asked; they accept or not).
    await members.invite(conn, manager, sansu, phone="13900000004", name="赵强", role="volunteer", ip=ip)
    # A duplicate sign-up (a resident entered twice at the desk), switched off with a reason.
    dup = await residents.create(conn, manager, sansu, name="刘芳（重复登记）", ip=ip)
    await members.deactivate(conn, manager, dup.id, reason="重复登记，与刘芳为同一人", ip=ip)
    for name, unit, amount, reason in (("刘芳", "points", 20, "整理社区图书角（纸质签到补录）"),
                                       ("陈伟", "minutes", 60, "重阳节敬老活动时长补录")):
        if name in city.volunteers:
            await adjustments.adjust(conn, manager, user_id=city.volunteers[name], unit=unit, amount=amount,
                                     reason=reason, community_id=sansu, ip=ip)

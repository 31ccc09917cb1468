"""The grid loop's demo: 苏祠街道's categories and its property company 蜀润物业 (its handler
陈师傅 logs in with 13700000009), courier 马骏's hazard in 三苏社区 taken round the loop (sent up,
dispatched, handled with a note, closed in time with the bonus, rated 满意), a second one waiting at
the street, and 刘芳's proposal for charging points waiting for the community."""

from datetime import timedelta

import asyncpg

from domain import cases, partners, reports
from domain.core import clock
from domain.core.actor import Actor
from domain.demo.city import PASSWORD, City
from domain.people import auth, orgs


async def _hazard(conn: asyncpg.Connection, city: City, manager: Actor, text: str, place: str, key: str) -> int:
    report_id = await conn.fetchval(
        """Insert into reports (courier_id, grid_id, community_id, kind, text, place, has_photo, client_key, created_at)
           select $1, $2, $3, 'hazard', $4, $5, true, $6, $7 returning id""",
        city.couriers["马骏"], city.grids["三苏社区第一网格"], city.communities["三苏社区"], text, place, key,
        clock.now() - timedelta(hours=30))
    await conn.execute("insert into report_photos (report_id, jpeg, width, height) "
                       "select $1, jpeg, width, height from report_photos order by report_id limit 1", report_id)
    await reports.verify(conn, manager, report_id)
    return await conn.fetchval("select id from cases where report_id = $1", report_id)


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    admin = await orgs.load_actor(conn, city.admin)
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    street = city.streets["苏祠街道"]
    for name, hours in (("占道堵塞", 48), ("环境卫生", 72), ("设施损坏", 120)):
        await cases.set_category(conn, admin, street, name=name, deadline_hours=hours)
    [category] = [c for c in await cases.categories(conn, admin, street) if c.name == "占道堵塞"]
    company = await partners.create(conn, admin, kind="property", name="蜀润物业", parent_id=street)
    await partners.create(conn, admin, kind="department", name="苏祠街道城管中队", parent_id=street)
    handler_id = await auth.create_user(conn, phone="13700000009", password=PASSWORD, name="陈师傅")
    invitation = await partners.invite(conn, admin, company.id, phone="13700000009", name="陈师傅")
    assert invitation is not None
    handler = await orgs.load_actor(conn, handler_id)
    await partners.answer(conn, handler, invitation.id, accept=True)

    done = await _hazard(conn, city, manager, "3栋楼道堆放大量纸箱，堵住了消防通道", "三苏社区 3 栋 1 单元", "demo-case-1")
    await cases.sort(conn, manager, done, category_id=category.id, priority="urgent", send_up=True)
    await cases.dispatch(conn, admin, done, handler_id=company.id)
    await cases.accept(conn, handler, done)
    await cases.add_note(conn, handler, done, "已联系住户清理纸箱，通道已畅通", None)
    await cases.mark_done(conn, handler, done, "已清理完毕")
    courier = await orgs.load_actor(conn, city.couriers["马骏"])
    await cases.rate(conn, courier, done, "satisfied")

    waiting = await _hazard(conn, city, manager, "北门路灯不亮，晚上出入不安全", "三苏社区北门", "demo-case-2")
    await cases.sort(conn, manager, waiting, category_id=category.id, priority="normal", send_up=True)

    resident = await orgs.load_actor(conn, city.volunteers["刘芳"])
    await cases.raise_case(conn, resident, cases.NewCase(
        kind="proposal", title="小区加装电动车充电桩", text="电动车在楼道里充电很危险，建议在北门空地加装充电桩。",
        place="三苏社区北门空地"))

"""双报到's and the city's demo: work units under both streets, a street's manager, a unit's
administrator, party members who reported and served a need the community confirmed, a 微网格 with
its 邻里长, 亮身份, and addresses to find a community by. Every role here was accepted, as in life."""

import asyncpg

from domain import units
from domain.core.actor import Actor
from domain.demo.city import PASSWORD, City
from domain.people import auth, invites, micro, orgs
from domain.units import needs


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    admin = await orgs.load_actor(conn, city.admin)
    for name, address in (("三苏社区", "纱縠行南段12号"), ("裕丰社区", "裕丰路88号"), ("诗书社区", "诗书路6号")):
        await conn.execute("update orgs set address = $2 where id = $1", city.communities[name], address)

    async def accepted(inviter: Actor, user_id: int, **invite) -> None:
        phone = await conn.fetchval("select phone from users where id = $1", user_id)
        name = await conn.fetchval("select name from users where id = $1", user_id)
        made = await invites.invite(conn, inviter, phone=phone, name=name, **invite)
        await invites.answer(conn, await orgs.load_actor(conn, user_id), made.id, accept=True)

    # the street's secretary and the unit's administrator live in the street's communities too
    secretary = await auth.create_user(conn, phone="13800000003", password=PASSWORD, name="陈书记")
    await orgs.add_member(conn, admin, city.communities["裕丰社区"], secretary, "volunteer")
    await accepted(admin, secretary, kind="manager", org_id=city.streets["苏祠街道"])
    street = await orgs.load_actor(conn, secretary)
    office = await units.create_unit(conn, street, name="区政务服务中心党支部", kind="government",
                                     parent_id=city.streets["苏祠街道"])
    await units.create_unit(conn, admin, name="苏祠小学党支部", kind="school", parent_id=city.streets["通惠街道"])
    unit_admin = await auth.create_user(conn, phone="13800000004", password=PASSWORD, name="何支书")
    await orgs.add_member(conn, admin, city.communities["裕丰社区"], unit_admin, "volunteer")
    await accepted(street, unit_admin, kind="unit_admin", unit_id=office.id)
    await units.set_target(conn, street, city.streets["苏祠街道"], 2026, 24 * 60)

    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    for name in ("刘芳", "陈伟"):  # party members of the office who reported where they live
        person = await orgs.load_actor(conn, city.volunteers[name])
        report = await units.declare(conn, person, unit_id=office.id, community_id=city.communities["三苏社区"],
                                     grid_id=city.grids["三苏社区第一网格"], party_member=True)
        await units.confirm_member(conn, await orgs.load_actor(conn, unit_admin), office.id, person.id)
        await units.decide(conn, manager, report.id, approve=True)
    need = await units.create_need(conn, manager, city.communities["三苏社区"], title="周末楼道清理",
                                   description="3栋至5栋楼道杂物清理", kind="post", slots=3)
    liu = await orgs.load_actor(conn, city.volunteers["刘芳"])
    claimed = await units.claim_need(conn, liu, need.id)
    assert claimed.my_claim_id is not None
    await needs.serve(conn, liu, claimed.my_claim_id, "清理了3栋楼道")
    await needs.confirm(conn, manager, claimed.my_claim_id, minutes=120, points=20,
                        record="11月居民议事会：3栋楼道已清理，确认服务2小时")
    await units.claim_need(conn, await orgs.load_actor(conn, city.volunteers["陈伟"]), need.id)
    await units.create_need(conn, manager, city.communities["三苏社区"], title="老年食堂助餐", description="每周二、四中午", kind="duty", slots=2)
    await micro.show_party_identity(conn, liu, True)

    # 微网格 under 三苏社区's first grid, its 邻里长 (杨丽) and the elder without a phone of the joining demo
    building = await micro.create(conn, manager, city.grids["三苏社区第一网格"], name="3栋微网格", buildings="3栋、4栋")
    await accepted(manager, city.volunteers["杨丽"], kind="micro_leader", micro_grid_id=building.id)
    await accepted(manager, city.volunteers["周秀英"], kind="micro_worker", micro_grid_id=building.id)
    elder = await conn.fetchval("select id from users where name = '王秀兰' and phone is null")
    if elder is not None:
        await micro.place(conn, manager, building.id, elder)
    for name in ("刘芳", "杨丽"):
        await micro.place(conn, manager, building.id, city.volunteers[name])

"""The spending area's demo (通存通兑): 苏祠街道 opens points to all its communities, and
赵强 of 裕丰社区 spends points 裕丰 issued in 三苏社区's shop, so the street's settlement page
(/settlement.html?org=<苏祠街道>) has a pair to show this month."""

import asyncpg

from domain import supermarket
from domain.demo.city import City
from domain.ledger import areas
from domain.oversight import adjustments
from domain.people import orgs


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    street = city.streets["苏祠街道"]
    yufeng, sansu = city.communities["裕丰社区"], city.communities["三苏社区"]
    if "赵强" not in city.volunteers:
        return
    admin = await orgs.load_actor(conn, city.admin)
    await areas.set_policy(conn, admin, street, unit="points", enabled=True)
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])  # manages both 三苏 and 裕丰
    zhao = await orgs.load_actor(conn, city.volunteers["赵强"])
    await adjustments.adjust(conn, manager, user_id=zhao.id, unit="points", amount=60,
                             reason="裕丰社区环境整治活动（纸质签到补录）", community_id=yufeng)
    towel = await conn.fetchval("select id from rewards where community_id = $1 and name = '纯棉毛巾'", sansu)
    if towel is None:
        return
    asked = await supermarket.request(conn, zhao, towel, 1)
    await supermarket.approve(conn, manager, asked.id)

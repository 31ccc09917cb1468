"""The time bank's demo: a funded pool, open and confirmed services, a family link."""

import asyncpg

from domain import timebank
from domain.demo.city import City
from domain.people import orgs


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """三苏社区's pool funded with 600 minutes; an open pool-paid request for 周秀英 posted by the
    manager; an approved family link between 刘芳 and 陈伟; one confirmed service on 刘芳's certificate."""
    community = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    people = {name: await orgs.load_actor(conn, uid) for name, uid in city.volunteers.items()}
    await timebank.credit_pool(conn, manager, community, 600, "街道拨付2026年四季度时间银行互助时长", key=f"demo:timebank:pool:{community}")

    await timebank.post_request(conn, manager, title="陪同周奶奶去社区医院复诊", for_user_id=city.volunteers["周秀英"],
                       use_pool=True, community_id=community, minutes_estimate=90, place="三苏社区 3 栋 2 单元",
                       description="周奶奶腿脚不便，需要有人陪同步行去社区医院复查血压，并帮忙取药。")

    async with conn.transaction():
        await timebank.add_family_link(conn, people["刘芳"], await conn.fetchval(
            "select phone from users where id = $1", city.volunteers["陈伟"]))
        link_id = await conn.fetchval("select id from family_links where requester_id = $1 and target_id = $2 "
                                      "and state = 'pending'", city.volunteers["刘芳"], city.volunteers["陈伟"])
        await timebank.approve_family_link(conn, people["陈伟"], link_id)

    served = await timebank.post_request(conn, people["杨丽"], title="帮忙修理厨房水龙头", minutes_estimate=60,
                                place="三苏社区 5 栋 401", description="水龙头一直滴水，需要换一个阀芯。")
    await timebank.accept(conn, people["刘芳"], served.id)
    await timebank.complete(conn, people["刘芳"], served.id)
    await timebank.confirm(conn, people["杨丽"], served.id, 45)

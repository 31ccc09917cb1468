"""The moral supermarket's demo: rewards on the shelf and one request waiting for the manager."""

import asyncpg

from domain import supermarket
from domain.demo.city import City
from domain.people import orgs

DEMO_REWARDS = [
    ("大米 5kg", "东北长粒香大米，5 公斤装。", 200, 10, 1),
    ("食用油 1.8L", "非转基因压榨花生油。", 150, 12, 1),
    ("洗衣液 2kg", "薰衣草香型，机洗手洗都合适。", 80, 20, 2),
    ("纯棉毛巾", "加厚纯棉，颜色随机。", 30, 40, None),
    ("理发券", "社区便民理发点，凭券理发一次。", 50, 15, 2),
]


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """Rewards in 三苏社区 and one request from 刘芳 waiting for the manager."""
    community = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    ids = {}
    for name, description, cost, stock, limit in DEMO_REWARDS:
        reward = await supermarket.create_reward(conn, manager, community_id=community, name=name, description=description,
                                     cost_points=cost, stock=stock, per_person_limit=limit)
        ids[name] = reward.id
    liu = await orgs.load_actor(conn, city.volunteers["刘芳"])
    await supermarket.request(conn, liu, ids["洗衣液 2kg"], 1)

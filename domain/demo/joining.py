"""Joining's demo: the manager's joining page has something to show from the start."""

import asyncpg

from domain.core import clock
from domain.demo.city import PASSWORD, City
from domain.people import auth, orgs, residents
from domain.people.joining import join_code


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """The manager's joining page has something to show: a resident who scanned 三苏社区's join
    poster and waits, and an elder without a phone who has a printed card."""
    sansu = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    await join_code(conn, manager, sansu)  # the join poster prints from the start
    newcomer = await auth.create_user(conn, phone="13900000021", password=PASSWORD, name="郭晓燕")
    await conn.execute("insert into join_requests (community_id, user_id, state, created_at) "
                       "values ($1, $2, 'pending', $3)", sansu, newcomer, clock.now())
    await residents.create(conn, manager, sansu, name="王秀兰", household="三苏社区3栋2单元501", id_hint="0427",
                           ip="192.0.2.10")


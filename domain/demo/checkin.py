"""Check-in's demo: activities running, coming and past, with scans, credits and a refused scan."""

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from domain import checkin
from domain.checkin import activities, scans
from domain.core import clock, codes
from domain.core.errors import DomainError
from domain.demo.city import City
from domain.demo.past import as_of
from domain.people import orgs


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """Three published activities in 三苏社区: one running now (刘芳 already inside), one tomorrow,
    and one three days ago, closed, with self and station check-ins, credits and a refused scan."""
    community = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    if await conn.fetchval("select 1 from activities where community_id = $1", community):
        return  # already seeded
    now = clock.now()
    today = clock.day_bounds(now)[0]

    async def make(title: str, starts: datetime, ends: datetime, **rules: Any) -> activities.Activity:
        activity = await activities.create(conn, manager, community_id=community, title=title, starts_at=starts, ends_at=ends,
                                **rules)
        return await activities.publish(conn, manager, activity.id)

    async def scan(activity: activities.Activity, name: str, source: str = "self") -> None:
        async with conn.transaction():
            await checkin.record_scan(conn, activity.id, city.volunteers[name], source=source,
                                      kind="member" if source == "station" else "poster",
                                      actor_id=manager.id if source == "station" else None,
                                      context=scans.ScanContext(intent="check_out"))  # a second scan confirmed

    running = await make("垃圾分类宣传志愿服务", now - timedelta(hours=1), now + timedelta(hours=10),
                         description="在小区垃圾投放点引导居民正确分类投放，讲解“四分类”知识。",
                         place="三苏社区中心花园垃圾投放点", points=10, points_per_hour=6, max_minutes=240,
                         capacity=30)
    with as_of(now - timedelta(minutes=30)):
        await scan(running, "刘芳")

    await make("敬老院陪伴探访", today + timedelta(days=1, hours=9), today + timedelta(days=1, hours=11, minutes=30),
               description="陪老人聊天、读报、剪指甲，帮护理员整理房间。", place="东坡区福寿敬老院",
               points=15, points_per_hour=10, capacity=12)

    starts = today - timedelta(days=3) + timedelta(hours=14)
    with as_of(starts - timedelta(days=2)):
        past = await make("清理楼道小广告", starts, starts + timedelta(hours=2, minutes=30),
                          description="清理各单元楼道、电梯间的小广告，张贴文明提示。", place="三苏社区 1–8 栋",
                          points=10, points_per_hour=6)
    for minutes, name, source in ((3, "刘芳", "self"), (6, "陈伟", "self"), (9, "杨丽", "self"),
                                  (12, "周秀英", "station")):
        with as_of(starts + timedelta(minutes=minutes)):
            await scan(past, name, source)
    with as_of(starts + timedelta(minutes=15)):
        try:  # 赵强 lives in 裕丰社区: refused, and the manager sees why
            async with conn.transaction():
                await checkin.record_scan(conn, past.id, city.volunteers["赵强"], kind="poster", source="self")
        except DomainError as error:
            code = await codes.latest(conn, "poster", past.id)
            assert code is not None  # publishing the activity made its poster code
            await scans.log_refusal(conn, code=code.code, found=code, user_id=city.volunteers["赵强"], error=error)
    for minutes, name in ((125, "刘芳"), (140, "陈伟")):
        with as_of(starts + timedelta(minutes=minutes)):
            await scan(past, name)
    # 杨丽 and 周秀英 forgot to scan out: credited to their last proof of presence and flagged for review
    with as_of(starts + timedelta(hours=3)):
        await checkin.close(conn, manager, past.id)

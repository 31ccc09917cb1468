"""Courier reports' demo: one verified, one pending with a photo, one rejected."""

import io
from datetime import timedelta

import asyncpg
from PIL import Image, ImageDraw

from domain import reports
from domain.core import clock, photos, queries
from domain.demo.city import City
from domain.people import orgs

REPORTS = queries.load("reports")


def _demo_photo() -> bytes:
    """A small drawn 'photo' of a blocked fire lane, so the demo queue shows an image."""
    image = Image.new("RGB", (640, 480), (196, 206, 214))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill=(120, 124, 128))           # the lane
    draw.rectangle((40, 330, 600, 360), fill=(230, 200, 40))           # its yellow marking
    draw.rectangle((200, 220, 470, 350), fill=(60, 90, 160))           # a parked van
    draw.rectangle((230, 240, 320, 290), fill=(170, 200, 230))
    draw.ellipse((220, 330, 270, 380), fill=(30, 30, 30))
    draw.ellipse((400, 330, 450, 380), fill=(30, 30, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return photos.process_photo(out.getvalue())


async def seed_demo(conn: asyncpg.Connection, city: City) -> None:
    """Reports by courier 马骏 in 三苏社区第一网格: one verified (points posted), one pending with a
    photo, one rejected with its reason."""
    courier = city.couriers["马骏"]
    grid = city.grids["三苏社区第一网格"]
    community = city.communities["三苏社区"]
    manager = await orgs.load_actor(conn, city.managers["李晓梅"])
    now = clock.now()
    jpeg = _demo_photo()
    samples = [
        ("service", "帮独居的周奶奶把米和油搬上五楼", "三苏社区 7 栋 2 单元", 30.0421, 103.8313, None, now - timedelta(days=1, hours=3)),
        ("civility", "劝导两位居民不要在绿化带里晾晒被子", "三苏社区中心花园", 30.0426, 103.8309, None, now - timedelta(hours=20)),
        ("hazard", "消防通道被一辆面包车长时间占用，车主电话无人接听", "三苏社区北门消防通道", 30.0433, 103.8301, jpeg, now - timedelta(hours=2)),
    ]
    ids = []
    for kind, text, place, lat, lng, image, at in samples:
        row_id = await conn.fetchval(
            REPORTS.insert_report,
            courier, grid, community, kind, text, place, lat, lng, image is not None, f"demo-{kind}", at)
        if row_id is None:  # already seeded
            return
        if image:
            with Image.open(io.BytesIO(image)) as decoded:
                width, height = decoded.size
            await conn.execute(REPORTS.insert_report_photo,
                               row_id, image, width, height)
        ids.append(row_id)
    await reports.verify(conn, manager, ids[0])
    await reports.reject(conn, manager, ids[1], "照片和描述对不上，请补充现场照片后重新上报")

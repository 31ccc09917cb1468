"""Sign-up (报名) for activities with a waiting list, and a person's own activities (我的活动)."""

import html
from typing import Literal

import asyncpg
from litestar import Controller, MediaType, Response, get, post

from domain.checkin import signups
from domain.core import clock, db, settings
from domain.core.actor import Actor


class SignupController(Controller):
    path = "/api/activities/{activity_id:int}/signup"
    tags = ["activities"]

    @get("/")
    async def status(self, actor: Actor, pool: asyncpg.Pool, activity_id: int) -> signups.SignupStatus:
        async with pool.acquire() as conn:
            return await signups.status(conn, actor, activity_id)

    @post("/", status_code=200)
    async def sign_up(self, actor: Actor, pool: asyncpg.Pool, activity_id: int) -> signups.SignupStatus:
        """Take a place, or a place in the waiting list when the activity is full (again: nothing changes)."""
        async with pool.acquire() as conn:
            return await signups.sign_up(conn, actor, activity_id)

    @post("/cancel", status_code=200)
    async def cancel(self, actor: Actor, pool: asyncpg.Pool, activity_id: int) -> signups.SignupStatus:
        """Give the place up; the longest-waiting person gets it."""
        async with pool.acquire() as conn:
            return await signups.cancel(conn, actor, activity_id)


class MyActivitiesController(Controller):
    path = "/api/me/activities"
    tags = ["activities"]

    @get("/")
    async def mine(self, actor: Actor, pool: asyncpg.Pool,
                   when: Literal["upcoming", "past"] = "upcoming") -> list[signups.MyActivity]:
        async with pool.acquire() as conn:
            return await signups.mine(conn, actor, upcoming=when == "upcoming")


class ShareController(Controller):
    """/a/<id>: the link people paste into WeChat groups. The page is the volunteer's activity page,
    with Open Graph tags naming the activity, so the chat shows a preview card. Only published
    activities are described (their poster is on the wall anyway); others show the plain page."""
    path = "/a"
    include_in_schema = False

    @get("/{activity_id:int}", media_type=MediaType.HTML)
    async def share(self, pool: asyncpg.Pool, activity_id: int) -> Response[str]:
        page = (db.ROOT / "frontend" / "activity.html").read_text(encoding="utf-8")
        row = await pool.fetchrow(
            """Select a.title, a.place, a.starts_at, o.name as community from activities a
               join orgs o on o.id = a.community_id where a.id = $1 and a.state = 'published'""", activity_id)
        if row is not None:
            when = clock.local_time(row["starts_at"]).strftime("%Y-%m-%d %H:%M")
            base = settings.get().public_url
            tags = {"og:title": row["title"], "og:description": f"{when} · {row['community']} · {row['place']}",
                    "og:url": f"{base}/a/{activity_id}", "og:image": f"{base}/img/share.png", "og:type": "website"}
            meta = "".join(f'\n  <meta property="{k}" content="{html.escape(v, quote=True)}">' for k, v in tags.items())
            page = page.replace("</title>", "</title>" + meta, 1)
        return Response(page, media_type=MediaType.HTML)


CONTROLLERS = (SignupController, MyActivitiesController, ShareController)  # listed in api/capabilities.py

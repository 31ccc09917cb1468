"""Sign-up (报名) for activities with a waiting list, and a person's own activities (我的活动)."""

from typing import Literal

import asyncpg
from litestar import Controller, get, post

from domain.checkin import signups
from domain.people.orgs import Actor


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

"""What the home page leads with: a manager's work of the day, a volunteer's own rank."""

from typing import Literal

import asyncpg
from litestar import Controller, get

from domain.core.actor import Actor
from domain.rankings import workbench


class HomeController(Controller):
    path = "/api/me"
    tags = ["me"]

    @get("/workbench")
    async def my_workbench(self, actor: Actor, pool: asyncpg.Pool) -> workbench.Workbench:
        """For each community I manage: what waits for me (counts per queue) and this week's activities
        with who is inside now and who signed up."""
        async with pool.acquire() as conn:
            return await workbench.workbench(conn, actor)

    @get("/rank")
    async def my_rank(self, actor: Actor, pool: asyncpg.Pool,
                   unit: Literal["points", "minutes"] = "points") -> list[workbench.MyRank]:
        """My rank this quarter in each community I belong to, with its top ten (names masked but mine)."""
        async with pool.acquire() as conn:
            return await workbench.my_rank(conn, actor, unit=unit)


CONTROLLERS = (HomeController,)  # listed in api/capabilities.py

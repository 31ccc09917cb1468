"""申请补录: a person asks the managers to credit an attendance that was checked out with
nothing; the managers read the requests beside the activity's review list."""

import asyncpg
import msgspec
from litestar import Controller, get, post

from domain.checkin import corrections
from domain.core.actor import Actor
from domain.core.texts import Reason


class CorrectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class AskController(Controller):
    path = "/api/checkins/{attendance_id:int}/correction-request"
    tags = ["activities"]

    @post("/", status_code=201)
    async def ask(self, actor: Actor, attendance_id: int, data: CorrectionIn,
                  pool: asyncpg.Pool) -> corrections.CorrectionRequest:
        """My own attendance only (anyone else's is 404); asking again answers the first request."""
        async with pool.acquire() as conn:
            return await corrections.ask(conn, actor, attendance_id, data.reason)


class ListController(Controller):
    path = "/api/activities/{activity_id:int}/correction-requests"
    tags = ["activities"]

    @get("/")
    async def listing(self, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> corrections.CorrectionList:
        async with pool.acquire() as conn:
            return await corrections.listing(conn, actor, activity_id)


CONTROLLERS = (AskController, ListController)  # listed in api/capabilities.py

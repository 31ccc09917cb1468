"""Manager corrections of the ledger and reading a member's statement."""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post

from api.deps import client_ip, page_args
from api.idempotent import respond
from domain.ledger import adjustments, statements
from domain.people import orgs
from domain.ledger import Transfer
from domain.people.orgs import Actor
from domain.core.texts import Reason, ReasonIn


class AdjustmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int
    unit: str
    amount: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
    reason: Reason
    community_id: int | None = None


class LedgerController(Controller):
    path = "/api"
    tags = ["ledger"]

    @post("/adjustments", status_code=201)
    async def adjust(self, request: Request, actor: Actor, data: AdjustmentIn) -> Response[Transfer]:
        key = request.headers.get("idempotency-key")
        return await respond(request, actor, lambda conn: adjustments.adjust(
            conn, actor, user_id=data.user_id, unit=data.unit, amount=data.amount, reason=data.reason,
            community_id=data.community_id, key=f"adjust:{actor.id}:{key}" if key else None,
            ip=client_ip(request)), status=201)

    @post("/transfers/{transfer_id:int}/reverse", status_code=201)
    async def reverse(self, request: Request, actor: Actor, transfer_id: int, data: ReasonIn) -> Response[Transfer]:
        return await respond(request, actor, lambda conn: adjustments.reverse(
            conn, actor, transfer_id, data.reason, ip=client_ip(request)), status=201)

    @get("/users/{user_id:int}/statement")
    async def user_statement(self, actor: Actor, pool: asyncpg.Pool, user_id: int, unit: str = "points",
                             limit: int = 20, cursor: str | None = None) -> statements.StatementPage:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            await orgs.require_manager_of_user(conn, actor, user_id)
            return await statements.statement(conn, user_id, unit, limit, before)


CONTROLLERS = (LedgerController,)  # listed in api/capabilities.py

"""Manager corrections of the ledger and reading a member's statement."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from api.deps import client_ip, page_args
from api.idempotent import respond
from domain.core.actor import Actor
from domain.core.texts import Reason, ReasonIn
from domain.ledger import Transfer, statements
from domain.oversight import adjustments
from domain.people import orgs
from domain.recognition import rulebook


class AdjustmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int
    unit: str
    amount: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
    reason: Reason
    community_id: int | None = None


Threshold = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class PolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    threshold_points: Threshold | None = None
    threshold_minutes: Threshold | None = None
    daily_points: Threshold | None = None
    daily_minutes: Threshold | None = None


def _posted_or_waiting(result: object) -> int:
    """201 when the adjustment was posted, 202 when it waits for a second manager's approval."""
    return 202 if isinstance(result, adjustments.AdjustmentRequest) else 201


class LedgerController(Controller):
    path = "/api"
    tags = ["ledger"]

    @post("/adjustments", status_code=201, responses={202: ResponseSpec(
        adjustments.AdjustmentRequest, generate_examples=False,
        description="Above the community's threshold: a pending request for a second manager")})
    async def adjust(self, request: Request, actor: Actor, data: AdjustmentIn) -> Response[Transfer]:
        """201 with the transfer; 202 with a pending adjustment request when the amount is above the
        community's threshold (a second manager approves it: /api/adjustment-requests). Nobody adjusts
        themself (403)."""
        key = request.headers.get("idempotency-key")
        return await respond(request, actor, lambda conn: adjustments.adjust(
            conn, actor, user_id=data.user_id, unit=data.unit, amount=data.amount, reason=data.reason,
            community_id=data.community_id, key=f"adjust:{actor.id}:{key}" if key else None,
            ip=client_ip(request)), status=_posted_or_waiting)

    @get("/adjustment-requests")
    async def adjustment_requests(
            self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
            state_: Annotated[Literal["pending", "approved", "rejected"] | None, QueryParameter(name="state")] = "pending",
            limit: int = 50, cursor: str | None = None) -> adjustments.AdjustmentRequestPage:
        """Adjustments waiting for (or past) a second manager; `state` defaults to pending.
        (The parameter is named state_ here: Litestar reserves `state` for the app state.)"""
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await adjustments.list_requests(conn, actor, community_id=community_id, state=state_,
                                                   limit=limit, after=after)

    @post("/adjustment-requests/{request_id:int}/approve", status_code=200)
    async def approve_adjustment(self, request: Request, actor: Actor,
                                 request_id: int) -> Response[adjustments.AdjustmentRequest]:
        """Another manager of the community (or an admin) posts it, exactly once; never its maker."""
        return await respond(request, actor, lambda conn: adjustments.approve(
            conn, actor, request_id, ip=client_ip(request)), status=200)

    @post("/adjustment-requests/{request_id:int}/reject", status_code=200)
    async def reject_adjustment(self, request: Request, actor: Actor, request_id: int,
                                data: ReasonIn) -> Response[adjustments.AdjustmentRequest]:
        return await respond(request, actor, lambda conn: adjustments.reject(
            conn, actor, request_id, data.reason, ip=client_ip(request)), status=200)

    @get("/communities/{community_id:int}/adjustment-policy")
    async def adjustment_policy(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> adjustments.Policy:
        async with pool.acquire() as conn:
            return await adjustments.get_policy(conn, actor, community_id)

    @put("/communities/{community_id:int}/adjustment-policy", status_code=200, responses={202: ResponseSpec(
        adjustments.Policy, generate_examples=False,
        description="The change loosens the rules: held for another manager or a street manager (`held`)")})
    async def set_adjustment_policy(self, request: Request, actor: Actor, pool: asyncpg.Pool, community_id: int,
                                    data: PolicyIn) -> Response[adjustments.Policy]:
        """Thresholds and daily limits. Tightening applies at once (200); loosening by a manager of the
        community waits for another manager or a street manager (202, `held: true`, `pending_id`)."""
        async with pool.acquire() as conn:
            policy = await adjustments.set_policy(
                conn, actor, community_id, threshold_points=data.threshold_points,
                threshold_minutes=data.threshold_minutes, daily_points=data.daily_points,
                daily_minutes=data.daily_minutes, ip=client_ip(request))
        return Response(policy, status_code=202 if policy.held else 200)

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
            return await statements.statement(conn, user_id, unit, limit, before, rules_of=rulebook.rules_of)


CONTROLLERS = (LedgerController,)  # listed in api/capabilities.py

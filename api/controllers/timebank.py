"""Time bank: service requests and their transitions, the community pool, family links and gifts."""

from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from api.deps import page_args
from api.idempotent import respond
from domain import timebank
from domain.core.actor import Actor
from domain.core.texts import Reason
from domain.ledger import Transfer
from domain.timebank.rules import STATES

Minutes = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class RequestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    minutes_estimate: Annotated[int, msgspec.Meta(ge=1, le=1440)]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    place: Annotated[str, msgspec.Meta(max_length=200)] = ""
    when: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    for_user_id: int | None = None      # an elder a manager posts for, or an approved family link
    use_pool: bool = False              # managers only: the community pool pays
    community_id: int | None = None     # needed only when the person helped belongs to several


class ConfirmIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    minutes: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    reason: Reason | None = None        # required when minutes exceed the estimate


class CancelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason | None = None


class DonationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    minutes: Minutes


class PoolCreditIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    minutes: Minutes
    reason: Reason


class FamilyLinkIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]


class GiftIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    to_user_id: int
    minutes: Minutes


def _ledger_key(request: Request, actor: Actor, what: str) -> str | None:
    """The ledger's own replay key, derived from the HTTP Idempotency-Key (belt and braces)."""
    key = request.headers.get("idempotency-key")
    return f"{what}:{actor.id}:{key}" if key else None


# "state" is a name Litestar reserves for app state, so the query parameter is aliased.
StateQuery = QueryParameter(name="state", description=" | ".join(STATES))


class TimebankController(Controller):
    path = "/api/timebank"
    tags = ["timebank"]

    @post("/requests", status_code=201)
    async def post_request(self, actor: Actor, pool: asyncpg.Pool, data: RequestIn) -> timebank.ServiceRequest:
        async with pool.acquire() as conn:
            return await timebank.post_request(
                conn, actor, title=data.title, minutes_estimate=data.minutes_estimate, description=data.description,
                place=data.place, when=data.when, for_user_id=data.for_user_id, use_pool=data.use_pool,
                community_id=data.community_id)

    @get("/requests")
    async def list_requests(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                            request_state: Annotated[str | None, StateQuery] = None,
                            mine: Literal["requested", "serving"] | None = None, limit: int = 20,
                            cursor: str | None = None) -> timebank.RequestPage:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await timebank.list_requests(conn, actor, community_id=community_id, state=request_state, mine=mine,
                                                limit=limit, before=before)

    @get("/requests/{request_id:int}")
    async def get_request(self, actor: Actor, pool: asyncpg.Pool, request_id: int) -> timebank.RequestDetail:
        async with pool.acquire() as conn:
            return await timebank.get_request(conn, actor, request_id)

    @post("/requests/{request_id:int}/accept", status_code=200)
    async def accept(self, request: Request, actor: Actor, request_id: int) -> Response[timebank.ServiceRequest]:
        return await respond(request, actor, lambda conn: timebank.accept(conn, actor, request_id))

    @post("/requests/{request_id:int}/complete", status_code=200)
    async def complete(self, request: Request, actor: Actor, request_id: int) -> Response[timebank.ServiceRequest]:
        return await respond(request, actor, lambda conn: timebank.complete(conn, actor, request_id))

    @post("/requests/{request_id:int}/confirm", status_code=200)
    async def confirm(self, request: Request, actor: Actor, request_id: int,
                      data: ConfirmIn) -> Response[timebank.ServiceRequest]:
        return await respond(request, actor, lambda conn: timebank.confirm(
            conn, actor, request_id, data.minutes, data.reason))

    @post("/requests/{request_id:int}/cancel", status_code=200)
    async def cancel(self, request: Request, actor: Actor, request_id: int,
                     data: CancelIn | None = None) -> Response[timebank.ServiceRequest]:
        reason = data.reason if data else None
        return await respond(request, actor, lambda conn: timebank.cancel(conn, actor, request_id, reason))

    @get("/me")
    async def me(self, actor: Actor, pool: asyncpg.Pool) -> timebank.TimebankMe:
        async with pool.acquire() as conn:
            return await timebank.my_timebank(conn, actor)

    @get("/certificate")
    async def certificate(self, actor: Actor, pool: asyncpg.Pool, user_id: int | None = None) -> timebank.Certificate:
        async with pool.acquire() as conn:
            return await timebank.certificate(conn, actor, user_id)

    @get("/pool")
    async def pool_balance(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> timebank.Pool:
        async with pool.acquire() as conn:
            return await timebank.pool_balance(conn, actor, community_id)

    @post("/pool/donations", status_code=201)
    async def donate(self, request: Request, actor: Actor, data: DonationIn) -> Response[Transfer]:
        key = _ledger_key(request, actor, "donation")
        return await respond(request, actor, lambda conn: timebank.donate_to_pool(
            conn, actor, data.community_id, data.minutes, key), status=201)

    @post("/pool/credits", status_code=201, responses={202: ResponseSpec(
        timebank.PoolCreditHeld, generate_examples=False,
        description="Above the community's minutes threshold or past the maker's daily limit: held for a second person")})
    async def credit_pool(self, request: Request, actor: Actor, data: PoolCreditIn) -> Response[Transfer]:
        """201 with the transfer; 202 with the held credit when it is above the community's minutes
        threshold or past the maker's daily limit of hand-made minutes (another manager of
        the community, or its street's, approves it in the held queue, /held.html)."""
        key = _ledger_key(request, actor, "pool-credit")
        return await respond(request, actor, lambda conn: timebank.credit_pool(
            conn, actor, data.community_id, data.minutes, data.reason, key),
            status=lambda result: 202 if isinstance(result, timebank.PoolCreditHeld) else 201)


class FamilyController(Controller):
    path = "/api"
    tags = ["timebank"]

    @post("/family-links", status_code=201)
    async def add_link(self, actor: Actor, pool: asyncpg.Pool, data: FamilyLinkIn) -> timebank.FamilyAsk:
        async with pool.acquire() as conn:
            return await timebank.add_family_link(conn, actor, data.phone)

    @get("/family-links")
    async def list_links(self, actor: Actor, pool: asyncpg.Pool) -> timebank.FamilyLinks:
        async with pool.acquire() as conn:
            return await timebank.list_family_links(conn, actor)

    @post("/family-links/{link_id:int}/approve", status_code=200)
    async def approve_link(self, actor: Actor, pool: asyncpg.Pool, link_id: int) -> timebank.FamilyLink:
        async with pool.acquire() as conn:
            return await timebank.approve_family_link(conn, actor, link_id)

    @post("/family-links/{link_id:int}/remove", status_code=200)
    async def remove_link(self, actor: Actor, pool: asyncpg.Pool, link_id: int) -> timebank.FamilyLink:
        async with pool.acquire() as conn:
            return await timebank.remove_family_link(conn, actor, link_id)

    @post("/gifts", status_code=201)
    async def give(self, request: Request, actor: Actor, data: GiftIn) -> Response[timebank.Gift]:
        key = _ledger_key(request, actor, "gift")
        return await respond(request, actor, lambda conn: timebank.give(
            conn, actor, data.to_user_id, data.minutes, key), status=201)


CONTROLLERS = (TimebankController, FamilyController,)  # listed in api/capabilities.py

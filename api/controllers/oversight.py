"""The one queue of what is held for a second person, and the flags about managers."""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import QueryParameter

from api.deps import client_ip
from api.errors import lang as request_lang
from domain.core.actor import Actor
from domain.core.texts import Reason, ReasonIn
from domain.oversight import flags, queue


class DecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason | None = None  # optional when approving


class Decision(msgspec.Struct, frozen=True):
    kind: str
    id: int
    state: str  # approved | rejected


class OversightController(Controller):
    path = "/api"
    tags = ["oversight"]

    @get("/held")
    async def held(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                   kind: str | None = None) -> queue.HeldQueue:
        """Every act waiting for a second person in the communities the viewer manages or oversees
        (street and district managers too): adjustments, marks, activity publications, managers' own
        check-in credits, policy changes, held on-the-spot redemptions, presence under review."""
        async with pool.acquire() as conn:
            return await queue.held_queue(conn, actor, community_id=community_id, kind=kind)

    @post("/held/{held_kind:str}/{item_id:int}/approve", status_code=200)
    async def approve(self, request: Request, actor: Actor, pool: asyncpg.Pool, held_kind: str, item_id: int,
                      data: DecisionIn) -> Decision:
        """Another manager of the community, or a street or district manager above it: never the
        maker, never the person it credits. The maker gets an inbox message."""
        async with pool.acquire() as conn:
            await queue.decide(conn, actor, held_kind, item_id, approve=True, reason=data.reason or "",
                               ip=client_ip(request))
        return Decision(held_kind, item_id, "approved")

    @post("/held/{held_kind:str}/{item_id:int}/reject", status_code=200)
    async def reject(self, request: Request, actor: Actor, pool: asyncpg.Pool, held_kind: str, item_id: int,
                     data: ReasonIn) -> Decision:
        """Nothing moves; the maker may withdraw their own; the maker gets an inbox message."""
        async with pool.acquire() as conn:
            await queue.decide(conn, actor, held_kind, item_id, approve=False, reason=data.reason,
                               ip=client_ip(request))
        return Decision(held_kind, item_id, "rejected")

    @get("/manager-flags")
    async def manager_flags(self, request: Request, actor: Actor, pool: asyncpg.Pool,
                            community_id: int | None = None,
                            open_only: Annotated[bool, QueryParameter(name="open")] = True
                            ) -> flags.ManagerFlagList:
        """Signals about managers: held attempts and an unusual pace against the street's usual."""
        async with pool.acquire() as conn:
            return await flags.list_flags(conn, actor, community_id=community_id, open_only=open_only,
                                          lang=request_lang(request))

    @post("/manager-flags/{manager_flag_id:int}/dismiss", status_code=200)
    async def dismiss_flag(self, request: Request, actor: Actor, pool: asyncpg.Pool, manager_flag_id: int,
                           data: ReasonIn) -> flags.ManagerFlag:
        async with pool.acquire() as conn:
            return await flags.dismiss(conn, actor, manager_flag_id, data.reason, ip=client_ip(request),
                                       lang=request_lang(request))


CONTROLLERS = (OversightController,)  # listed in api/capabilities.py

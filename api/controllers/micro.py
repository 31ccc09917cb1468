"""Below the grid: 微网格, the residents placed in them, their 邻里长 and 微网格员 marking
for residents without a phone, and 亮身份."""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put

from api.deps import client_ip
from api.idempotent import respond
from domain import checkin
from domain.checkin import MarkResult
from domain.core.actor import Actor
from domain.core.texts import Reason
from domain.people import micro


class MicroGridIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    buildings: Annotated[str, msgspec.Meta(max_length=200)] = ""


class PlaceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int


class MicroMarkIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    activity_id: int
    user_ids: Annotated[list[int], msgspec.Meta(min_length=1, max_length=200)]
    reason: Reason
    minutes: Annotated[int, msgspec.Meta(ge=0, le=20160)]


class ShownIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    shown: bool


class Shown(msgspec.Struct, kw_only=True):
    shown: bool


class GridMicroController(Controller):
    path = "/api/grids/{grid_id:int}/micro-grids"
    tags = ["micro-grids"]

    @get("/")
    async def list_micro(self, actor: Actor, pool: asyncpg.Pool, grid_id: int) -> list[micro.MicroGrid]:
        """A grid's 微网格 with their 邻里长 and 微网格员 (members of the community and its managers)."""
        async with pool.acquire() as conn:
            return await micro.of_grid(conn, actor, grid_id)

    @post("/", status_code=201)
    async def create(self, request: Request, actor: Actor, pool: asyncpg.Pool, grid_id: int,
                     data: MicroGridIn) -> micro.MicroGrid:
        async with pool.acquire() as conn:
            return await micro.create(conn, actor, grid_id, name=data.name, buildings=data.buildings,
                                      ip=client_ip(request))


class MicroController(Controller):
    path = "/api/micro-grids/{micro_grid_id:int}"
    tags = ["micro-grids"]

    @get("/")
    async def get_one(self, actor: Actor, pool: asyncpg.Pool, micro_grid_id: int) -> micro.MicroGrid:
        async with pool.acquire() as conn:
            return await micro.get(conn, actor, micro_grid_id)

    @post("/residents", status_code=200)
    async def place(self, request: Request, actor: Actor, pool: asyncpg.Pool, micro_grid_id: int,
                    data: PlaceIn) -> micro.MicroGrid:
        """A manager places a resident of the community in this 微网格."""
        async with pool.acquire() as conn:
            return await micro.place(conn, actor, micro_grid_id, data.user_id, ip=client_ip(request))

    @post("/attendance-marks", status_code=200)
    async def mark(self, request: Request, actor: Actor, micro_grid_id: int, data: MicroMarkIn) -> Response[MarkResult]:
        """Its 邻里长 or 微网格员 marks attendance for its residents without a phone, under a manager's
        mark's rules. Send an Idempotency-Key."""
        return await respond(request, actor, lambda conn: checkin.mark_for_micro_grid(
            conn, actor, micro_grid_id, data.activity_id, data.user_ids, data.reason, data.minutes,
            ip=client_ip(request)))


class MyMicroController(Controller):
    path = "/api/me"
    tags = ["micro-grids"]

    @get("/micro-grids")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> list[micro.MicroGrid]:
        async with pool.acquire() as conn:
            return await micro.mine(conn, actor)

    @put("/party-identity", status_code=200)
    async def party_identity(self, actor: Actor, pool: asyncpg.Pool, data: ShownIn) -> Shown:
        """亮身份: a confirmed party member shows it (their household reads 党员户), or stops."""
        async with pool.acquire() as conn:
            return Shown(shown=await micro.show_party_identity(conn, actor, data.shown))


CONTROLLERS = (GridMicroController, MicroController, MyMicroController)

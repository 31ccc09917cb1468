"""The moral supermarket: rewards (catalogue, stock, pictures) and redemptions (request, approve,
reject, cancel, voucher, on the spot). Handing over is a voucher scan: POST /api/scans.

Managers act only in their communities; another community's redemption or reward is 403.
"""

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, QueryParameter

from api.deps import page_args
from api.idempotent import respond
from domain import supermarket
from domain.core.actor import Actor
from domain.core.texts import Reason, ReasonIn
from domain.supermarket import (
    Counts,
    Redemption,
    RedemptionDetail,
    RedemptionPage,
    Reward,
    RewardPage,
    StockChangePage,
    Voucher,
)
from domain.supermarket.rules import MAX_QUANTITY

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Description = Annotated[str, msgspec.Meta(max_length=1000)]
Cost = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Stock = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
IMAGE_MAX_BODY = 11 * 1024 * 1024  # a phone photo of up to 10 MB (domain/photos.py) plus the form around it


class RewardIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    name: Name
    description: Description = ""
    cost_points: Cost
    stock: Stock = 0
    per_person_limit: Limit | None = None
    active: bool = True


class RewardPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; per_person_limit: null removes the limit. A new `stock` needs
    `stock_reason` and is recorded like POST /stock."""
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    cost_points: Cost | msgspec.UnsetType = msgspec.UNSET
    per_person_limit: Limit | None | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    stock: Stock | msgspec.UnsetType = msgspec.UNSET
    stock_reason: Reason | msgspec.UnsetType = msgspec.UNSET


class StockIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    delta: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
    reason: Reason


class ImageForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    image: UploadFile


class RedemptionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reward_id: int
    quantity: Quantity = 1


class OnTheSpotIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    member_code: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]  # the code, or the card's whole URL
    reward_id: int
    quantity: Quantity = 1


class RewardController(Controller):
    path = "/api/rewards"
    tags = ["supermarket"]

    @post("/", status_code=201)
    async def create(self, actor: Actor, pool: asyncpg.Pool, data: RewardIn) -> Reward:
        async with pool.acquire() as conn:
            return await supermarket.create_reward(conn, actor, **msgspec.structs.asdict(data))

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                    include_inactive: bool = False, limit: int = 50, cursor: str | None = None) -> RewardPage:
        """The catalogue of my communities, or of one; `include_inactive` works for its managers."""
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await supermarket.list_rewards(conn, actor, community_id=community_id,
                                                  include_inactive=include_inactive, limit=limit, after=after)

    @get("/{reward_id:int}")
    async def show(self, actor: Actor, pool: asyncpg.Pool, reward_id: int) -> Reward:
        async with pool.acquire() as conn:
            return await supermarket.read_reward(conn, actor, reward_id)

    @patch("/{reward_id:int}")
    async def update(self, actor: Actor, pool: asyncpg.Pool, reward_id: int, data: RewardPatch) -> Reward:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items()
                   if v is not msgspec.UNSET and k not in ("stock", "stock_reason")}
        stock = None if data.stock is msgspec.UNSET else data.stock
        reason = None if data.stock_reason is msgspec.UNSET else data.stock_reason
        async with pool.acquire() as conn:
            return await supermarket.update_reward(conn, actor, reward_id, changes, stock=stock, stock_reason=reason)

    @post("/{reward_id:int}/stock", status_code=200)
    async def change_stock(self, request: Request, actor: Actor, reward_id: int, data: StockIn) -> Response[Reward]:
        """Goods in (delta > 0) or out (lost, spoiled, recount: delta < 0), with the reason. Send an
        Idempotency-Key: a double tap changes the stock once."""
        return await respond(request, actor, lambda conn: supermarket.change_stock(
            conn, actor, reward_id, data.delta, data.reason))

    @get("/{reward_id:int}/stock-changes")
    async def stock_changes(self, actor: Actor, pool: asyncpg.Pool, reward_id: int, limit: int = 20,
                            cursor: str | None = None) -> StockChangePage:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await supermarket.stock_changes(conn, actor, reward_id, limit, before)

    @post("/{reward_id:int}/image", status_code=200, request_max_body_size=IMAGE_MAX_BODY)
    async def upload_image(self, actor: Actor, pool: asyncpg.Pool, reward_id: int,
                           data: Annotated[ImageForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Reward:
        """Multipart/form-data with `image` (JPEG, PNG, WebP); stored small, without metadata."""
        try:
            async with pool.acquire() as conn:  # the right first: nobody else makes us read or decode
                await supermarket.require_reward_manager(conn, actor, reward_id)
            content = await data.image.read()
        finally:
            await data.image.close()
        async with pool.acquire() as conn:
            return await supermarket.set_image(conn, actor, reward_id, content)

    @delete("/{reward_id:int}/image", status_code=200)
    async def remove_image(self, actor: Actor, pool: asyncpg.Pool, reward_id: int) -> Reward:
        async with pool.acquire() as conn:
            return await supermarket.set_image(conn, actor, reward_id, None)

    @get("/{reward_id:int}/image", media_type="image/jpeg")
    async def image(self, pool: asyncpg.Pool, reward_id: int) -> Response[bytes]:
        """The picture, public like a shop window; URLs carry ?v=<version>, so it caches for long."""
        async with pool.acquire() as conn:
            content = await supermarket.reward_image(conn, reward_id)
        return Response(content, media_type="image/jpeg", headers={"cache-control": "public, max-age=86400"})


class RedemptionController(Controller):
    path = "/api/redemptions"
    tags = ["supermarket"]

    @post("/", status_code=201)
    async def request_reward(self, request: Request, actor: Actor, data: RedemptionIn) -> Response[Redemption]:
        """Points held and stock reserved at once. Send an Idempotency-Key: a double tap requests once."""
        return await respond(request, actor, lambda conn: supermarket.request(conn, actor, data.reward_id,
                                                                              data.quantity), status=201)

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool,
                    state_filter: Annotated[str | None, QueryParameter(name="state")] = None,
                    community_id: int | None = None, limit: int = 20, cursor: str | None = None) -> RedemptionPage:
        """Without community_id: mine, newest first. With it: that community's (managers), where
        `state=requested|approved` lists oldest first, with each requester's points balance."""
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await supermarket.list_redemptions(conn, actor, community_id=community_id, state=state_filter,
                                                      limit=limit, cursor=after)

    @get("/counts")
    async def counts(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None) -> Counts:
        """Open redemptions (for badges): mine, or a community's."""
        async with pool.acquire() as conn:
            return await supermarket.counts(conn, actor, community_id)

    @get("/{redemption_id:int}")
    async def show(self, actor: Actor, pool: asyncpg.Pool, redemption_id: int) -> RedemptionDetail:
        """One redemption with its history of states (who, when, why)."""
        async with pool.acquire() as conn:
            return await supermarket.get_redemption(conn, actor, redemption_id)

    @post("/{redemption_id:int}/approve", status_code=200)
    async def approve(self, request: Request, actor: Actor, redemption_id: int) -> Response[Redemption]:
        return await respond(request, actor, lambda conn: supermarket.approve(conn, actor, redemption_id))

    @post("/{redemption_id:int}/reject", status_code=200)
    async def reject(self, request: Request, actor: Actor, redemption_id: int, data: ReasonIn) -> Response[Redemption]:
        return await respond(request, actor, lambda conn: supermarket.reject(conn, actor, redemption_id, data.reason))

    @post("/{redemption_id:int}/cancel", status_code=200)
    async def cancel(self, request: Request, actor: Actor, redemption_id: int) -> Response[Redemption]:
        return await respond(request, actor, lambda conn: supermarket.cancel(conn, actor, redemption_id))

    @get("/{redemption_id:int}/voucher")
    async def voucher(self, actor: Actor, pool: asyncpg.Pool, redemption_id: int) -> Voucher:
        """The QR to show at hand-over (approved redemptions); the manager's scan of it fulfils."""
        async with pool.acquire() as conn:
            return await supermarket.voucher(conn, actor, redemption_id)

    @post("/on-the-spot", status_code=201, responses={202: ResponseSpec(
        Redemption, generate_examples=False,
        description="For a resident this manager created and credited: held as a request for another manager")})
    async def on_the_spot(self, request: Request, actor: Actor, data: OnTheSpotIn) -> Response[Redemption]:
        """A manager scans a member card at the counter: created, approved and handed over at once
        (201). For a resident the same manager created and credited, a request another
        manager approves instead (202, state `requested`): hand the goods over on its voucher."""
        return await respond(request, actor, lambda conn: supermarket.redeem_on_the_spot(
            conn, actor, data.member_code, data.reward_id, data.quantity),
            status=lambda r: 202 if r.state == "requested" else 201)


CONTROLLERS = (RewardController, RedemptionController,)  # listed in api/capabilities.py

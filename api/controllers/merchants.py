"""爱心商家: merchants invited by a street or community, their offers, vouchers shown at
the counter, redemptions and refunds, the monthly statement (JSON, CSV, PDF) and the settling
level's rate. Staff join through the partner invitations (POST /api/partners/{id}/invitations,
POST /api/partner-invitations/{id}/answer). Rules: domain/merchants."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put

from api.deps import client_ip
from api.idempotent import respond
from domain import merchants
from domain.core.actor import Actor
from domain.core.texts import Reason
from domain.merchants import Merchant, MerchantRedemption, Offer, Rate, Statement, VoucherOut, VoucherPreview

Text60 = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Text100 = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Phone = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")]
Day = Annotated[int, msgspec.Meta(ge=1, le=7)]
CodeText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class MerchantIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    parent_id: int                      # the inviting street or community
    name: Text100
    address: Text200
    contact_phone: Phone                # invited as the merchant's owner
    owner_name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=30)]
    community_ids: list[int] | None = None  # a street's merchant: the communities it serves (none: all)


class SuspendIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    suspended: bool
    reason: Reason


class OfferIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Text60
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    price_points: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    monthly_limit: Annotated[int, msgspec.Meta(ge=1, le=100)]
    stock: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    days: Annotated[list[Day], msgspec.Meta(min_length=1, max_length=7)] = msgspec.field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    opens: Clock = "00:00"
    closes: Clock = "24:00"


class DecideIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    approve: bool


class RedeemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: CodeText | None = None        # the voucher, scanned or typed
    card: CodeText | None = None        # or a member card (residents without a phone) ...
    offer_id: int | None = None         # ... with the offer


class RefundIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


class RateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fen_per_point: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None


MERCHANT_ERRORS = {409: "Suspended merchant, used voucher, over the limit, out of stock or outside its hours",
                   410: "The voucher expired"}


class MerchantController(Controller):
    path = "/api/merchants"
    tags = ["merchants"]

    @post("/", status_code=201)
    async def create(self, request: Request, actor: Actor, pool: asyncpg.Pool, data: MerchantIn) -> Merchant:
        """A street's or community's managers invite a merchant; its contact phone is invited as its owner."""
        async with pool.acquire() as conn:
            return await merchants.create(conn, actor, ip=client_ip(request), **msgspec.structs.asdict(data))

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool, org_id: int | None = None) -> list[Merchant]:
        """Without org_id: the merchants I work for. With it: a street's or community's merchants."""
        async with pool.acquire() as conn:
            return await merchants.list_merchants(conn, actor, org_id=org_id)

    @get("/{merchant_id:int}")
    async def show(self, actor: Actor, pool: asyncpg.Pool, merchant_id: int) -> Merchant:
        async with pool.acquire() as conn:
            return await merchants.get(conn, actor, merchant_id)

    @post("/{merchant_id:int}/suspension", status_code=200)
    async def suspend(self, request: Request, actor: Actor, pool: asyncpg.Pool, merchant_id: int,
                      data: SuspendIn) -> Merchant:
        """Suspend (or resume) a merchant: new redemptions stop at once."""
        async with pool.acquire() as conn:
            return await merchants.suspend(conn, actor, merchant_id, suspended=data.suspended, reason=data.reason,
                                           ip=client_ip(request))

    @post("/{merchant_id:int}/offers", status_code=201)
    async def create_offer(self, request: Request, actor: Actor, pool: asyncpg.Pool, merchant_id: int,
                           data: OfferIn) -> Offer:
        """The owner publishes an offer; residents see it once a community manager approves it."""
        async with pool.acquire() as conn:
            return await merchants.create_offer(conn, actor, merchant_id, ip=client_ip(request),
                                                **msgspec.structs.asdict(data))

    @get("/{merchant_id:int}/offers")
    async def offers(self, actor: Actor, pool: asyncpg.Pool, merchant_id: int) -> list[Offer]:
        async with pool.acquire() as conn:
            return await merchants.merchant_offers(conn, actor, merchant_id)

    @get("/{merchant_id:int}/vouchers/{code:str}", opt={"errors": {404: "No such voucher at this merchant"}})
    async def preview(self, actor: Actor, pool: asyncpg.Pool, merchant_id: int, code: str) -> VoucherPreview:
        """The counter's look at a voucher before confirming: the offer and the masked name."""
        async with pool.acquire() as conn:
            return await merchants.preview(conn, actor, merchant_id, code)

    @post("/{merchant_id:int}/redemptions", status_code=201, opt={"errors": MERCHANT_ERRORS})
    async def redeem(self, request: Request, actor: Actor, merchant_id: int, data: RedeemIn
                     ) -> Response[MerchantRedemption]:
        """Staff confirm a voucher (or a phoneless resident's member card with an offer): the points
        move to the merchant's account. Send an Idempotency-Key: a double tap redeems once."""
        ip = client_ip(request)
        return await respond(request, actor, lambda conn: merchants.redeem(
            conn, actor, merchant_id, code=data.code, card=data.card, offer_id=data.offer_id, ip=ip), status=201)

    @get("/{merchant_id:int}/redemptions")
    async def redemptions(self, actor: Actor, pool: asyncpg.Pool, merchant_id: int) -> list[MerchantRedemption]:
        """Today's redemptions at the counter (a refund is given from here)."""
        async with pool.acquire() as conn:
            return await merchants.redemptions(conn, actor, merchant_id)

    @get("/{merchant_id:int}/statement")
    async def statement(self, actor: Actor, pool: asyncpg.Pool, merchant_id: int, month: str | None = None,
                        format: Literal["json", "csv", "pdf"] = "json") -> Response[Statement]:
        """The month's statement (month YYYY-MM, default this one); as CSV or PDF with `format`."""
        async with pool.acquire() as conn:
            report = await merchants.statement(conn, actor, merchant_id, month)
        name = f"merchant-{merchant_id}-{report.month}"
        if format == "csv":
            return Response(merchants.statement_csv(report), media_type="text/csv",  # type: ignore[arg-type]
                            headers={"content-disposition": f'attachment; filename="{name}.csv"'})
        if format == "pdf":
            return Response(await merchants.statement_pdf_async(report),  # type: ignore[arg-type]
                            media_type="application/pdf",
                            headers={"content-disposition": f'attachment; filename="{name}.pdf"'})
        return Response(report)


class OfferController(Controller):
    path = "/api/offers"
    tags = ["merchants"]

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool) -> list[Offer]:
        """Approved offers of merchants where I may spend my points."""
        async with pool.acquire() as conn:
            return await merchants.offers_for_me(conn, actor)

    @post("/{offer_id:int}/decision", status_code=200)
    async def decide(self, request: Request, actor: Actor, pool: asyncpg.Pool, offer_id: int, data: DecideIn) -> Offer:
        """A manager of a community the merchant serves approves the offer, or withdraws it."""
        async with pool.acquire() as conn:
            return await merchants.decide_offer(conn, actor, offer_id, approve=data.approve, ip=client_ip(request))

    @post("/{offer_id:int}/vouchers", status_code=201, opt={"errors": MERCHANT_ERRORS})
    async def take(self, actor: Actor, pool: asyncpg.Pool, offer_id: int) -> VoucherOut:
        """Take the offer: a voucher code, valid for minutes, to show at the counter."""
        async with pool.acquire() as conn:
            return await merchants.take_offer(conn, actor, offer_id)


class MerchantRedemptionController(Controller):
    path = "/api/merchant-redemptions"
    tags = ["merchants"]

    @post("/{redemption_id:int}/refund", status_code=200, opt={"errors": {409: "Already refunded, or not today"}})
    async def refund(self, request: Request, actor: Actor, redemption_id: int, data: RefundIn
                     ) -> Response[MerchantRedemption]:
        """The same day, staff give the points back, with the reason."""
        ip = client_ip(request)
        return await respond(request, actor, lambda conn: merchants.refund(conn, actor, redemption_id, data.reason,
                                                                           ip=ip))


class MerchantRateController(Controller):
    path = "/api/orgs/{org_id:int}/merchant-rate"
    tags = ["merchants"]

    @get("/")
    async def show(self, actor: Actor, pool: asyncpg.Pool, org_id: int) -> Rate:
        async with pool.acquire() as conn:
            return await merchants.get_rate(conn, actor, org_id)

    @put("/")
    async def set(self, request: Request, actor: Actor, pool: asyncpg.Pool, org_id: int, data: RateIn) -> Rate:
        """What the street (or community) pays its merchants per point, in fen; null: goods are donated."""
        async with pool.acquire() as conn:
            return await merchants.set_rate(conn, actor, org_id, data.fen_per_point, ip=client_ip(request))


CONTROLLERS = (MerchantController, OfferController, MerchantRedemptionController,
               MerchantRateController)  # listed in api/capabilities.py

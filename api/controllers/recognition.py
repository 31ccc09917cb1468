"""Recognition (issue 34): the points rulebook (积分细则), deductions with due process. Approving a
rulebook version and deciding a deduction are the held queue's (/api/held/{rulebook|deduction}/...)."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from api.deps import client_ip
from domain.cases import prepare_photo
from domain.people.orgs import Actor
from domain.recognition import deductions, rulebook
from domain.recognition.deductions import Deduction
from domain.recognition.rulebook import Rulebook, RulebookVersion

PHOTO_MAX_BODY = 11 * 1024 * 1024  # a photo of up to 10 MB and its form, as a case's note


class RuleItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
    kind: Literal["earn", "deduct"]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    points: Annotated[int, msgspec.Meta(ge=1, le=10000)]
    daily_cap: Annotated[int, msgspec.Meta(ge=1, le=10000)] | None = None
    evidence: Annotated[str, msgspec.Meta(max_length=200)] = ""
    clause: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class RulebookIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    org_id: int
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    items: Annotated[list[RuleItemIn], msgspec.Meta(min_length=1, max_length=50)]


class DeductionForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    user_id: int
    rule_item_id: int
    evidence: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    photo: UploadFile | None = None


class AppealIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class Deductions(msgspec.Struct):
    items: list[Deduction]


class RulebookController(Controller):
    path = "/api"
    tags = ["recognition"]

    @get("/orgs/{org_id:int}/rulebook")
    async def rulebook(self, actor: Actor, pool: asyncpg.Pool, org_id: int) -> Rulebook:
        """积分细则: the rulebook in force in a community (its base's items, then its own) or a street's
        or district's base. Anyone signed in reads it; versions waiting for approval, its managers."""
        async with pool.acquire() as conn:
            return await rulebook.read(conn, actor, org_id)

    @post("/rulebooks", status_code=201)
    async def propose(self, request: Request, actor: Actor, pool: asyncpg.Pool, data: RulebookIn) -> RulebookVersion:
        """A new version of an organisation's rulebook, by its manager. It waits (state pending) until
        another manager of it, or a manager above it, approves it in the held queue (kind rulebook)."""
        items = [msgspec.structs.asdict(i) for i in data.items]
        async with pool.acquire() as conn:
            return await rulebook.propose(conn, actor, data.org_id, data.title, items, ip=client_ip(request))


class DeductionController(Controller):
    path = "/api"
    tags = ["recognition"]

    @post("/deductions", status_code=201, request_max_body_size=PHOTO_MAX_BODY)
    async def propose(self, request: Request, actor: Actor, pool: asyncpg.Pool,
                      data: Annotated[DeductionForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Deduction:
        """扣分 proposed by a manager under a deduction item (扣分项) of the community's rulebook, with
        evidence (text, optionally a photo; multipart/form-data). The person is told and may appeal;
        a second manager decides in the held queue (kind deduction); only then is it posted."""
        try:
            raw = await data.photo.read() if data.photo else None
        finally:
            if data.photo:
                await data.photo.close()
        processed = (await prepare_photo(raw))[0] if raw else None
        async with pool.acquire() as conn:
            return await deductions.propose(conn, actor, community_id=data.community_id, user_id=data.user_id,
                                            rule_item_id=data.rule_item_id, evidence=data.evidence,
                                            photo=processed, ip=client_ip(request))

    @get("/me/deductions")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> Deductions:
        """The deductions proposed of me, newest first: the rule, the evidence, my appeal, the decision."""
        async with pool.acquire() as conn:
            return Deductions(await deductions.mine(conn, actor))

    @get("/deductions/{deduction_id:int}")
    async def one(self, actor: Actor, pool: asyncpg.Pool, deduction_id: int) -> Deduction:
        """The person deducted, and the managers who may decide it, read a deduction (404 to anyone else)."""
        async with pool.acquire() as conn:
            return await deductions.get(conn, actor, deduction_id)

    @get("/deductions/{deduction_id:int}/photo", media_type="image/jpeg")
    async def photo(self, actor: Actor, pool: asyncpg.Pool, deduction_id: int) -> Response[bytes]:
        async with pool.acquire() as conn:
            jpeg = await deductions.photo(conn, actor, deduction_id)
        return Response(jpeg, media_type="image/jpeg", headers={"cache-control": "private, max-age=86400"})

    @post("/deductions/{deduction_id:int}/appeal", status_code=200)
    async def appeal(self, actor: Actor, pool: asyncpg.Pool, deduction_id: int, data: AppealIn) -> Deduction:
        """The person deducted appeals, once, within the window; a second manager weighs it when deciding."""
        async with pool.acquire() as conn:
            return await deductions.appeal(conn, actor, deduction_id, data.reason)


CONTROLLERS = [RulebookController, DeductionController]

"""Recognition: the points rulebook (积分细则), deductions with due process. Approving a
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
from domain.core.actor import Actor
from domain.recognition import deductions, medals, rulebook, selections
from domain.recognition.deductions import Deduction
from domain.recognition.medals import Medal, MedalRule, SweepResult
from domain.recognition.rulebook import Rulebook, RulebookVersion
from domain.recognition.selections import Selection, SelectionRef

PHOTO_MAX_BODY = 11 * 1024 * 1024  # a photo of up to 10 MB and its form, as a case's note


class RuleItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
    kind: Literal["earn", "deduct"]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    points: Annotated[int, msgspec.Meta(ge=1, le=10000)]
    daily_cap: Annotated[int, msgspec.Meta(ge=1, le=10000)] | None = None
    evidence: Annotated[str, msgspec.Meta(max_length=200)] = ""
    clause: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    # An earning item may pay for a verified courier report of a kind, or a case closed in time
    # (its reporter's bonus), instead of activities.
    applies_to: Literal["report_civility", "report_hazard", "report_service", "case_in_time"] | None = None


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


class Medals(msgspec.Struct):
    items: list[Medal]


class MedalRules(msgspec.Struct):
    items: list[MedalRule]


class MedalRuleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    org_id: int
    kind: Literal["hours", "communities", "quarters", "hazards"]
    threshold: Annotated[int, msgspec.Meta(ge=1, le=100000)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class RevokeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class MedalController(Controller):
    path = "/api"
    tags = ["recognition"]

    @get("/me/medals")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> Medals:
        """My medals (勋章), revoked ones with the reason."""
        async with pool.acquire() as conn:
            return Medals(await medals.mine(conn, actor))

    @get("/orgs/{org_id:int}/medal-rules")
    async def rules(self, actor: Actor, pool: asyncpg.Pool, org_id: int) -> MedalRules:
        """The medal rules that apply to an organisation's people: its own and those above it, or the built-in ones."""
        async with pool.acquire() as conn:
            return MedalRules(await medals.rules_for(conn, org_id))

    @post("/medal-rules", status_code=201)
    async def define(self, actor: Actor, pool: asyncpg.Pool, data: MedalRuleIn) -> MedalRule:
        """A medal rule of a community (its manager) or a street or district (theirs)."""
        async with pool.acquire() as conn:
            return await medals.define(conn, actor, org_id=data.org_id, kind=data.kind, threshold=data.threshold,
                                       name=data.name)

    @post("/communities/{community_id:int}/medals/sweep", status_code=200)
    async def sweep(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> SweepResult:
        """Award every member what their figures reach; run again, it awards nothing twice."""
        async with pool.acquire() as conn:
            return await medals.sweep(conn, actor, community_id)

    @get("/communities/{community_id:int}/medals")
    async def of_community(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Medals:
        async with pool.acquire() as conn:
            return Medals(await medals.of_community(conn, actor, community_id))

    @post("/medals/{medal_id:int}/revoke", status_code=200)
    async def revoke(self, actor: Actor, pool: asyncpg.Pool, medal_id: int, data: RevokeIn) -> Medal:
        """Revoke a medal, with a reason (audited; the person is told)."""
        async with pool.acquire() as conn:
            return await medals.revoke(conn, actor, medal_id, data.reason)


class SelectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    kind: Literal["person", "household"]
    quarter: Annotated[str, msgspec.Meta(pattern=r"^\d{4}[Qq][1-4]$")]
    top_n: Annotated[int, msgspec.Meta(ge=1, le=50)] = 10
    max_votes: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    days: Annotated[int, msgspec.Meta(ge=1, le=30)] = 7


class NominationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int | None = None
    household_id: int | None = None
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class VoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    candidate_ids: Annotated[list[int], msgspec.Meta(min_length=1, max_length=20)]


class ChoiceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    candidate_id: int
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class DecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    choices: Annotated[list[ChoiceIn], msgspec.Meta(min_length=1, max_length=50)]


class Selections(msgspec.Struct):
    items: list[SelectionRef]


class SelectionController(Controller):
    path = "/api"
    tags = ["recognition"]

    @post("/selections", status_code=201)
    async def open(self, request: Request, actor: Actor, pool: asyncpg.Pool, data: SelectionIn) -> Selection:
        """Open a quarter's selection (评选): 道德模范 (kind person) or 最美家庭 (household). The top of the
        quarter's ranking are candidates; residents nominate and vote for `days` days."""
        async with pool.acquire() as conn:
            return await selections.open_selection(
                conn, actor, community_id=data.community_id, kind=data.kind, quarter=data.quarter.upper(),
                top_n=data.top_n, max_votes=data.max_votes, days=data.days, ip=client_ip(request))

    @get("/communities/{community_id:int}/selections")
    async def of_community(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Selections:
        """The community's selections, newest first: for its residents and managers."""
        async with pool.acquire() as conn:
            return Selections(await selections.list_for(conn, actor, community_id))

    @get("/selections/{selection_id:int}")
    async def one(self, actor: Actor, pool: asyncpg.Pool, selection_id: int) -> Selection:
        """A selection with its candidates; managers see the votes and names in full, residents masked names
        and, once posted, the votes and the decision."""
        async with pool.acquire() as conn:
            return await selections.get(conn, actor, selection_id)

    @post("/selections/{selection_id:int}/nominations", status_code=200)
    async def nominate(self, actor: Actor, pool: asyncpg.Pool, selection_id: int, data: NominationIn) -> Selection:
        """A resident nominates a person (or household), with a reason: one nomination per household."""
        async with pool.acquire() as conn:
            return await selections.nominate(conn, actor, selection_id, user_id=data.user_id,
                                             household_id=data.household_id, reason=data.reason)

    @post("/selections/{selection_id:int}/votes", status_code=200)
    async def vote(self, actor: Actor, pool: asyncpg.Pool, selection_id: int, data: VoteIn) -> Selection:
        """One vote per household, for at most max_votes candidates, while the vote is open; a second is 409."""
        async with pool.acquire() as conn:
            return await selections.vote(conn, actor, selection_id, data.candidate_ids)

    @post("/selections/{selection_id:int}/decision", status_code=200)
    async def propose(self, request: Request, actor: Actor, pool: asyncpg.Pool, selection_id: int,
                      data: DecisionIn) -> Selection:
        """The committee's choices with a reason each, after the vote; a second manager confirms them in the
        held queue (kind selection), which posts the result as 公示 with an appeal window."""
        async with pool.acquire() as conn:
            return await selections.propose(conn, actor, selection_id, [msgspec.structs.asdict(c) for c in data.choices],
                                            ip=client_ip(request))

    @post("/selections/{selection_id:int}/final", status_code=200)
    async def final(self, request: Request, actor: Actor, pool: asyncpg.Pool, selection_id: int) -> Selection:
        """After the 公示 ended and its appeals are answered: final; the selected get a medal and a record line."""
        async with pool.acquire() as conn:
            return await selections.finalize(conn, actor, selection_id, ip=client_ip(request))

    @get("/selections/{selection_id:int}/export.csv", media_type="text/csv")
    async def export(self, actor: Actor, pool: asyncpg.Pool, selection_id: int) -> Response[bytes]:
        """The ranking, the votes and the committee's decision as one CSV for the street's records."""
        async with pool.acquire() as conn:
            body = await selections.export_csv(conn, actor, selection_id)
        return Response(body, media_type="text/csv", headers={
            "content-disposition": f'attachment; filename="selection-{selection_id}.csv"', "cache-control": "no-store"})


CONTROLLERS = [RulebookController, DeductionController, MedalController, SelectionController]

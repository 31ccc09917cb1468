"""双报到 and the levels above the community: work units, reports (报到) to communities, needs lists,
service cards, yearly targets, and the street's and district's aggregate view."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter

from api.deps import client_ip
from api.idempotent import respond
from domain import units
from domain.core.actor import Actor
from domain.core.texts import ReasonIn
from domain.people import invites
from domain.units import needs as need_claims

CSV = "text/csv"
Quarter = Annotated[str | None, QueryParameter(pattern=r"^\d{4}[Qq][1-4]$")]


class UnitIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    kind: Literal["government", "enterprise", "school", "institution", "social", "other"]
    parent_id: int


class PhoneIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None


class DeclareIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unit_id: int
    community_id: int
    grid_id: int | None = None
    party_member: bool = True


class NeedIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    kind: Literal["post", "duty", "activity"] = "post"
    slots: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1


class CardIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int
    quarter: Annotated[str, msgspec.Meta(pattern=r"^\d{4}[Qq][1-4]$")]


class CardOut(msgspec.Struct, kw_only=True):
    quarter: str
    minutes: int
    points: int


class TargetIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    minutes: Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class RosterForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: UploadFile


class RosterProblem(msgspec.Struct, kw_only=True):
    line: int
    problem: str


class RosterResult(msgspec.Struct, kw_only=True):
    rows: int
    added: int
    confirmed: int
    problems: list[RosterProblem]


class Level(msgspec.Struct, kw_only=True):
    id: int
    name: str
    kind: str


class UnitsController(Controller):
    path = "/api/units"
    tags = ["units"]

    @post("/", status_code=201)
    async def create(self, actor: Actor, pool: asyncpg.Pool, data: UnitIn) -> units.Unit:
        """A street or district manager (or an admin) adds a work unit under their street or district."""
        async with pool.acquire() as conn:
            return await units.create_unit(conn, actor, name=data.name, kind=data.kind, parent_id=data.parent_id)

    @get("/")
    async def list_units(self, actor: Actor, pool: asyncpg.Pool, under: int | None = None,
                   mine: bool = False) -> list[units.Unit]:
        """Units to report with (names only), optionally under one street or district; mine=true: the
        units this person administers."""
        async with pool.acquire() as conn:
            return await units.list_units(conn, actor, under=under, mine=mine)

    @post("/{unit_id:int}/admins", status_code=201)
    async def grant_admin(self, actor: Actor, pool: asyncpg.Pool, unit_id: int, data: PhoneIn) -> invites.RoleInvite:
        """Name the unit's administrator by phone (its street's or district's managers): the person
        accepts the invitation (POST /api/me/role-invites/{id}/accept) and administers from then on."""
        async with pool.acquire() as conn:
            return await units.grant_admin(conn, actor, unit_id, data.phone, data.name)

    @post("/{unit_id:int}/roster", status_code=200)
    async def roster(self, actor: Actor, pool: asyncpg.Pool, unit_id: int,
                     data: Annotated[RosterForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> RosterResult:
        """The unit's list of members: a CSV file (phone, name; UTF-8 or GBK, header optional)."""
        content = await data.file.read()
        async with pool.acquire() as conn:
            return msgspec.convert(await units.upload_roster(conn, actor, unit_id, content), RosterResult)

    @post("/{unit_id:int}/members/{user_id:int}/confirm", status_code=204)
    async def confirm_member(self, actor: Actor, pool: asyncpg.Pool, unit_id: int, user_id: int) -> None:
        async with pool.acquire() as conn:
            await units.confirm_member(conn, actor, unit_id, user_id)

    @get("/{unit_id:int}/view")
    async def view(self, actor: Actor, pool: asyncpg.Pool, unit_id: int, quarter: Quarter = None,
                   format: Literal["json", "csv"] = "json") -> Response[units.UnitView]:
        """The unit administrator's quarter: each confirmed member's hours and points in any community,
        where they reported, the unit's totals, 报到率 and 完成率, and its rank among its level's units."""
        async with pool.acquire() as conn:
            result = await units.unit_view(conn, actor, unit_id, quarter)
        if format == "csv":
            # Response[UnitView] documents the JSON body in OpenAPI; format=csv sends bytes instead.
            return Response(units.unit_csv(result), media_type=CSV, headers={  # type: ignore[arg-type]
                "content-disposition": f'attachment; filename="unit-{unit_id}-{result.quarter}.csv"',
                "cache-control": "no-store"})
        return Response(result)


class UnitReportsController(Controller):
    path = "/api/unit-reports"
    tags = ["units"]

    @post("/", status_code=201)
    async def declare(self, actor: Actor, pool: asyncpg.Pool, data: DeclareIn) -> units.Report:
        """报到: I belong to this unit (as a party member or not) and serve where I live."""
        async with pool.acquire() as conn:
            return await units.declare(conn, actor, unit_id=data.unit_id, community_id=data.community_id,
                                       grid_id=data.grid_id, party_member=data.party_member)

    @post("/withdraw", status_code=204)
    async def withdraw(self, actor: Actor, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await units.withdraw(conn, actor)

    @post("/{unit_report_id:int}/approve", status_code=200)
    async def approve(self, actor: Actor, pool: asyncpg.Pool, unit_report_id: int) -> units.Report:
        async with pool.acquire() as conn:
            return await units.decide(conn, actor, unit_report_id, approve=True)

    @post("/{unit_report_id:int}/reject", status_code=200)
    async def reject(self, actor: Actor, pool: asyncpg.Pool, unit_report_id: int, data: ReasonIn) -> units.Report:
        async with pool.acquire() as conn:
            return await units.decide(conn, actor, unit_report_id, approve=False, reason=data.reason)


class CommunityUnitsController(Controller):
    path = "/api/communities/{community_id:int}"
    tags = ["units"]

    @get("/unit-reports")
    async def queue(self, actor: Actor, pool: asyncpg.Pool, community_id: int,
                    state_: Annotated[Literal["pending", "approved", "rejected", "withdrawn"],
                                      QueryParameter(name="state")] = "pending") -> list[units.Report]:
        # `state` is Litestar's reserved name for the application state, hence state_.
        async with pool.acquire() as conn:
            return await units.reports_queue(conn, actor, community_id, state_)

    @get("/units-served")
    async def served(self, actor: Actor, pool: asyncpg.Pool, community_id: int,
                     quarter: Quarter = None) -> list[units.UnitServed]:
        async with pool.acquire() as conn:
            return await units.units_served(conn, actor, community_id, quarter)

    @get("/needs")
    async def needs(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> list[units.Need]:
        async with pool.acquire() as conn:
            return await units.list_needs(conn, actor, community_id)

    @post("/needs", status_code=201)
    async def create_need(self, actor: Actor, pool: asyncpg.Pool, community_id: int, data: NeedIn) -> units.Need:
        async with pool.acquire() as conn:
            return await units.create_need(conn, actor, community_id, title=data.title, description=data.description,
                                           kind=data.kind, slots=data.slots)

    @get("/need-claims")
    async def claims_queue(self, actor: Actor, pool: asyncpg.Pool, community_id: int,
                          state_: Annotated[Literal["claimed", "served", "awaiting_second", "confirmed", "declined",
                                                    "unserved"] | None, QueryParameter(name="state")] = None
                          ) -> list[need_claims.Claim]:
        """The community's claims (the live ones, or one state), for its managers and those above."""
        async with pool.acquire() as conn:
            return await need_claims.queue(conn, actor, community_id, state_)

    @post("/service-cards", status_code=200)
    async def confirm_card(self, actor: Actor, pool: asyncpg.Pool, community_id: int, data: CardIn) -> CardOut:
        async with pool.acquire() as conn:
            return CardOut(**await units.confirm_card(conn, actor, community_id, data.user_id, data.quarter.upper()))


class NeedsController(Controller):
    path = "/api/needs"
    tags = ["units"]

    @post("/{need_id:int}/claim", status_code=200)
    async def claim(self, actor: Actor, pool: asyncpg.Pool, need_id: int) -> units.Need:
        async with pool.acquire() as conn:
            return await units.claim_need(conn, actor, need_id)

    @post("/{need_id:int}/close", status_code=204)
    async def close(self, actor: Actor, pool: asyncpg.Pool, need_id: int) -> None:
        async with pool.acquire() as conn:
            await units.close_need(conn, actor, need_id)


class ServeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class ConfirmIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)]
    points: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0
    record: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]   # 会议纪要


class DeclineIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    unserved: bool = False


class NeedClaimsController(Controller):
    """A claimed need until the community confirms it (domain/units/needs.py)."""
    path = "/api/need-claims/{claim_id:int}"
    tags = ["units"]

    @post("/serve", status_code=200)
    async def serve(self, actor: Actor, pool: asyncpg.Pool, claim_id: int, data: ServeIn) -> need_claims.Claim:
        """The person who claimed the need says they served it."""
        async with pool.acquire() as conn:
            return await need_claims.serve(conn, actor, claim_id, data.note)

    @post("/confirm", status_code=200)
    async def confirm(self, request: Request, actor: Actor, claim_id: int, data: ConfirmIn) -> Response[need_claims.Claim]:
        """A manager of the need's community confirms with the minutes of the meeting: the person is
        credited (and so their unit's yearly target), or above the community's thresholds the claim
        waits for a second person. Send an Idempotency-Key."""
        return await respond(request, actor, lambda conn: need_claims.confirm(
            conn, actor, claim_id, minutes=data.minutes, points=data.points, record=data.record, ip=client_ip(request)))

    @post("/approve", status_code=200)
    async def approve(self, request: Request, actor: Actor, claim_id: int) -> Response[need_claims.Claim]:
        """The second person (another manager, or one of the street or district above) approves a
        confirmation above the thresholds; the credit is posted. Send an Idempotency-Key."""
        return await respond(request, actor, lambda conn: need_claims.approve(conn, actor, claim_id, ip=client_ip(request)))

    @post("/decline", status_code=200)
    async def decline(self, request: Request, actor: Actor, pool: asyncpg.Pool, claim_id: int,
                      data: DeclineIn) -> need_claims.Claim:
        """Declined, or not served (unserved=true): the place returns to the list."""
        async with pool.acquire() as conn:
            return await need_claims.decline(conn, actor, claim_id, reason=data.reason, unserved=data.unserved,
                                       ip=client_ip(request))


class MyClaimsController(Controller):
    path = "/api/me/need-claims"
    tags = ["units"]

    @get("/")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> list[need_claims.Claim]:
        async with pool.acquire() as conn:
            return await need_claims.mine(conn, actor)


class LevelsController(Controller):
    """Streets and districts (levels above the community); level_id is the street's or district's org id."""
    path = "/api/levels/{level_id:int}"
    tags = ["units"]

    @get("/overview")
    async def overview(self, actor: Actor, pool: asyncpg.Pool, level_id: int, quarter: Quarter = None) -> units.Overview:
        """A street's or district's communities side by side for a quarter (its managers; read-only)."""
        async with pool.acquire() as conn:
            return await units.overview(conn, actor, level_id, quarter)

    @get("/units-ranking")
    async def units_ranking(self, actor: Actor, pool: asyncpg.Pool, level_id: int,
                            quarter: Quarter = None) -> list[units.UnitRank]:
        async with pool.acquire() as conn:
            return await units.units_ranking_view(conn, actor, level_id, quarter)

    @put("/service-target", status_code=204)
    async def set_target(self, actor: Actor, pool: asyncpg.Pool, level_id: int, data: TargetIn) -> None:
        async with pool.acquire() as conn:
            await units.set_target(conn, actor, level_id, data.year, data.minutes)


class MyUnitsController(Controller):
    path = "/api/me"
    tags = ["units"]

    @get("/service-record")
    async def record(self, actor: Actor, pool: asyncpg.Pool, quarter: Quarter = None) -> units.MyRecord:
        """My 报到 status and the service I gave in a quarter, per community (printable)."""
        async with pool.acquire() as conn:
            return await units.my_record(conn, actor, quarter)

    @get("/levels")
    async def levels(self, actor: Actor, pool: asyncpg.Pool) -> list[Level]:
        async with pool.acquire() as conn:
            return [Level(**row) for row in await units.levels_of(conn, actor)]


CONTROLLERS = (UnitsController, UnitReportsController, CommunityUnitsController, NeedsController, NeedClaimsController,
               MyClaimsController, LevelsController,
               MyUnitsController)  # listed in api/capabilities.py

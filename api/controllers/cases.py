"""The grid loop (闭环): cases (事项) from report to rating, a street's categories and deadlines, the
figures per grid/community/street/handler, and the partner organisations that handle cases."""

from datetime import date
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter

from api.idempotent import respond
from domain import cases, partners
from domain.cases import Case, CasePage, Category, FigureTable
from domain.core.actor import Actor
from domain.core.errors import invalid
from domain.core.texts import ReasonIn
from domain.partners import InvitationList, Partner, PartnerInvitation

CSV = "text/csv"
NOTE_MAX_BODY = 11 * 1024 * 1024  # a photo of up to 10 MB and its form


class CaseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["problem", "proposal"]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    place: Annotated[str, msgspec.Meta(max_length=200)] = ""
    community_id: int | None = None


class SortIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    category_id: int | None = None
    priority: Literal["normal", "urgent"] | None = None
    send_up: bool = False


class MergeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    into: int


class DispatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    handler_id: int
    category_id: int | None = None


class NoteForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    photo: UploadFile | None = None


class DoneIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class RateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rating: Literal["satisfied", "fair", "unsatisfied"]
    comment: Annotated[str, msgspec.Meta(max_length=500)] = ""


class TextIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class VoteOpenIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    hours: Annotated[int, msgspec.Meta(ge=1, le=336)]
    scope: Literal["grid", "community"] = "community"


class VoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    choice: Literal["yes", "no"]


class CategoryIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    deadline_hours: Annotated[int, msgspec.Meta(ge=1, le=2160)]
    active: bool = True


class PartnerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["department", "property", "unit"]  # a merchant is invited through POST /api/merchants
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    parent_id: int
    unit_id: int | None = None


class StaffInviteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    role: Literal["admin", "staff"] = "staff"


class AnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    accept: bool


class InviteOut(msgspec.Struct, kw_only=True):
    invitation: PartnerInvitation | None
    already_staff: bool


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]

    @post("/", status_code=201)
    async def raise_case(self, actor: Actor, pool: asyncpg.Pool, data: CaseIn) -> Case:
        """A resident's 提事: a problem, or a proposal for the community."""
        async with pool.acquire() as conn:
            return await cases.raise_case(conn, actor, cases.NewCase(
                kind=data.kind, title=data.title, text=data.text, place=data.place, community_id=data.community_id))

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool,
                    view: Literal["mine", "community", "street", "handler", "proposals"] = "mine",
                    org_id: int | None = None,
                    state_filter: Annotated[str | None, QueryParameter(name="state")] = None,
                    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
                    cursor: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,9}$")] = None) -> CasePage:
        """A queue: mine (my cases and the ones I follow), a community's, a street's (sent up to it), a
        handler's (org_id: the partner), a community's proposals. Overdue first, then newest."""
        async with pool.acquire() as conn:
            return await cases.list_cases(conn, actor, view=view, org_id=org_id, state=state_filter, limit=limit,
                                          offset=int(cursor or 0))

    @get("/{case_id:int}")
    async def show(self, actor: Actor, pool: asyncpg.Pool, case_id: int) -> Case:
        """The case with its history: who did what, when."""
        async with pool.acquire() as conn:
            return await cases.get_case(conn, actor, case_id)

    @get("/{case_id:int}/photos/{photo_id:int}", media_type="image/jpeg")
    async def photo(self, actor: Actor, pool: asyncpg.Pool, case_id: int, photo_id: int) -> Response[bytes]:
        async with pool.acquire() as conn:
            jpeg = await cases.photo(conn, actor, case_id, photo_id)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=604800, immutable"})

    @post("/{case_id:int}/sort", status_code=200)
    async def sort(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: SortIn) -> Case:
        """梳理 (the community's managers): category, priority; send_up passes it to the street."""
        async with pool.acquire() as conn:
            return await cases.sort(conn, actor, case_id, category_id=data.category_id, priority=data.priority,
                                    send_up=data.send_up)

    @post("/{case_id:int}/merge", status_code=200)
    async def merge(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: MergeIn) -> Case:
        """Fold this duplicate into another open case of the community; its reporter follows that one."""
        async with pool.acquire() as conn:
            return await cases.merge(conn, actor, case_id, data.into)

    @post("/{case_id:int}/dispatch", status_code=200)
    async def dispatch(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: DispatchIn) -> Case:
        """吹哨派单: a handler and the category whose hours set the deadline."""
        async with pool.acquire() as conn:
            return await cases.dispatch(conn, actor, case_id, handler_id=data.handler_id,
                                        category_id=data.category_id)

    @post("/{case_id:int}/accept", status_code=200)
    async def accept(self, actor: Actor, pool: asyncpg.Pool, case_id: int) -> Case:
        async with pool.acquire() as conn:
            return await cases.accept(conn, actor, case_id)

    @post("/{case_id:int}/return", status_code=200)
    async def give_back(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: ReasonIn) -> Case:
        """退回: not this handler's to handle; back to whoever dispatched it."""
        async with pool.acquire() as conn:
            return await cases.give_back(conn, actor, case_id, data.reason)

    @post("/{case_id:int}/notes", status_code=200, request_max_body_size=NOTE_MAX_BODY)
    async def note(self, actor: Actor, pool: asyncpg.Pool, case_id: int,
                   data: Annotated[NoteForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Case:
        """A working note and/or a photo (multipart/form-data)."""
        try:
            raw = await data.photo.read() if data.photo else None
        finally:
            if data.photo:
                await data.photo.close()
        if not raw and not data.note.strip():
            raise invalid("note", "a note or a photo")
        processed = await cases.prepare_photo(raw) if raw else None
        async with pool.acquire() as conn:
            return await cases.add_note(conn, actor, case_id, data.note, processed)

    @post("/{case_id:int}/done", status_code=200)
    async def done(self, request: Request, actor: Actor, case_id: int, data: DoneIn) -> Response[Case]:
        """办结. In time, a courier's report earns its bonus now (send an Idempotency-Key)."""
        return await respond(request, actor, lambda conn: cases.mark_done(conn, actor, case_id, data.note))

    @post("/{case_id:int}/rate", status_code=200)
    async def rate(self, request: Request, actor: Actor, case_id: int, data: RateIn) -> Response[Case]:
        """The reporter rates: 满意 satisfied, 基本满意 fair, 不满意 unsatisfied (reopens the case once)."""
        return await respond(request, actor, lambda conn: cases.rate(conn, actor, case_id, data.rating, data.comment))

    @post("/{case_id:int}/follow", status_code=200)
    async def follow(self, actor: Actor, pool: asyncpg.Pool, case_id: int) -> Case:
        """Be told of this case's outcome, like its reporter."""
        async with pool.acquire() as conn:
            return await cases.follow(conn, actor, case_id)

    @post("/{case_id:int}/comments", status_code=200)
    async def comment(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: TextIn) -> Case:
        """议事: residents and managers discuss a proposal."""
        async with pool.acquire() as conn:
            return await cases.comment(conn, actor, case_id, data.text)

    @post("/{case_id:int}/meeting", status_code=200)
    async def meeting(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: TextIn) -> Case:
        """The community takes a proposal up, with its meeting's note."""
        async with pool.acquire() as conn:
            return await cases.meeting(conn, actor, case_id, data.text)

    @post("/{case_id:int}/vote-open", status_code=200)
    async def vote_open(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: VoteOpenIn) -> Case:
        """定事: open a household vote for `hours`, in the proposal's grid or its whole community."""
        async with pool.acquire() as conn:
            return await cases.open_vote(conn, actor, case_id, hours=data.hours, scope=data.scope)

    @post("/{case_id:int}/votes", status_code=200)
    async def vote(self, actor: Actor, pool: asyncpg.Pool, case_id: int, data: VoteIn) -> Case:
        """One vote per household (户); a second from the same household is 409."""
        async with pool.acquire() as conn:
            return await cases.vote(conn, actor, case_id, data.choice)

    @post("/{case_id:int}/publish", status_code=200)
    async def publish(self, actor: Actor, pool: asyncpg.Pool, case_id: int) -> Case:
        """Count a closed vote and publish the result."""
        async with pool.acquire() as conn:
            return await cases.publish(conn, actor, case_id)

    @get("/figures")
    async def figures(self, actor: Actor, pool: asyncpg.Pool, org_id: int,
                      by: Literal["grid", "community", "street", "handler"] | None = None,
                      since: date | None = None, until: date | None = None,
                      format: Literal["json", "csv"] = "json") -> Response[FigureTable]:
        """Opened, closed, closed in time, overdue, median hours to close and satisfaction of a
        district's, street's or community's cases created in [since, until) (default: this year)."""
        async with pool.acquire() as conn:
            table = await cases.figures(conn, actor, org_id, by=by, since=since, until=until)
        if format == "csv":
            return Response(cases.figures_csv(table), media_type=CSV, headers={  # type: ignore[arg-type]
                "content-disposition": f'attachment; filename="cases-{org_id}-{table.by}.csv"'})
        return Response(table)


class CategoryController(Controller):
    path = "/api/streets/{street_id:int}/case-categories"
    tags = ["cases"]

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool, street_id: int) -> list[Category]:
        async with pool.acquire() as conn:
            return await cases.categories(conn, actor, street_id)

    @put("/")
    async def write(self, actor: Actor, pool: asyncpg.Pool, street_id: int, data: CategoryIn) -> list[Category]:
        """Add or change a category by name: its deadline in hours, or retire it (active false)."""
        async with pool.acquire() as conn:
            return await cases.set_category(conn, actor, street_id, name=data.name,
                                            deadline_hours=data.deadline_hours, active=data.active)


class PartnerController(Controller):
    path = "/api/partners"
    tags = ["partners"]

    @post("/", status_code=201)
    async def create(self, actor: Actor, pool: asyncpg.Pool, data: PartnerIn) -> Partner:
        """A street's or community's managers add a partner organisation (department, property company,
        work unit, merchant)."""
        async with pool.acquire() as conn:
            return await partners.create(conn, actor, kind=data.kind, name=data.name, parent_id=data.parent_id,
                                         unit_id=data.unit_id)

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool, parent_id: int | None = None) -> list[Partner]:
        """Without parent_id: the partners I work for. With it: a street's or community's partners."""
        async with pool.acquire() as conn:
            return await partners.list_partners(conn, actor, parent_id=parent_id)

    @post("/{partner_id:int}/invitations", status_code=201)
    async def invite(self, actor: Actor, pool: asyncpg.Pool, partner_id: int, data: StaffInviteIn) -> InviteOut:
        """Invite a phone to the partner's staff; the person accepts themself (a new phone claims its
        account by registering with the SMS code first)."""
        async with pool.acquire() as conn:
            invitation = await partners.invite(conn, actor, partner_id, phone=data.phone, name=data.name,
                                               role=data.role)
        return InviteOut(invitation=invitation, already_staff=invitation is None)


class PartnerInvitationController(Controller):
    path = "/api/partner-invitations"
    tags = ["partners"]

    @get("/")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> InvitationList:
        async with pool.acquire() as conn:
            return await partners.my_invitations(conn, actor)

    @post("/{invitation_id:int}/answer", status_code=200)
    async def answer(self, actor: Actor, pool: asyncpg.Pool, invitation_id: int, data: AnswerIn) -> PartnerInvitation:
        async with pool.acquire() as conn:
            return await partners.answer(conn, actor, invitation_id, accept=data.accept)


CONTROLLERS = (CaseController, CategoryController, PartnerController, PartnerInvitationController)  # api/capabilities.py

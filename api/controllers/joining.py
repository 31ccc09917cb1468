"""Joining a community: join codes and posters, join requests and their queue, the
auto-approve policy; bulk import of residents; residents without phones and their printed cards.
SMS codes for registration and password reset are in api/controllers/auth.py."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, QueryParameter

from api.deps import client_ip, current_session, page_args
from api.errors import lang as request_lang
from api.idempotent import respond
from domain import checkin
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid
from domain.core.texts import ReasonIn
from domain.people import imports, joining, orgs, residents

Lang = Literal["zh", "en"]
IMPORT_MAX_BODY = imports.MAX_BYTES + 64 * 1024
Short = Annotated[str, msgspec.Meta(max_length=32)]


class JoinIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    join_code: Short | None = None   # the community's join QR (/j/<code>)
    scan_code: Short | None = None   # or the activity code that was refused with not_member
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    community_id: int | None = None  # or a community found by searching
    building: Annotated[str, msgspec.Meta(max_length=50)] | None = None   # 楼栋
    unit_no: Annotated[str, msgspec.Meta(max_length=50)] | None = None    # 单元


class PolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    auto_approve: bool


class ImportForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: UploadFile
    file_sha256: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class ResidentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=50)]
    household: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    id_hint: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    grid_id: int | None = None


def _file(content: bytes | str, media_type: str, filename: str, disposition: str = "inline") -> Response:
    return Response(content, media_type=media_type, headers={
        "content-disposition": f'{disposition}; filename="{filename}"', "cache-control": "no-store"})


async def _optional_actor(request: Request, pool: asyncpg.Pool) -> Actor | None:
    try:
        session = await current_session(request, pool)
    except DomainError:
        return None
    async with pool.acquire() as conn:
        return await orgs.load_actor(conn, session.user_id)


async def _upload(data: ImportForm) -> tuple[bytes, str]:
    try:
        return await data.file.read(), data.file.filename or ""
    finally:
        await data.file.close()


class JoiningController(Controller):
    path = "/api"
    tags = ["joining"]

    @get("/join/{join_code:str}")
    async def preview(self, request: Request, join_code: str, pool: asyncpg.Pool) -> joining.JoinPreview:
        """What a community join QR is (login optional): the community, and the viewer's membership or request."""
        actor = await _optional_actor(request, pool)
        async with pool.acquire() as conn:
            return await joining.preview(conn, actor, join_code)

    @post("/join-requests", status_code=201)
    async def ask(self, request: Request, actor: Actor, data: JoinIn, pool: asyncpg.Pool) -> joining.JoinRequest:
        """Ask to join the community of a join code, or of the activity code refused with not_member
        (that check-in completes on approval). Asking again returns the waiting request."""
        return await joining.ask(pool, actor, complete_scan=checkin.complete_scan, join_code=data.join_code,
                                 scan_code=data.scan_code, community_id=data.community_id, nonce=data.nonce,
                                 building=data.building, unit_no=data.unit_no, ip=client_ip(request))

    @get("/communities/search")
    async def search(self, actor: Actor, pool: asyncpg.Pool,
                     q: Annotated[str, QueryParameter(min_length=1, max_length=100)]) -> list[joining.CommunityHit]:
        """Find one's community by its name, its street's or district's, or its address (every word typed)."""
        async with pool.acquire() as conn:
            return await joining.search(conn, q)

    @get("/join-requests/{join_request_id:int}")
    async def get_request(self, actor: Actor, join_request_id: int, pool: asyncpg.Pool) -> joining.JoinRequest:
        async with pool.acquire() as conn:
            return await joining.get(conn, actor, join_request_id)

    @post("/join-requests/{join_request_id:int}/approve", status_code=200)
    async def approve(self, request: Request, actor: Actor, join_request_id: int,
                      pool: asyncpg.Pool) -> joining.JoinRequest:
        async with pool.acquire() as conn:
            return await joining.approve(conn, actor, join_request_id, complete_scan=checkin.complete_scan,
                                         ip=client_ip(request))

    @post("/join-requests/{join_request_id:int}/reject", status_code=200)
    async def reject(self, request: Request, actor: Actor, join_request_id: int, data: ReasonIn,
                     pool: asyncpg.Pool) -> joining.JoinRequest:
        async with pool.acquire() as conn:
            return await joining.reject(conn, actor, join_request_id, data.reason, ip=client_ip(request))

    @get("/communities/{community_id:int}/join-requests")
    async def queue(self, actor: Actor, community_id: int, pool: asyncpg.Pool,
                    status: Literal["pending", "approved", "rejected"] = "pending", limit: int = 50,
                    cursor: str | None = None) -> joining.Queue:
        """`status`: pending (default, oldest first), approved or rejected; `pending` counts the queue."""
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await joining.queue(conn, actor, community_id, state=status, limit=limit, after=after)

    @get("/communities/{community_id:int}/join-policy")
    async def get_policy(self, actor: Actor, community_id: int, pool: asyncpg.Pool) -> joining.Policy:
        async with pool.acquire() as conn:
            return await joining.policy(conn, actor, community_id)

    @put("/communities/{community_id:int}/join-policy", responses={202: ResponseSpec(
        joining.Policy, generate_examples=False,
        description="Turning auto-approval on: held for another manager or a street manager (`held`)")})
    async def set_policy(self, request: Request, actor: Actor, community_id: int, data: PolicyIn,
                         pool: asyncpg.Pool) -> Response[joining.Policy]:
        """Off applies at once (200); on, by a manager of the community, waits for another manager or a
        street manager (202, `held: true`, `pending_id`)."""
        async with pool.acquire() as conn:
            policy = await joining.set_policy(conn, actor, community_id, data.auto_approve, ip=client_ip(request))
        return Response(policy, status_code=202 if policy.held else 200)

    @get("/communities/{community_id:int}/join-code")
    async def join_code(self, actor: Actor, community_id: int, pool: asyncpg.Pool) -> joining.JoinCode:
        async with pool.acquire() as conn:
            return await joining.join_code(conn, actor, community_id)

    @get("/communities/{community_id:int}/join-poster.svg", media_type="image/svg+xml")
    async def poster_svg(self, request: Request, actor: Actor, community_id: int, pool: asyncpg.Pool,
                         lang: Lang | None = None) -> Response[str]:
        async with pool.acquire() as conn:
            svg = await joining.poster(conn, actor, community_id, fmt="svg", lang=lang or request_lang(request))
        return _file(svg, "image/svg+xml", f"join-{community_id}.svg")

    @get("/communities/{community_id:int}/join-poster.png", media_type="image/png")
    async def poster_png(self, request: Request, actor: Actor, community_id: int, pool: asyncpg.Pool,
                         lang: Lang | None = None) -> Response[bytes]:
        async with pool.acquire() as conn:
            png = await joining.poster(conn, actor, community_id, fmt="png", lang=lang or request_lang(request))
        return _file(png, "image/png", f"join-{community_id}.png")


class ImportController(Controller):
    path = "/api/communities/{community_id:int}"
    tags = ["joining"]

    @get("/imports/template.csv", media_type="text/csv")
    async def template_csv(self, actor: Actor, community_id: int) -> Response[bytes]:
        orgs.require_manager(actor, community_id)
        return _file(imports.template_csv(), "text/csv; charset=utf-8", "residents-template.csv", "attachment")

    @get("/imports/template.xlsx",
         media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    async def template_xlsx(self, actor: Actor, community_id: int) -> Response[bytes]:
        orgs.require_manager(actor, community_id)
        return _file(imports.template_xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "residents-template.xlsx", "attachment")

    @post("/imports/dry-run", status_code=200, request_max_body_size=IMPORT_MAX_BODY)
    async def dry_run(self, actor: Actor, community_id: int, pool: asyncpg.Pool,
                      data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> imports.Report:
        """Multipart/form-data with `file` (.xlsx or .csv): every row classified; nothing changes."""
        orgs.require_manager(actor, community_id)
        content, filename = await _upload(data)
        async with pool.acquire() as conn:
            return await imports.check(conn, actor, community_id, content, filename)

    @post("/imports", status_code=200, request_max_body_size=IMPORT_MAX_BODY)
    async def commit(self, request: Request, actor: Actor, community_id: int, pool: asyncpg.Pool,
                     data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> imports.Report:
        """The same `file` again with the dry run's `file_sha256`: its valid rows, all or nothing.
        Importing the same file twice changes nothing."""
        orgs.require_manager(actor, community_id)
        content, filename = await _upload(data)
        if not data.file_sha256:
            raise invalid("file_sha256", "the hash the dry run reported")
        async with pool.acquire() as conn:
            return await imports.commit(conn, actor, community_id, content, data.file_sha256, filename,
                                        ip=client_ip(request))

    @post("/residents", status_code=201)
    async def create_resident(self, request: Request, actor: Actor, community_id: int,
                              data: ResidentIn) -> Response[residents.Resident]:
        """A member without a phone (elders without a smartphone), with a member card issued. Send an
        Idempotency-Key: a retried (double-tapped) request returns the same resident."""
        return await respond(request, actor, lambda conn: residents.create(
            conn, actor, community_id, name=data.name, household=data.household, id_hint=data.id_hint,
            grid_id=data.grid_id, ip=client_ip(request)), status=201)

    @get("/residents")
    async def phoneless(self, actor: Actor, community_id: int, pool: asyncpg.Pool) -> list[residents.Resident]:
        """Members without a phone."""
        async with pool.acquire() as conn:
            return await residents.list_phoneless(conn, actor, community_id)

    @get("/member-cards.pdf", media_type="application/pdf")
    async def cards_pdf(self, request: Request, actor: Actor, community_id: int, pool: asyncpg.Pool,
                        user_ids: str) -> Response[bytes]:
        """A4 sheets of 10 member cards for `user_ids` (comma-separated members of this community).
        Members without a card get one; the print is audited (cards_print) and the header
        X-Cards-Issued says how many new cards it made."""
        parts = [p.strip() for p in user_ids.split(",") if p.strip()]
        if not parts or any(not (p.isascii() and p.isdigit()) or len(p) > 18 for p in parts):
            raise invalid("user_ids", "comma-separated member ids")
        async with pool.acquire() as conn:
            printed = await residents.cards_pdf(conn, actor, community_id, [int(p) for p in parts],
                                                ip=client_ip(request))
        response = _file(printed.pdf, "application/pdf", f"member-cards-{community_id}.pdf")
        response.headers["x-cards-issued"] = str(len(printed.issued))
        return response

    @post("/members/{user_id:int}/card", status_code=200)
    async def reissue_card(self, request: Request, actor: Actor, community_id: int,
                           user_id: int) -> Response[residents.CardOut]:
        """A new card for a member who lost theirs: the old code stops working. Send an Idempotency-Key:
        a retried request returns the same new card instead of revoking it."""
        return await respond(request, actor, lambda conn: residents.reissue_card(
            conn, actor, community_id, user_id, ip=client_ip(request)))


CONTROLLERS = (JoiningController, ImportController)  # listed in api/capabilities.py

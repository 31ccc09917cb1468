"""A city loads itself: the city's lists (org tree, managers, work units, party members)
as dry run then commit, their templates, and roles by consent (invitations by phone)."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from api.deps import client_ip
from domain.core.actor import Actor
from domain.core.errors import invalid
from domain.people import city, invites

MAX_BODY = city.MAX_BYTES + 64 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CityImportForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: UploadFile
    file_sha256: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class RoleInviteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["manager", "unit_admin", "micro_leader", "micro_worker"]
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    org_id: int | None = None
    unit_id: int | None = None
    micro_grid_id: int | None = None


async def _upload(data: CityImportForm) -> tuple[bytes, str]:
    try:
        return await data.file.read(), data.file.filename or ""
    finally:
        await data.file.close()


class CityImportController(Controller):
    path = "/api/city-imports/{kind:str}"
    tags = ["city"]

    @get("/template", media_type=XLSX)
    async def template(self, actor: Actor, kind: str, format: Literal["xlsx", "csv"] = "xlsx") -> Response[bytes]:
        """The list's template (a header and an example row), .xlsx or .csv."""
        content = city.template(kind, format)
        media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
        return Response(content, media_type=media, headers={
            "content-disposition": f'attachment; filename="city-{kind}-template.{format}"', "cache-control": "no-store"})

    @post("/dry-run", status_code=200, request_max_body_size=MAX_BODY)
    async def dry_run(self, actor: Actor, kind: str, pool: asyncpg.Pool,
                      data: Annotated[CityImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> city.Report:
        """Multipart/form-data with `file` (.xlsx or .csv): every row classified by its row number;
        nothing changes. Tree: admins; the other lists: admins, street and district managers."""
        content, filename = await _upload(data)
        async with pool.acquire() as conn:
            return await city.check(conn, actor, kind, content, filename)

    @post("/", status_code=200, request_max_body_size=MAX_BODY)
    async def commit(self, request: Request, actor: Actor, kind: str, pool: asyncpg.Pool,
                     data: Annotated[CityImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> city.Report:
        """The same `file` with the dry run's `file_sha256`: its valid rows, all or nothing; each person
        named is invited and holds the role once they accept. The same file again changes nothing."""
        content, filename = await _upload(data)
        if not data.file_sha256:
            raise invalid("file_sha256", "the hash the dry run reported")
        async with pool.acquire() as conn:
            return await city.commit(conn, actor, kind, content, data.file_sha256, filename, ip=client_ip(request))


class RoleInviteController(Controller):
    path = "/api"
    tags = ["city"]

    @post("/role-invites", status_code=201)
    async def create(self, request: Request, actor: Actor, pool: asyncpg.Pool, data: RoleInviteIn) -> invites.RoleInvite:
        """Name a person by phone for a role: a level's manager (admins; managers of a level above),
        a unit's administrator (its street's or district's managers), a 微网格's 邻里长 or 微网格员
        (the community's managers, a resident of it). The role is theirs when they accept."""
        async with pool.acquire() as conn:
            return await invites.invite(conn, actor, kind=data.kind, phone=data.phone, name=data.name,
                                        org_id=data.org_id, unit_id=data.unit_id, micro_grid_id=data.micro_grid_id,
                                        ip=client_ip(request))

    @get("/role-invites")
    async def list_sent(self, actor: Actor, pool: asyncpg.Pool, org_id: int | None = None,
                        unit_id: int | None = None, level_id: int | None = None) -> list[invites.RoleInvite]:
        """The invitations for one level's managers (org_id), one unit's administrators (unit_id), or
        the administrators of every unit under a street or district (level_id)."""
        async with pool.acquire() as conn:
            return await invites.sent(conn, actor, org_id=org_id, unit_id=unit_id, level_id=level_id)

    @get("/me/role-invites")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> list[invites.RoleInvite]:
        async with pool.acquire() as conn:
            return await invites.mine(conn, actor)

    @post("/me/role-invites/{invite_id:int}/accept", status_code=200)
    async def accept(self, request: Request, actor: Actor, pool: asyncpg.Pool, invite_id: int) -> invites.RoleInvite:
        async with pool.acquire() as conn:
            return await invites.answer(conn, actor, invite_id, accept=True, ip=client_ip(request))

    @post("/me/role-invites/{invite_id:int}/decline", status_code=200)
    async def decline(self, request: Request, actor: Actor, pool: asyncpg.Pool, invite_id: int) -> invites.RoleInvite:
        async with pool.acquire() as conn:
            return await invites.answer(conn, actor, invite_id, accept=False, ip=client_ip(request))


CONTROLLERS = (CityImportController, RoleInviteController)

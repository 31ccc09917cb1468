"""The manager and admin console: members, invitations, grids, (de)activation, people search,
the audit log, the organisation tree and the pending-queue summary. (Org rename/move, PATCH
/api/orgs/{id}, sits in api/controllers/orgs.py: Litestar allows one controller per path.)"""

from collections.abc import AsyncIterator
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter, QueryParameter
from litestar.response import Stream

from api.deps import client_ip, page_args
from domain.core import audit
from domain.core.actor import Actor
from domain.core.texts import ReasonIn
from domain.people import console, members


class InviteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(max_length=20)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    role: Literal["volunteer", "courier"]
    grid_id: int | None = None


class GridIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grid_id: int


class PeopleSearchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    limit: int = 20
    cursor: str | None = None


class Done(msgspec.Struct):
    ok: bool = True


class MembersController(Controller):
    path = "/api"
    tags = ["console"]

    @get("/communities/{community_id:int}/members")
    async def list_members(self, request: Request, actor: Actor, pool: asyncpg.Pool, community_id: int,
                           role: Literal["volunteer", "courier"] | None = None,
                           q: Annotated[str | None, Parameter(max_length=50)] = None,
                           limit: int = 50, cursor: str | None = None) -> members.MemberPage:
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await members.list_members(conn, actor, community_id, role=role, q=q, limit=limit, after=after,
                                              ip=client_ip(request))

    @get("/communities/{community_id:int}/members.csv", media_type="text/csv")
    async def members_csv(self, request: Request, actor: Actor, pool: asyncpg.Pool, community_id: int) -> Stream:
        """Every member, streamed page by page; a refusal comes before the first byte."""
        ip = client_ip(request)

        async def page(after: int) -> tuple[bytes, int | None]:
            async with pool.acquire() as conn:
                return await members.members_csv_page(conn, actor, community_id, after=after, ip=ip)

        return Stream(_pages(await page(0), page), media_type="text/csv", headers={
            "content-disposition": f'attachment; filename="members-{community_id}.csv"',
            "cache-control": "no-store"})

    @post("/communities/{community_id:int}/invitations", status_code=201)
    async def invite(self, request: Request, actor: Actor, pool: asyncpg.Pool, community_id: int,
                     data: InviteIn) -> members.Invited:
        async with pool.acquire() as conn:
            return await members.invite(conn, actor, community_id, phone=data.phone, name=data.name, role=data.role,
                                        grid_id=data.grid_id, ip=client_ip(request))

    @get("/members/{user_id:int}")
    async def member(self, request: Request, actor: Actor, pool: asyncpg.Pool, user_id: int) -> members.MemberDetail:
        """Shows the full phone to a manager of the person's community; each such look is audited (phone_view)."""
        async with pool.acquire() as conn:
            return await members.detail(conn, actor, user_id, ip=client_ip(request))

    @post("/members/{user_id:int}/grid", status_code=200)
    async def assign_grid(self, request: Request, actor: Actor, pool: asyncpg.Pool, user_id: int,
                          data: GridIn) -> members.Member:
        async with pool.acquire() as conn:
            return await members.assign_grid(conn, actor, user_id, data.grid_id, ip=client_ip(request))

    @post("/members/{user_id:int}/deactivate", status_code=200)
    async def deactivate(self, request: Request, actor: Actor, pool: asyncpg.Pool, user_id: int,
                         data: ReasonIn) -> Done:
        async with pool.acquire() as conn:
            await members.deactivate(conn, actor, user_id, reason=data.reason, ip=client_ip(request))
        return Done()

    @post("/members/{user_id:int}/reactivate", status_code=200)
    async def reactivate(self, request: Request, actor: Actor, pool: asyncpg.Pool, user_id: int,
                         data: ReasonIn) -> Done:
        async with pool.acquire() as conn:
            await members.reactivate(conn, actor, user_id, reason=data.reason, ip=client_ip(request))
        return Done()

    @post("/people/search", status_code=200)
    async def search_people(self, request: Request, actor: Actor, pool: asyncpg.Pool,
                            data: PeopleSearchIn) -> members.PeoplePage:
        """A POST, so a searched phone number travels in the body and never lands in a proxy's access log."""
        limit, after = page_args(data.limit, data.cursor)
        async with pool.acquire() as conn:
            return await members.search_people(conn, actor, data.q, limit=limit, after=after, ip=client_ip(request))


async def _pages(first: tuple[bytes, int | None], page) -> AsyncIterator[bytes]:
    """A CSV export's body: the first page (read before the response starts, so a refusal is a JSON
    error), then each next page, one pool connection at a time (a slow reader holds none between pages)."""
    body, cursor = first
    yield body
    while cursor is not None:
        body, cursor = await page(cursor)
        yield body


class AuditController(Controller):
    path = "/api/audit"
    tags = ["console"]

    @get("/")
    async def entries(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                      actor_id: int | None = None, act: str | None = None, target_type: str | None = None,
                      target_id: int | None = None,
                      date_from: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
                      date_to: Annotated[str | None, QueryParameter(name="to", max_length=40)] = None,
                      limit: int = 50, cursor: str | None = None) -> audit.EntryPage:
        limit, before = page_args(limit, cursor)
        since = audit.parse_bound(date_from, "from", end=False)
        until = audit.parse_bound(date_to, "to", end=True)
        async with pool.acquire() as conn:
            return await audit.entries(conn, actor, community_id=community_id, actor_id=actor_id, act=act,
                                       target_type=target_type, target_id=target_id, since=since, until=until,
                                       limit=limit, before_id=before)


class AuditCsvController(Controller):
    path = "/api/audit.csv"
    tags = ["console"]

    @get("/", media_type="text/csv")
    async def export(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                     actor_id: int | None = None, act: str | None = None, target_type: str | None = None,
                     target_id: int | None = None,
                     date_from: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
                     date_to: Annotated[str | None, QueryParameter(name="to", max_length=40)] = None
                     ) -> Stream:
        """The audit log with the filters of GET /api/audit, every row (newest first), streamed page by
        page without a cap: UTF-8 with BOM, Chinese header. A manager gets the rows of their
        communities only, like the list."""
        since = audit.parse_bound(date_from, "from", end=False)
        until = audit.parse_bound(date_to, "to", end=True)

        async def page(before_id: int) -> tuple[bytes, int | None]:
            async with pool.acquire() as conn:
                return await audit.csv_page(conn, actor, before_id=before_id, community_id=community_id,
                                            actor_id=actor_id, act=act, target_type=target_type, target_id=target_id,
                                            since=since, until=until)

        return Stream(_pages(await page(0), page), media_type="text/csv", headers={
            "content-disposition": 'attachment; filename="audit.csv"', "cache-control": "no-store"})


class ConsoleController(Controller):
    path = "/api/console"
    tags = ["console"]

    @get("/summary")
    async def summary(self, actor: Actor, pool: asyncpg.Pool) -> console.Summary:
        async with pool.acquire() as conn:
            return await console.summary(conn, actor)

    @get("/tree")
    async def tree(self, actor: Actor, pool: asyncpg.Pool) -> console.Tree:
        async with pool.acquire() as conn:
            return await console.tree(conn, actor)


class InvitationController(Controller):
    """The invited person's side of an invitation (membership is by consent)."""
    path = "/api/me/invitations"
    tags = ["console"]

    @get("/")
    async def mine(self, actor: Actor, pool: asyncpg.Pool) -> members.Invitations:
        async with pool.acquire() as conn:
            return await members.my_invitations(conn, actor)

    @post("/{invitation_id:int}/accept", status_code=200)
    async def accept(self, request: Request, actor: Actor, pool: asyncpg.Pool, invitation_id: int) -> members.Invitation:
        async with pool.acquire() as conn:
            return await members.answer_invitation(conn, actor, invitation_id, accept=True, ip=client_ip(request))

    @post("/{invitation_id:int}/decline", status_code=200)
    async def decline(self, request: Request, actor: Actor, pool: asyncpg.Pool,
                      invitation_id: int) -> members.Invitation:
        async with pool.acquire() as conn:
            return await members.answer_invitation(conn, actor, invitation_id, accept=False, ip=client_ip(request))


CONTROLLERS = (MembersController, AuditController, AuditCsvController, ConsoleController, InvitationController)  # listed in api/capabilities.py

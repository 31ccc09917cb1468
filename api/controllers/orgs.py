"""The organisation tree, managers, members and teams."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, delete, get, patch, post

from api.deps import client_ip, page_args
from domain.core.actor import Actor
from domain.core.errors import forbidden
from domain.people import console, invites, orgs
from domain.people.orgs import Org, Team

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class OrgIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["district", "street", "community", "grid"]
    name: Name
    parent_id: int | None = None


class OrgEditIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    parent_id: int | None = None


class UserRef(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int


class ManagerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class MemberIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: int
    role: Literal["volunteer", "courier"]


class TeamIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    community_id: int


class OrgPage(msgspec.Struct):
    items: list[Org]
    next_cursor: str | None


class Done(msgspec.Struct):
    ok: bool = True


class OrgController(Controller):
    path = "/api/orgs"
    tags = ["orgs"]

    @post("/", status_code=201)
    async def create(self, request: Request, actor: Actor, data: OrgIn, pool: asyncpg.Pool) -> Org:
        async with pool.acquire() as conn:
            return await orgs.create_org(conn, actor, kind=data.kind, name=data.name, parent_id=data.parent_id,
                                         ip=client_ip(request))

    @get("/")
    async def list(self, actor: Actor, pool: asyncpg.Pool, parent_id: int | None = None, limit: int = 50,
                   cursor: str | None = None) -> OrgPage:
        limit, after = page_args(limit, cursor)
        async with pool.acquire() as conn:
            rows = await orgs.list_orgs(conn, actor, parent_id, limit + 1, after)
        items = rows[:limit]
        return OrgPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)

    @get("/{org_id:int}")
    async def get(self, actor: Actor, org_id: int, pool: asyncpg.Pool) -> Org:
        async with pool.acquire() as conn:
            org = await orgs.get_org(conn, org_id)
            if not await orgs.can_read(conn, actor, org):
                raise forbidden("not your community")
        return org

    @patch("/{org_id:int}")
    async def edit(self, request: Request, actor: Actor, org_id: int, data: OrgEditIn, pool: asyncpg.Pool) -> Org:
        """Rename, or move a street or community (admin); see domain/console.py."""
        async with pool.acquire() as conn:
            return await console.edit_org(conn, actor, org_id, name=data.name, parent_id=data.parent_id,
                                          ip=client_ip(request))

    @post("/{org_id:int}/managers", status_code=201)
    async def appoint(self, request: Request, actor: Actor, org_id: int, data: ManagerIn,
                      pool: asyncpg.Pool) -> invites.RoleInvite:
        """Name a manager of a community, street or district by phone (admins; managers of a level
        above it). Nobody is made a manager without consent: the person accepts the invitation
        (POST /api/me/role-invites/{id}/accept) and manages from then on."""
        async with pool.acquire() as conn:
            return await invites.invite(conn, actor, kind="manager", phone=data.phone, name=data.name, org_id=org_id,
                                        ip=client_ip(request))

    @delete("/{org_id:int}/managers/{user_id:int}", status_code=204)
    async def dismiss(self, request: Request, actor: Actor, org_id: int, user_id: int, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await orgs.remove_manager(conn, actor, org_id, user_id, ip=client_ip(request))

    @post("/{org_id:int}/members", status_code=201)
    async def add_member(self, request: Request, actor: Actor, org_id: int, data: MemberIn,
                         pool: asyncpg.Pool) -> Done:
        async with pool.acquire() as conn:
            await orgs.add_member(conn, actor, org_id, data.user_id, data.role, ip=client_ip(request))
        return Done()


class TeamController(Controller):
    path = "/api/teams"
    tags = ["orgs"]

    @post("/", status_code=201)
    async def create(self, request: Request, actor: Actor, data: TeamIn, pool: asyncpg.Pool) -> Team:
        async with pool.acquire() as conn:
            return await orgs.create_team(conn, actor, data.name, data.community_id, ip=client_ip(request))

    @post("/{team_id:int}/members", status_code=201)
    async def add_member(self, request: Request, actor: Actor, team_id: int, data: UserRef,
                         pool: asyncpg.Pool) -> Done:
        async with pool.acquire() as conn:
            await orgs.add_team_member(conn, actor, team_id, data.user_id, ip=client_ip(request))
        return Done()


CONTROLLERS = (OrgController, TeamController,)  # listed in api/capabilities.py

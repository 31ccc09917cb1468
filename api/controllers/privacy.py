"""A person's own data: download all of it, or close the account (PIPL)."""

from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post

from api.deps import CSRF_COOKIE, SESSION_COOKIE, client_ip
from domain.core.actor import Actor
from domain.people import privacy
from domain.recognition import rulebook


class CloseIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(max_length=128)]


class PrivacyController(Controller):
    path = "/api/me"
    tags = ["me"]

    @get("/export")
    async def export(self, actor: Actor, pool: asyncpg.Pool) -> Response[dict[str, Any]]:
        async with pool.acquire() as conn:
            data = await privacy.export(conn, actor.id, rules_of=rulebook.rules_of)
        return Response(data, headers={
            "content-disposition": f'attachment; filename="linli-my-data-{actor.id}.json"',
            "cache-control": "no-store"})

    @post("/close", status_code=204)
    async def close(self, request: Request, actor: Actor, data: CloseIn, pool: asyncpg.Pool) -> Response[None]:
        async with pool.acquire() as conn:
            await privacy.close_account(conn, actor.id, data.password, ip=client_ip(request))
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return response


CONTROLLERS = (PrivacyController,)  # listed in api/capabilities.py

"""The signed-in person's messages (消息): inbox, unread count, read marks, channel choices."""

import asyncpg
import msgspec
from litestar import Controller, Request, get, post, put

from api.deps import page_args
from api.errors import lang
from domain import notify
from domain.core.actor import Actor


class UnreadCount(msgspec.Struct):
    unread: int


class MarkedRead(msgspec.Struct):
    marked: int


class ChannelsIn(msgspec.Struct, forbid_unknown_fields=True):
    channels: list[str]


class MessagesController(Controller):
    path = "/api/me/messages"
    tags = ["messages"]

    @get("/")
    async def inbox(self, request: Request, actor: Actor, pool: asyncpg.Pool, limit: int = 20,
                    cursor: str | None = None) -> notify.Inbox:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await notify.inbox(conn, actor.id, lang=lang(request), limit=limit, before=before or None)

    @get("/unread")
    async def unread(self, actor: Actor, pool: asyncpg.Pool) -> UnreadCount:
        async with pool.acquire() as conn:
            return UnreadCount(await notify.unread_count(conn, actor.id))

    @post("/{message_id:int}/read", status_code=204)
    async def mark_read(self, actor: Actor, pool: asyncpg.Pool, message_id: int) -> None:
        async with pool.acquire() as conn:
            await notify.mark_read(conn, actor.id, message_id)

    @post("/read-all", status_code=200)
    async def mark_all_read(self, actor: Actor, pool: asyncpg.Pool) -> MarkedRead:
        async with pool.acquire() as conn:
            return MarkedRead(await notify.mark_all_read(conn, actor.id))

    @get("/settings")
    async def preferences(self, request: Request, actor: Actor, pool: asyncpg.Pool) -> notify.Preferences:
        async with pool.acquire() as conn:
            return await notify.preferences(conn, actor.id, lang=lang(request))

    @put("/settings/{kind:str}")
    async def set_preference(self, request: Request, actor: Actor, pool: asyncpg.Pool, kind: str,
                             data: ChannelsIn) -> notify.Preferences:
        async with pool.acquire() as conn:
            await notify.set_preference(conn, actor.id, kind, data.channels)
            return await notify.preferences(conn, actor.id, lang=lang(request))



CONTROLLERS = (MessagesController,)  # listed in api/capabilities.py

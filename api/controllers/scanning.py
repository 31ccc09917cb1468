"""Paired kiosk screens (a device token that shows one activity's rotating code and count)
and the review list of flagged scans (annul, dismiss or credit, each audited)."""

from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.openapi import ResponseSpec

from api.deps import client_ip
from api.errors import lang as request_lang
from domain.checkin import kiosk, review
from domain.checkin.activities import RotatingCode
from domain.core.actor import Actor
from domain.core.texts import Reason

KIOSK_HEADER = "x-kiosk-token"


class PairIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class ResolveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: Literal["annul", "dismiss", "credit"]
    reason: Reason


class DeviceList(msgspec.Struct):
    items: list[kiosk.Device]


class KioskManagerController(Controller):
    path = "/api/activities/{activity_id:int}"
    tags = ["activities"]

    @post("/kiosks", status_code=201)
    async def start_pairing(self, request: Request, actor: Actor, activity_id: int,
                            pool: asyncpg.Pool) -> kiosk.Pairing:
        """A one-time pairing code for a venue screen (typed at /kiosk/pair)."""
        async with pool.acquire() as conn:
            return await kiosk.start_pairing(conn, actor, activity_id, ip=client_ip(request))

    @get("/kiosks")
    async def list_kiosks(self, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> DeviceList:
        async with pool.acquire() as conn:
            return DeviceList(await kiosk.devices(conn, actor, activity_id))

    @get("/flags")
    async def list_flags(self, request: Request, actor: Actor, activity_id: int, pool: asyncpg.Pool,
                         open_only: bool = False) -> review.FlagList:
        """Flagged scans of the activity with the reason in words, open ones first."""
        async with pool.acquire() as conn:
            return await review.list_flags(conn, actor, activity_id, lang=request_lang(request), open_only=open_only)


class KioskDeviceController(Controller):
    path = "/api/kiosks"
    tags = ["activities"]

    @post("/{kiosk_id:int}/revoke", status_code=200)
    async def revoke(self, request: Request, actor: Actor, kiosk_id: int, pool: asyncpg.Pool) -> kiosk.Device:
        async with pool.acquire() as conn:
            return await kiosk.revoke(conn, actor, kiosk_id, ip=client_ip(request))


class KioskScreenController(Controller):
    """What a paired screen calls: no session, only its device token (header X-Kiosk-Token)."""
    path = "/api/kiosk"
    tags = ["activities"]

    @post("/pair", status_code=200)
    async def pair(self, request: Request, data: PairIn, pool: asyncpg.Pool) -> kiosk.Paired:
        return await kiosk.pair(pool, data.code, ip=client_ip(request))

    @get("/code", responses={401: ResponseSpec(dict[str, Any], generate_examples=False,
                                               description="No kiosk token, or one revoked (X-Kiosk-Token)")})
    async def code(self, request: Request, pool: asyncpg.Pool) -> RotatingCode:
        return await kiosk.screen_code(pool, request.headers.get(KIOSK_HEADER))


class ScanFlagController(Controller):
    path = "/api/scan-flags"
    tags = ["activities"]

    @post("/{flag_id:int}/resolve", status_code=200)
    async def resolve(self, request: Request, actor: Actor, flag_id: int, data: ResolveIn,
                      pool: asyncpg.Pool) -> review.Flag:
        """Annul (the check-in's credits reversed), dismiss, or credit (an automatic check-out's rest)."""
        async with pool.acquire() as conn:
            return await review.resolve(conn, actor, flag_id, data.action, data.reason, ip=client_ip(request),
                                       lang=request_lang(request))


CONTROLLERS = (KioskManagerController, KioskDeviceController, KioskScreenController,
               ScanFlagController)  # listed in api/capabilities.py

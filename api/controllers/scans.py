"""POST /api/scans: whatever QR a person scanned, act on it; GET shows what a code is first."""

from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, get, post

from api.deps import actor_on, client_ip, current_session
from domain.checkin import scans
from domain.core.errors import DomainError
from domain.people import orgs


class ScanIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lng: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    # the device's time of a scan queued offline; "check_out" confirms a check-out; the
    # page's random device id (fraud signals)
    scanned_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    intent: Literal["check_out"] | None = None
    device: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class ScanController(Controller):
    path = "/api/scans"
    tags = ["scans"]

    @post("/", status_code=200, opt={"login": True})  # the session is read below (api/openapi_errors.py)
    async def scan(self, request: Request, data: ScanIn, pool: asyncpg.Pool) -> scans.ScanResult:
        """429 rate_limited beyond LINLI_SCAN_RATE_PER_MINUTE per person or LINLI_SCAN_RATE_PER_IP_MINUTE
        per address (see domain/scans.py). 401 without a live session."""
        ip = client_ip(request)
        context = scans.ScanContext(data.nonce, data.lat, data.lng, scanned_at=data.scanned_at, intent=data.intent,
                                    device=data.device, ip=ip)
        # One connection for the whole scan: the session, the limits, the read and the write.
        # Taking one for the session and another for the scan let a request that just gave one back
        # take the next before the requests already waiting (asyncpg's queue lets it), which was the
        # long tail of a burst.
        async with pool.acquire() as conn:
            actor = await actor_on(request, conn)
            return await scans.scan(conn, actor, data.code, context, ip=ip)

    @get("/{code:str}")
    async def preview(self, request: Request, code: str, pool: asyncpg.Pool) -> scans.Preview:
        """What a code is (activity title, voucher ...), for the page before it acts; login optional."""
        actor = None
        try:
            session = await current_session(request, pool)
            async with pool.acquire() as conn:
                actor = await orgs.load_actor(conn, session.user_id)
        except DomainError:  # a preview works logged out too
            actor = None
        return await scans.preview(pool, actor, code, ip=client_ip(request))


CONTROLLERS = (ScanController,)  # listed in api/capabilities.py

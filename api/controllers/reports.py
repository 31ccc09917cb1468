"""Courier reports: file (multipart with a photo), list, photo, verify, reject; the courier's summary;
per-community report settings."""

from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter

from api.deps import page_args
from api.idempotent import respond
from domain import reports
from domain.core.actor import Actor
from domain.core.texts import ReasonIn
from domain.reports import CourierSummary, Report, ReportPage, ReportSettings

# The photo may be up to 10 MB (domain/photos.py); the form around it adds a little. Larger bodies
# are cut off while streaming with 413, before anything is decoded or stored.
REPORT_MAX_BODY = 11 * 1024 * 1024


class ReportForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["civility", "hazard", "service"]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    place: Annotated[str, msgspec.Meta(max_length=200)] = ""
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lng: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    grid_id: int | None = None
    photo: UploadFile | None = None


Points = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class SettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Null puts the default back."""
    civility_points: Points | None = None
    hazard_points: Points | None = None
    service_points: Points | None = None
    daily_cap: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    case_bonus_points: Points | None = None   # the grid loop: a reporter's bonus for a case closed in time
    handler_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] | None = None  # a work unit handler's minutes


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @post("/", status_code=201, request_max_body_size=REPORT_MAX_BODY)
    async def file(self, request: Request, actor: Actor, pool: asyncpg.Pool,
                   data: Annotated[ReportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response[Report]:
        """File a report (multipart/form-data). Send an Idempotency-Key: a retried upload returns the
        first report (201 again, with header Idempotent-Replayed: true) and files nothing."""
        try:
            photo = await data.photo.read() if data.photo else None
        finally:
            if data.photo:
                await data.photo.close()
        new = reports.NewReport(kind=data.kind, text=data.text, place=data.place, lat=data.lat, lng=data.lng,
                                grid_id=data.grid_id)
        report, created = await reports.file_report(pool, actor.id, new, photo,
                                                    request.headers.get("idempotency-key"))
        return Response(report, status_code=201, headers={"Idempotent-Replayed": "true"} if not created else {})

    @get("/")
    async def index(self, actor: Actor, pool: asyncpg.Pool,
                    state_filter: Annotated[str | None, QueryParameter(name="state")] = None, grid_id: int | None = None,
                   community_id: int | None = None, courier_id: int | None = None, mine: bool = False,
                   limit: int = 20, cursor: str | None = None) -> ReportPage:
        """Mine=true: my reports. Otherwise the review queue of the communities I manage (newest first)."""
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await reports.list_reports(conn, actor, state=state_filter, grid_id=grid_id, community_id=community_id,
                                              courier_id=courier_id, mine=mine, limit=limit, before=before)

    @get("/{report_id:int}")
    async def show(self, actor: Actor, pool: asyncpg.Pool, report_id: int) -> Report:
        async with pool.acquire() as conn:
            return await reports.get_report(conn, actor, report_id)

    @get("/{report_id:int}/photo", media_type="image/jpeg")
    async def photo(self, actor: Actor, pool: asyncpg.Pool, report_id: int) -> Response[bytes]:
        async with pool.acquire() as conn:
            jpeg = await reports.photo(conn, actor, report_id)
        # A stored photo never changes; private because it is only for the courier and managers.
        return Response(jpeg, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=604800, immutable"})

    @post("/{report_id:int}/verify", status_code=200)
    async def verify(self, request: Request, actor: Actor, report_id: int) -> Response[Report]:
        return await respond(request, actor, lambda conn: reports.verify(conn, actor, report_id))

    @post("/{report_id:int}/reject", status_code=200)
    async def reject(self, request: Request, actor: Actor, report_id: int, data: ReasonIn) -> Response[Report]:
        return await respond(request, actor, lambda conn: reports.reject(conn, actor, report_id, data.reason))


class CourierController(Controller):
    path = "/api/couriers"
    tags = ["reports"]

    @get("/me")
    async def me(self, actor: Actor, pool: asyncpg.Pool) -> CourierSummary:
        """My points, this quarter's rank in my grid, today's points against the cap, my last reports."""
        async with pool.acquire() as conn:
            return await reports.courier_summary(conn, actor)


class ReportSettingsController(Controller):
    path = "/api/communities/{community_id:int}/report-settings"
    tags = ["reports"]

    @get("/")
    async def read(self, actor: Actor, pool: asyncpg.Pool, community_id: int) -> ReportSettings:
        async with pool.acquire() as conn:
            return await reports.get_settings(conn, actor, community_id)

    @put("/")
    async def write(self, actor: Actor, pool: asyncpg.Pool, community_id: int, data: SettingsIn) -> ReportSettings:
        async with pool.acquire() as conn:
            return await reports.update_settings(
                conn, actor, community_id, daily_cap=data.daily_cap,
                points={"civility": data.civility_points, "hazard": data.hazard_points,
                        "service": data.service_points},
                case_bonus_points=data.case_bonus_points, handler_minutes=data.handler_minutes)


CONTROLLERS = (ReportController, CourierController, ReportSettingsController,)  # listed in api/capabilities.py

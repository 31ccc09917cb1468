"""Activities and QR check-in: CRUD, publish/close, posters, the rotating screen code, station scans,
attendance (JSON and CSV), annulment, manual marks, refused scans, and the member card."""

from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from api.deps import client_ip, page_args
from api.errors import lang as request_lang
from api.idempotent import respond
from domain import checkin
from domain.checkin import Attendance, MarkResult, activities, attendance
from domain.checkin.activities import Activity, ActivityPage, RotatingCode
from domain.core import codes, qr
from domain.core.actor import Actor
from domain.core.texts import Reason, ReasonIn

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
Place = Annotated[str, msgspec.Meta(max_length=200)]
When = Annotated[datetime, msgspec.Meta(tz=True)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lng = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Radius = Annotated[int, msgspec.Meta(ge=10, le=50000)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=100000)]
Points = Annotated[int, msgspec.Meta(ge=0, le=10000)]
MaxMinutes = Annotated[int, msgspec.Meta(ge=1, le=20160)]
DailyCap = Annotated[int, msgspec.Meta(ge=0, le=100000)]
Rotation = Annotated[int, msgspec.Meta(ge=2, le=300)]
Lang = Literal["zh", "en"]


class ActivityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    community_id: int
    title: Title
    description: Description = ""
    place: Place = ""
    lat: Lat | None = None
    lng: Lng | None = None
    radius_m: Radius | None = None
    starts_at: When
    ends_at: When
    capacity: Capacity | None = None
    points: Points = 0
    points_per_hour: Points = 0
    max_minutes: MaxMinutes | None = None
    daily_points_cap: DailyCap | None = None      # default: LINLI_DAILY_CHECKIN_POINTS_CAP or 200
    rotation_seconds: Rotation | None = None      # default: LINLI_ROTATION_SECONDS or 30
    rotating_only: bool = False                   # refuse poster codes (only the kiosk's code)
    one_step_checkout: bool = False               # station and kiosk scans check out without asking
    rule_item_id: int | None = None               # the rulebook item it earns by (sets its points)


class ActivityPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; null clears an optional one."""
    title: Title | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    place: Place | msgspec.UnsetType = msgspec.UNSET
    lat: Lat | None | msgspec.UnsetType = msgspec.UNSET
    lng: Lng | None | msgspec.UnsetType = msgspec.UNSET
    radius_m: Radius | None | msgspec.UnsetType = msgspec.UNSET
    starts_at: When | msgspec.UnsetType = msgspec.UNSET
    ends_at: When | msgspec.UnsetType = msgspec.UNSET
    capacity: Capacity | None | msgspec.UnsetType = msgspec.UNSET
    points: Points | msgspec.UnsetType = msgspec.UNSET
    points_per_hour: Points | msgspec.UnsetType = msgspec.UNSET
    max_minutes: MaxMinutes | None | msgspec.UnsetType = msgspec.UNSET
    daily_points_cap: DailyCap | msgspec.UnsetType = msgspec.UNSET
    rotation_seconds: Rotation | msgspec.UnsetType = msgspec.UNSET
    rotating_only: bool | msgspec.UnsetType = msgspec.UNSET
    one_step_checkout: bool | msgspec.UnsetType = msgspec.UNSET


class StationScanIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]  # the code, or the URL its QR holds
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # the device's time of a scan queued offline; "check_out" confirms a check-out
    scanned_at: When | None = None
    intent: Literal["check_out"] | None = None


class MarkIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_ids: Annotated[list[int], msgspec.Meta(min_length=1, max_length=200)]
    reason: Reason
    minutes: Annotated[int, msgspec.Meta(ge=0, le=20160)]


class MemberList(msgspec.Struct):
    items: list[attendance.MemberRef]


class CardOut(msgspec.Struct):
    code: str
    url: str
    svg: str


def _file(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type, headers={
        "content-disposition": f'inline; filename="{filename}"', "cache-control": "no-store"})


class ActivityController(Controller):
    path = "/api/activities"
    tags = ["activities"]

    @post("/", status_code=201)
    async def create_activity(self, request: Request, actor: Actor, data: ActivityIn, pool: asyncpg.Pool) -> Activity:
        fields = msgspec.structs.asdict(data)
        async with pool.acquire() as conn:
            return await activities.create(conn, actor, ip=client_ip(request), **fields)

    @get("/")
    async def list_activities(self, actor: Actor, pool: asyncpg.Pool, community_id: int | None = None,
                              from_: Annotated[When | None, QueryParameter(name="from")] = None,
                              to: When | None = None,
                              activity_state: Annotated[str | None, QueryParameter(name="state")] = None,
                              limit: int = 20, cursor: str | None = None) -> ActivityPage:
        """Activities overlapping [from, to], soonest first (drafts only for their managers)."""
        limit, offset = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await activities.list_activities(conn, actor, community_id=community_id, ends_after=from_,
                                                    starts_before=to, state=activity_state, limit=limit, offset=offset)

    @get("/{activity_id:int}")
    async def get_activity(self, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> Activity:
        async with pool.acquire() as conn:
            return await activities.get_visible(conn, actor, activity_id)

    @patch("/{activity_id:int}")
    async def update_activity(self, request: Request, actor: Actor, activity_id: int, data: ActivityPatch,
                              pool: asyncpg.Pool) -> Activity:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        async with pool.acquire() as conn:
            return await activities.update(conn, actor, activity_id, changes, ip=client_ip(request))

    @delete("/{activity_id:int}", status_code=204)
    async def delete_activity(self, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await activities.delete_draft(conn, actor, activity_id)

    @post("/{activity_id:int}/publish", status_code=200, responses={202: ResponseSpec(
        Activity, generate_examples=False,
        description="Its points pay one person more than the community's thresholds a day: held (`held_id`)")})
    async def publish_activity(self, request: Request, actor: Actor, activity_id: int,
                               pool: asyncpg.Pool) -> Response[Activity]:
        """Publish a draft. When its terms pay one person more than the community's thresholds a day,
        it stays a draft and waits for another manager or a street manager (202, `held_id`)."""
        async with pool.acquire() as conn:
            activity = await activities.publish(conn, actor, activity_id, ip=client_ip(request))
        return Response(activity, status_code=202 if activity.held_id is not None else 200)

    @post("/{activity_id:int}/close", status_code=200)
    async def close_activity(self, request: Request, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> Activity:
        """Close now; whoever is still inside is checked out."""
        async with pool.acquire() as conn:
            return await checkin.close(conn, actor, activity_id, ip=client_ip(request))

    @get("/{activity_id:int}/poster.svg", media_type="image/svg+xml")
    async def poster_svg(self, request: Request, actor: Actor, activity_id: int, pool: asyncpg.Pool,
                         lang: Lang | None = None) -> Response[str]:
        async with pool.acquire() as conn:
            svg = await activities.poster(conn, actor, activity_id, fmt="svg", lang=lang or request_lang(request))
        return _file(svg, "image/svg+xml", f"activity-{activity_id}.svg")

    @get("/{activity_id:int}/poster.png", media_type="image/png")
    async def poster_png(self, request: Request, actor: Actor, activity_id: int, pool: asyncpg.Pool,
                         lang: Lang | None = None) -> Response[bytes]:
        async with pool.acquire() as conn:
            png = await activities.poster(conn, actor, activity_id, fmt="png", lang=lang or request_lang(request))
        return _file(png, "image/png", f"activity-{activity_id}.png")

    @get("/{activity_id:int}/rotating-code")
    async def rotating_code(self, actor: Actor, activity_id: int, pool: asyncpg.Pool) -> RotatingCode:
        """The code for the venue's screen; ask again after `refresh_after_seconds`."""
        async with pool.acquire() as conn:
            return await activities.rotating_code(conn, actor, activity_id)

    @post("/{activity_id:int}/station-scans", status_code=200)
    async def station_scan(self, actor: Actor, activity_id: int, data: StationScanIn,
                           pool: asyncpg.Pool) -> checkin.ActivityScan:
        """A manager scans a member card: that member is checked in or out."""
        return await checkin.station_scan(pool, actor, activity_id, data.code, data.nonce,
                                          scanned_at=data.scanned_at, intent=data.intent)

    @get("/{activity_id:int}/attendance")
    async def attendance_list(self, actor: Actor, activity_id: int, pool: asyncpg.Pool, limit: int = 50,
                         cursor: str | None = None,
                         format: Literal["json", "csv"] = "json") -> Response[attendance.AttendancePage]:
        async with pool.acquire() as conn:
            if format == "csv":
                text = await attendance.attendance_csv(conn, actor, activity_id)
                # Response[AttendancePage] documents the JSON body in OpenAPI; format=csv sends text instead.
                return Response(text, media_type="text/csv", headers={  # type: ignore[arg-type]
                    "content-disposition": f'attachment; filename="attendance-{activity_id}.csv"'})
            limit, after = page_args(limit, cursor)
            return Response(await attendance.attendance_page(conn, actor, activity_id, limit, after))

    @post("/{activity_id:int}/attendance/mark", status_code=200, responses={202: ResponseSpec(
        MarkResult, generate_examples=False,
        description="Above the community's thresholds or the daily limit: held for a second person (`held_id`)")})
    async def mark(self, request: Request, actor: Actor, activity_id: int, data: MarkIn) -> Response[MarkResult]:
        """Record members who attended without scanning (flagged manual), with a reason. 202 with
        `held_id` when it waits for another manager or a street manager: nothing recorded yet."""
        return await respond(request, actor, lambda conn: checkin.mark_attended(
            conn, actor, activity_id, data.user_ids, data.reason, data.minutes, ip=client_ip(request)),
            status=lambda result: 202 if result.held_id is not None else 200)

    @get("/{activity_id:int}/members")
    async def members(self, actor: Actor, activity_id: int, pool: asyncpg.Pool, q: str = "",
                      limit: int = 50) -> MemberList:
        """Members of the community not yet recorded for this activity (for marking attendance)."""
        limit, _ = page_args(limit, None)
        async with pool.acquire() as conn:
            return MemberList(await attendance.unrecorded_members(conn, actor, activity_id, q[:50], limit))

    @get("/{activity_id:int}/failed-scans")
    async def failed_scan_list(self, request: Request, actor: Actor, activity_id: int, pool: asyncpg.Pool,
                           limit: int = 50, cursor: str | None = None) -> attendance.FailedScanPage:
        limit, before = page_args(limit, cursor)
        async with pool.acquire() as conn:
            return await attendance.failed_scans(conn, actor, activity_id, limit, before, request_lang(request))


class CheckinController(Controller):
    path = "/api/checkins"
    tags = ["activities"]

    @post("/{attendance_id:int}/annul", status_code=200)
    async def annul(self, request: Request, actor: Actor, attendance_id: int, data: ReasonIn) -> Response[Attendance]:
        """Annul a mistaken check-in: its credits are reversed (409 insufficient_balance if already spent)."""
        return await respond(request, actor, lambda conn: checkin.annul(
            conn, actor, attendance_id, data.reason, ip=client_ip(request)))


class MemberCardController(Controller):
    path = "/api/me/card"
    tags = ["me"]

    @get("/")
    async def card(self, actor: Actor, pool: asyncpg.Pool) -> CardOut:
        """My member QR, shown at a station (or printed for people without a smartphone)."""
        async with pool.acquire() as conn:
            return _card(await codes.member_card(conn, actor.id))

    @post("/reissue", status_code=200)
    async def reissue(self, actor: Actor, pool: asyncpg.Pool) -> CardOut:
        """A new card; the old one stops working (lost or photographed card)."""
        async with pool.acquire() as conn:
            return _card(await codes.member_card(conn, actor.id, reissue=True))


def _card(code: codes.Code) -> CardOut:
    url = codes.url_for(code.code)
    return CardOut(code=code.code, url=url, svg=qr.qr_svg(url))


CONTROLLERS = (ActivityController, CheckinController, MemberCardController)  # listed in api/capabilities.py

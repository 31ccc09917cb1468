"""Reading attendance for managers: the list (JSON pages and CSV), members not yet recorded, and
the refused scans of an activity."""

import csv
import io
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from domain.checkin import activities
from domain.core import clock
from domain.core.actor import Actor
from domain.core.reasons import explain


class AttendanceRow(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    name: str
    phone: str | None
    state: str               # inside | done | annulled
    source: str              # self | station | manual
    checked_in_at: datetime
    checked_out_at: datetime | None
    auto_checkout: bool
    minutes: int
    points: int
    note: str | None
    annulled_at: datetime | None
    annul_reason: str | None
    in_received_at: datetime | None = None  # a late (offline) check-in arrived then


class AttendancePage(msgspec.Struct):
    items: list[AttendanceRow]
    next_cursor: str | None
    inside: int
    attended: int
    annulled: int


class FailedScan(msgspec.Struct, kw_only=True):
    id: int
    reason: str
    message: str
    code_kind: str | None
    user_id: int | None
    user_name: str | None
    details: dict[str, Any]
    created_at: datetime


class FailedScanPage(msgspec.Struct):
    items: list[FailedScan]
    next_cursor: str | None


class MemberRef(msgspec.Struct):
    id: int
    name: str
    phone: str | None


def mask_phone(phone: str | None) -> str | None:
    """Lists show 138****0001: enough to tell two people of the same name apart."""
    return f"{phone[:3]}****{phone[7:]}" if phone and len(phone) == 11 else phone


_ROWS = """select t.id, t.user_id, u.name, u.phone, t.state, t.source, t.checked_in_at, t.checked_out_at,
                  t.auto_checkout, t.minutes, t.points, t.note, t.annulled_at, t.annul_reason, t.in_received_at
           from attendances t join users u on u.id = t.user_id"""


def _row(r: asyncpg.Record) -> AttendanceRow:
    return AttendanceRow(**{**{k: r[k] for k in AttendanceRow.__struct_fields__}, "phone": mask_phone(r["phone"])})


async def attendance_page(conn: asyncpg.Connection, actor: Actor, activity_id: int, limit: int,
                          after: int) -> AttendancePage:
    await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch(f"{_ROWS} where t.activity_id = $1 and t.id > $2 order by t.id limit $3",
                            activity_id, after, limit + 1)
    counts = dict(await conn.fetch("select state, count(*) from attendances where activity_id = $1 group by state",
                                   activity_id))
    items = [_row(r) for r in rows[:limit]]
    return AttendancePage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None,
                          inside=counts.get("inside", 0), attended=counts.get("done", 0),
                          annulled=counts.get("annulled", 0))


def _cell(value: Any) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ would otherwise run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def attendance_csv(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> str:
    """Every attendance of the activity, local times, with a BOM so Excel reads the Chinese right."""
    activity = await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch(f"{_ROWS} where t.activity_id = $1 order by t.id", activity_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["activity", "attendance_id", "user_id", "name", "phone", "state", "source", "checked_in_at",
                     "checked_out_at", "auto_checkout", "minutes", "points", "note", "annul_reason",
                     "received_at"])  # received_at: when a late (offline) check-in reached the server
    local = lambda t: clock.local_time(t).strftime("%Y-%m-%d %H:%M") if t else ""  # noqa: E731
    for r in map(_row, rows):
        writer.writerow([_cell(v) for v in (
            activity.title, r.id, r.user_id, r.name, r.phone, r.state, r.source, local(r.checked_in_at),
            local(r.checked_out_at), "yes" if r.auto_checkout else "", r.minutes, r.points, r.note, r.annul_reason,
            local(r.in_received_at))])
    return "\ufeff" + out.getvalue()


async def unrecorded_members(conn: asyncpg.Connection, actor: Actor, activity_id: int, query: str,
                             limit: int) -> list[MemberRef]:
    """Members of the activity's community with no attendance yet: the choices for 'mark attended'."""
    activity = await activities.get_managed(conn, actor, activity_id)
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await conn.fetch(
        """Select distinct u.id, u.name, u.phone from org_members m join orgs o on o.id = m.org_id
           join users u on u.id = m.user_id
           where (o.id = $1 or (o.kind = 'grid' and o.parent_id = $1)) and u.active
             and not exists (select 1 from attendances t where t.activity_id = $2 and t.user_id = u.id)
             and (u.name ilike $3 or u.phone like $3)
           order by u.name, u.id limit $4""", activity.community_id, activity_id, pattern, limit)
    return [MemberRef(r["id"], r["name"], mask_phone(r["phone"])) for r in rows]


async def failed_scans(conn: asyncpg.Connection, actor: Actor, activity_id: int, limit: int, before: int,
                       lang: str) -> FailedScanPage:
    await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch(
        """Select f.id, f.reason, f.code_kind, f.user_id, u.name as user_name, f.details, f.created_at
           from failed_scans f left join users u on u.id = f.user_id
           where f.activity_id = $1 and ($2 = 0 or f.id < $2) order by f.id desc limit $3""",
        activity_id, before, limit + 1)
    items = [FailedScan(id=r["id"], reason=r["reason"], message=explain(r["reason"], lang), code_kind=r["code_kind"],
                        user_id=r["user_id"], user_name=r["user_name"], details=_json(r["details"]),
                        created_at=r["created_at"]) for r in rows[:limit]]
    return FailedScanPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


def _json(value: Any) -> dict[str, Any]:
    """Jsonb arrives as text unless the pool registered a codec."""
    if isinstance(value, str):
        return msgspec.json.decode(value)
    return dict(value or {})

"""申请补录: someone checked out with nothing credited (an automatic check-out at
the window's end, after forgetting to scan out) asks the managers to credit their time, with a reason.

The request goes to the activity's managers (a message, and the list beside the review list); the
manager credits from the review list (domain/checkin/review.py), which audits it. Asking is the
person's own act on their own attendance: it moves no value and decides nothing."""

from datetime import datetime

import asyncpg
import msgspec

from domain import notify
from domain.checkin import activities
from domain.core import clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, not_found
from domain.core.texts import clean_reason


class CorrectionRequest(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    attendance_id: int
    activity_id: int
    user_id: int
    user_name: str
    minutes: int              # what the attendance credited so far
    reason: str
    created_at: datetime


class CorrectionList(msgspec.Struct, frozen=True):
    items: list[CorrectionRequest]


_SELECT = """select c.id, c.attendance_id, c.activity_id, c.user_id, u.name as user_name, t.minutes, c.reason,
                    c.created_at
               from checkout_corrections c join users u on u.id = c.user_id join attendances t on t.id = c.attendance_id"""


async def ask(conn: asyncpg.Connection, actor: Actor, attendance_id: int, reason: str) -> CorrectionRequest:
    """Ask once per attendance (asking again answers the first request). Only the attendance's own
    person asks, and only once they are checked out; anyone else's attendance is 404."""
    text = clean_reason(reason)
    async with conn.transaction():
        row = await conn.fetchrow("select t.id, t.user_id, t.state, t.activity_id, a.community_id, a.title "
                                  "from attendances t join activities a on a.id = t.activity_id "
                                  "where t.id = $1 for update of t", attendance_id)
        if row is None or row["user_id"] != actor.id:
            raise not_found("attendance")
        if row["state"] != "done":
            raise DomainError("invalid_state", details={"state": row["state"]})
        made = await conn.fetchval(
            """Insert into checkout_corrections (attendance_id, activity_id, community_id, user_id, reason, created_at)
               values ($1, $2, $3, $4, $5, $6) on conflict (attendance_id) do nothing returning id""",
            attendance_id, row["activity_id"], row["community_id"], actor.id, text, clock.now())
        if made is not None:
            name = await conn.fetchval("select name from users where id = $1", actor.id)
            await notify.send_to_managers(conn, row["community_id"], "checkout_correction_asked",
                                          params={"name": name, "title": row["title"], "reason": text},
                                          link=f"/activities.html?id={row['activity_id']}#corrections")
    found = await conn.fetchrow(_SELECT + " where c.attendance_id = $1", attendance_id)
    return CorrectionRequest(**dict(found))


async def listing(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> CorrectionList:
    """The activity's correction requests, oldest first, for its managers."""
    await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch(_SELECT + " where c.activity_id = $1 order by c.id limit 500", activity_id)
    return CorrectionList([CorrectionRequest(**dict(r)) for r in rows])

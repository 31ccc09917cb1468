"""The manager's review of flagged scans (the signals are in
domain/checkin/fraud.py). Managers list the flags of an activity with the reason in words, and
resolve each: annul the check-in (the usual audited annulment; every open flag of it closes),
dismiss (audited), or, for an automatic check-out, credit the time up to the window end after all
(audited).

a late scan that could not be believed alone (domain/checkin/offline.py `held_reasons`)
is a `late_scan` item holding its credit: a held check-in's points (and the time before it
arrived), or a held check-out's time until the moment it claims. Credit pays it (audited
scan_flag_credit), dismiss pays nothing (scan_flag_dismiss). The open items of fraud.HELD_REASONS
are what a held-acts queue lists: `held_items` below."""

from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from domain import checkin, ledger
from domain.checkin import activities
from domain.checkin.fraud import HELD_REASONS, explain
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, not_found
from domain.core.texts import clean_reason


class Flag(msgspec.Struct, kw_only=True):
    id: int
    attendance_id: int
    user_id: int
    user_name: str
    reason: str
    message: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    attendance_state: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    minutes: int
    late: bool               # the check-in arrived from an offline queue


class FlagList(msgspec.Struct):
    items: list[Flag]
    open: int


def _json(value: Any) -> dict[str, Any]:
    return msgspec.json.decode(value) if isinstance(value, str) else dict(value or {})


async def list_flags(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, lang: str,
                     open_only: bool = False) -> FlagList:
    await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch(
        """Select f.*, u.name as user_name, t.state as attendance_state, t.checked_in_at, t.checked_out_at,
                  t.minutes, t.in_received_at is not null as late
           from scan_flags f join users u on u.id = f.user_id join attendances t on t.id = f.attendance_id
           where f.activity_id = $1 and (not $2 or f.resolved_at is null)
           order by (f.resolved_at is null) desc, f.id desc limit 500""", activity_id, open_only)
    items = [Flag(id=r["id"], attendance_id=r["attendance_id"], user_id=r["user_id"], user_name=r["user_name"],
                  reason=r["reason"], message=explain(r["reason"], lang, _json(r["details"])), details=_json(r["details"]),
                  created_at=r["created_at"], resolved_at=r["resolved_at"], resolution=r["resolution"],
                  attendance_state=r["attendance_state"], checked_in_at=r["checked_in_at"],
                  checked_out_at=r["checked_out_at"], minutes=r["minutes"], late=r["late"]) for r in rows]
    return FlagList(items=items, open=sum(1 for f in items if f.resolved_at is None))


Resolution = Literal["annul", "dismiss", "credit"]


async def resolve(conn: asyncpg.Connection, actor: Actor, flag_id: int, action: Resolution, reason: str, *,
                  ip: str | None = None, lang: str = "zh") -> Flag:
    """Settle one flag, in one transaction with its audit row."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await conn.fetchrow("select * from scan_flags where id = $1 for update", flag_id)
        if row is None:
            raise not_found("flag")
        activity = await activities.get_managed(conn, actor, row["activity_id"])
        if row["resolved_at"] is not None:
            raise DomainError("invalid_state", details={"resolution": row["resolution"]})
        now = clock.now()
        if action == "annul":
            await checkin.annul(conn, actor, row["attendance_id"], reason, ip=ip)  # audited as checkin_annul
            await conn.execute(
                """Update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'annulled'
                   where attendance_id = $1 and resolved_at is null""", row["attendance_id"], now, actor.id)
        elif action == "dismiss":
            await conn.execute("update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'dismissed' "
                               "where id = $1", flag_id, now, actor.id)
            await audit.record(conn, actor, "scan_flag_dismiss", community_id=activity.community_id,
                               target=("user", row["user_id"]),
                               after={"flag_id": flag_id, "reason": row["reason"],
                                      "attendance_id": row["attendance_id"]}, reason=reason, ip=ip)
        else:
            if row["reason"] not in HELD_REASONS:
                raise DomainError("invalid_state", details={"problem": "only held time or points are credited"})
            ledger.refuse_self_payment(actor.id, row["user_id"])  # nobody credits themself
            details = _json(row["details"])
            # Resolved first: a held check-in stops holding back the time before its arrival.
            await conn.execute("update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'credited' "
                               "where id = $1", flag_id, now, actor.id)
            if details.get("step") == "check_in":
                credited = await checkin.credit_held_check_in(conn, activity, row["attendance_id"],
                                                              int(details.get("points", 0)), actor_id=actor.id,
                                                              reason=reason)
            else:
                credited = await checkin.credit_to_window_end(conn, activity, row["attendance_id"],
                                                              datetime.fromisoformat(details["until"]),
                                                              actor_id=actor.id, reason=reason)
            await audit.record(conn, actor, "scan_flag_credit", community_id=activity.community_id,
                               target=("user", row["user_id"]),
                               after={"flag_id": flag_id, "attendance_id": row["attendance_id"], **credited},
                               reason=reason, ip=ip)
    listed = await list_flags(conn, actor, row["activity_id"], lang=lang)
    return next(f for f in listed.items if f.id == flag_id)


class HeldItem(msgspec.Struct, kw_only=True):
    """One open review item holding credit, as a held-acts queue shows it."""
    flag_id: int
    community_id: int
    activity_id: int
    activity_title: str
    attendance_id: int
    user_id: int
    reason: str
    message: str
    details: dict[str, Any]
    created_at: datetime


async def held_items(conn: asyncpg.Connection, community_ids: list[int], *, lang: str = "zh") -> list[HeldItem]:
    """The open late-presence items of these communities, oldest first: what waits for a manager's
    credit or dismissal (decided with `resolve`). The caller scopes `community_ids` to the reader."""
    rows = await conn.fetch(
        """Select f.*, a.community_id, a.title from scan_flags f join activities a on a.id = f.activity_id
           where a.community_id = any($1::bigint[]) and f.reason = any($2::text[]) and f.resolved_at is null
           order by f.id limit 500""", community_ids, list(HELD_REASONS))
    return [HeldItem(flag_id=r["id"], community_id=r["community_id"], activity_id=r["activity_id"],
                     activity_title=r["title"], attendance_id=r["attendance_id"], user_id=r["user_id"],
                     reason=r["reason"], message=explain(r["reason"], lang, _json(r["details"])),
                     details=_json(r["details"]), created_at=r["created_at"]) for r in rows]

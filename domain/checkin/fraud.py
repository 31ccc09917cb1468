"""Scans a manager should look at (issue 21; issue 16 finding 5): flagged, never blocked.

Signals, checked when a person checks themself in (a station scan is one device for many people by
design and is not checked):
- impossible travel: the person's nearest other located check-in (within 12 hours) is farther than
  LINLI_FRAUD_MAX_SPEED_KMH allows for the time between them (and more than 1 km away);
- bursts: more than LINLI_FRAUD_BURST_PER_DEVICE people checked in from one phone (the page's device
  id), or more than LINLI_FRAUD_BURST_PER_ADDRESS from one client address, within
  LINLI_FRAUD_BURST_MINUTES (a venue's wifi puts many phones behind one address: a high limit);
and, written by the check-in itself: a late (offline) check-in beyond the capacity, and an automatic
check-out that credited only up to the last proof of presence.

Managers list the flags of an activity with the reason in words, and resolve each: annul the
check-in (the usual audited annulment; every open flag of it closes), dismiss (audited), or, for an
automatic check-out, credit the time up to the window end after all (audited).
"""

from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import msgspec

from domain.checkin import activities, rules
from domain.core import audit, clock, settings
from domain.core.errors import DomainError, invalid, not_found
from domain.people.orgs import Actor

REASONS: dict[str, tuple[str, str]] = {
    "impossible_travel": ("两次签到地点相距太远，时间上不可能赶到", "Two check-ins too far apart for the time between them"),
    "device_burst": ("同一部手机短时间内为多人签到", "One phone checked in many people in a short time"),
    "address_burst": ("同一网络地址短时间内为很多人签到", "One network address checked in very many people in a short time"),
    "late_over_capacity": ("离线上传的签到超出了活动人数上限", "An offline check-in uploaded beyond the capacity"),
    "auto_checkout": ("未扫码签退，系统只计到最后一次在场记录", "No check-out scan: credited only up to the last proof of presence"),
}
TRAVEL_LOOKBACK = timedelta(hours=12)
TRAVEL_MIN_METRES = 1000


def explain(reason: str, lang: str) -> str:
    zh, en = REASONS[reason]
    return en if lang == "en" else zh


async def flag(conn: asyncpg.Connection, *, activity_id: int, attendance_id: int, user_id: int, reason: str,
               details: dict[str, Any]) -> None:
    assert reason in REASONS
    await conn.execute(
        """insert into scan_flags (activity_id, attendance_id, user_id, reason, details, created_at)
           values ($1, $2, $3, $4, $5, $6)""", activity_id, attendance_id, user_id, reason, details, clock.now())


async def check_self_scan(conn: asyncpg.Connection, *, activity_id: int, attendance_id: int, user_id: int,
                          at: datetime, lat: float | None, lng: float | None, device: str | None,
                          ip: str | None) -> list[str]:
    """Flag what looks wrong about this check-in (its row is already written); the reasons flagged."""
    config = settings.get()
    flagged: list[str] = []

    async def add(reason: str, details: dict[str, Any]) -> None:
        await flag(conn, activity_id=activity_id, attendance_id=attendance_id, user_id=user_id, reason=reason,
                   details=details)
        flagged.append(reason)

    if lat is not None and lng is not None:
        other = await conn.fetchrow(
            """select t.activity_id, t.checked_in_at, t.in_lat, t.in_lng from attendances t
               where t.user_id = $1 and t.id <> $2 and t.in_lat is not null
                 and t.checked_in_at between $3::timestamptz - $4::interval and $3::timestamptz + $4::interval
               order by abs(extract(epoch from t.checked_in_at - $3::timestamptz)) limit 1""",
            user_id, attendance_id, at, TRAVEL_LOOKBACK)
        if other is not None:
            metres = rules.distance_m(lat, lng, other["in_lat"], other["in_lng"])
            hours = abs((at - other["checked_in_at"]).total_seconds()) / 3600
            if metres > TRAVEL_MIN_METRES and (hours == 0 or metres / 1000 / hours > config.fraud_max_speed_kmh):
                await add("impossible_travel", {"other_activity_id": other["activity_id"],
                                                "distance_m": round(metres), "minutes": round(hours * 60)})
    if device or ip:  # one read for both (a check-in's round trips are counted: tests/checkin/test_checkin_speed.py)
        since = at - timedelta(minutes=config.fraud_burst_minutes)
        counts = await conn.fetchrow(
            """select (select count(distinct user_id) from attendances where $1::text is not null and in_device = $1
                         and source = 'self' and checked_in_at > $3 and checked_in_at <= $4) as device,
                      (select count(distinct user_id) from attendances where $2::text is not null and in_ip = $2
                         and source = 'self' and checked_in_at > $3 and checked_in_at <= $4) as address""",
            device, ip, since, at)
        for reason, people, limit in (("device_burst", counts["device"], config.fraud_burst_per_device),
                                      ("address_burst", counts["address"], config.fraud_burst_per_address)):
            if people > limit:
                await add(reason, {"people": people, "minutes": config.fraud_burst_minutes, "limit": limit})
    return flagged


# ---- the manager's review -----------------------------------------------------------------------

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
        """select f.*, u.name as user_name, t.state as attendance_state, t.checked_in_at, t.checked_out_at,
                  t.minutes, t.in_received_at is not null as late
           from scan_flags f join users u on u.id = f.user_id join attendances t on t.id = f.attendance_id
           where f.activity_id = $1 and (not $2 or f.resolved_at is null)
           order by (f.resolved_at is null) desc, f.id desc limit 500""", activity_id, open_only)
    items = [Flag(id=r["id"], attendance_id=r["attendance_id"], user_id=r["user_id"], user_name=r["user_name"],
                  reason=r["reason"], message=explain(r["reason"], lang), details=_json(r["details"]),
                  created_at=r["created_at"], resolved_at=r["resolved_at"], resolution=r["resolution"],
                  attendance_state=r["attendance_state"], checked_in_at=r["checked_in_at"],
                  checked_out_at=r["checked_out_at"], minutes=r["minutes"], late=r["late"]) for r in rows]
    return FlagList(items=items, open=sum(1 for f in items if f.resolved_at is None))


Resolution = Literal["annul", "dismiss", "credit"]


async def resolve(conn: asyncpg.Connection, actor: Actor, flag_id: int, action: Resolution, reason: str, *,
                  ip: str | None = None, lang: str = "zh") -> Flag:
    """Settle one flag, in one transaction with its audit row."""
    from domain import checkin  # checkin imports this module to flag scans

    reason = " ".join((reason or "").split())
    if not reason:
        raise invalid("reason", "required")
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
                """update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'annulled'
                   where attendance_id = $1 and resolved_at is null""", row["attendance_id"], now, actor.id)
        elif action == "dismiss":
            await conn.execute("update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'dismissed' "
                               "where id = $1", flag_id, now, actor.id)
            await audit.record(conn, actor, "scan_flag_dismiss", community_id=activity.community_id,
                               target=("user", row["user_id"]),
                               after={"flag_id": flag_id, "reason": row["reason"],
                                      "attendance_id": row["attendance_id"]}, reason=reason, ip=ip)
        else:
            if row["reason"] != "auto_checkout":
                raise DomainError("invalid_state", details={"problem": "only an automatic check-out is credited"})
            until = datetime.fromisoformat(_json(row["details"])["until"])
            credited = await checkin.credit_to_window_end(conn, activity, row["attendance_id"], until,
                                                          actor_id=actor.id, reason=reason)
            await conn.execute("update scan_flags set resolved_at = $2, resolved_by = $3, resolution = 'credited' "
                               "where id = $1", flag_id, now, actor.id)
            await audit.record(conn, actor, "scan_flag_credit", community_id=activity.community_id,
                               target=("user", row["user_id"]),
                               after={"flag_id": flag_id, "attendance_id": row["attendance_id"], **credited},
                               reason=reason, ip=ip)
    listed = await list_flags(conn, actor, row["activity_id"], lang=lang)
    return next(f for f in listed.items if f.id == flag_id)

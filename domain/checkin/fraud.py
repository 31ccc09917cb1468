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

Managers review the flags in domain/checkin/review.py (which builds on the check-in; this module
is imported by it to flag scans).
"""

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from domain.checkin import rules
from domain.core import clock, settings

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

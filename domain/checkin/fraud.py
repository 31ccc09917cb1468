"""Scans a manager should look at: flagged, never blocked.

Signals, checked when a person checks themself in (a station scan is one device for many people by
design and is not checked):
- impossible travel: the person's nearest other located check-in (within 12 hours) is farther than
  fraud_max_speed_kmh allows for the time between them (and more than 1 km away);
- bursts: more than fraud_burst_per_device people checked in from one phone (the page's device id),
  or more than fraud_burst_per_address from one client address, within fraud_burst_minutes (a venue's
  wifi puts many phones behind one address: a high limit);
each threshold the activity's community's (its policy, domain/people/community_policy.py; by default
LINLI_FRAUD_*);
and, written by the check-in itself: a late (offline) check-in beyond the capacity, and an automatic
check-out that credited only up to the last proof of presence.

Managers review the flags in domain/checkin/review.py (which builds on the check-in; this module
is imported by it to flag scans).
"""

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from domain.checkin import offline, rules
from domain.core import clock
from domain.people.community_policy import PolicyValues

REASONS: dict[str, tuple[str, str]] = {
    "impossible_travel": ("两次签到地点相距太远，时间上不可能赶到", "Two check-ins too far apart for the time between them"),
    "device_burst": ("同一部手机短时间内为多人签到", "One phone checked in many people in a short time"),
    "address_burst": ("同一网络地址短时间内为很多人签到", "One network address checked in very many people in a short time"),
    "late_over_capacity": ("离线上传的签到超出了活动人数上限", "An offline check-in uploaded beyond the capacity"),
    "auto_checkout": ("未扫码签退，系统只计到最后一次在场记录", "No check-out scan: credited only up to the last proof of presence"),
    # a late scan whose credit waits for a manager (why, in words: offline.HELD_WHY)
    "late_scan": ("迟到上传的扫码，积分和时长待审核", "A late scan: its points and time wait for review"),
}
# The review items that hold credit until a manager decides (credit or dismiss): the held-acts queue
# lists the open ones of these reasons (`select ... from scan_flags where reason = any(HELD_REASONS)
# and resolved_at is null`).
HELD_REASONS = ("auto_checkout", "late_scan")
TRAVEL_LOOKBACK = timedelta(hours=12)
TRAVEL_MIN_METRES = 1000


def explain(reason: str, lang: str, details: dict[str, Any] | None = None) -> str:
    """The reason in words; a held late scan says why it was held."""
    zh, en = REASONS[reason]
    why = [offline.HELD_WHY[w] for w in (details or {}).get("why", []) if w in offline.HELD_WHY]
    if lang == "en":
        return en + (": " + "; ".join(w[1] for w in why) if why else "")
    return zh + ("：" + "；".join(w[0] for w in why) if why else "")


async def flag(conn: asyncpg.Connection, *, activity_id: int, attendance_id: int, user_id: int, reason: str,
               details: dict[str, Any]) -> None:
    assert reason in REASONS
    await conn.execute(
        """Insert into scan_flags (activity_id, attendance_id, user_id, reason, details, created_at)
           values ($1, $2, $3, $4, $5, $6)""", activity_id, attendance_id, user_id, reason, details, clock.now())


def burst_since(at: datetime, policy: PolicyValues) -> datetime:
    """The start of the window in which bursts of check-ins from one device or address are counted."""
    return at - timedelta(minutes=policy.fraud_burst_minutes)


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """What the check-in's own database call found around it (migrations/022 `attendance_check_in`):
    people checked in from its device and its address since `burst_since`, and the person's nearest
    other located check-in within TRAVEL_LOOKBACK."""
    device_people: int | None
    address_people: int | None
    other_activity: int | None
    other_at: datetime | None
    other_lat: float | None
    other_lng: float | None


def self_scan_signals(*, at: datetime, lat: float | None, lng: float | None, seen: Seen, policy: PolicyValues
                      ) -> list[tuple[str, dict[str, Any]]]:
    """The fraud signals a self check-in raises under its community's thresholds, with their details:
    a pure rule."""
    signals: list[tuple[str, dict[str, Any]]] = []
    if lat is not None and lng is not None and seen.other_at is not None:
        assert seen.other_lat is not None and seen.other_lng is not None  # located check-ins only
        metres = rules.distance_m(lat, lng, seen.other_lat, seen.other_lng)
        hours = abs((at - seen.other_at).total_seconds()) / 3600
        if metres > TRAVEL_MIN_METRES and (hours == 0 or metres / 1000 / hours > policy.fraud_max_speed_kmh):
            signals.append(("impossible_travel", {"other_activity_id": seen.other_activity,
                                                  "distance_m": round(metres), "minutes": round(hours * 60)}))
    for reason, people, limit in (("device_burst", seen.device_people or 0, policy.fraud_burst_per_device),
                                  ("address_burst", seen.address_people or 0, policy.fraud_burst_per_address)):
        if people > limit:
            signals.append((reason, {"people": people, "minutes": policy.fraud_burst_minutes, "limit": limit}))
    return signals


async def flag_self_scan(conn: asyncpg.Connection, *, activity_id: int, attendance_id: int, user_id: int,
                         at: datetime, lat: float | None, lng: float | None, seen: Seen, policy: PolicyValues
                         ) -> list[str]:
    """Flag what looks wrong about this check-in (its row is already written); the reasons flagged.
    Nothing is written when nothing looks wrong, which is nearly always."""
    signals = self_scan_signals(at=at, lat=lat, lng=lng, seen=seen, policy=policy)
    for reason, details in signals:
        await flag(conn, activity_id=activity_id, attendance_id=attendance_id, user_id=user_id, reason=reason,
                   details=details)
    return [reason for reason, _ in signals]

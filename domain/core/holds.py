"""Acts held for a second person and flags about managers: the rows any layer writes when an act
must wait (a loosened policy, a large mark) or a manager's pattern is worth a look (their own join,
a day's pace). Both are written in the caller's transaction, with core's audit and clock only.

domain/oversight reads and decides them (its queue, its flags page, its report) and re-exports
`hold` and `flag` for the capabilities; people, which sits below oversight, writes them from here.
"""

from typing import Any

import asyncpg
import msgspec

from domain.core import audit, clock
from domain.core.actor import Actor


async def hold(conn: asyncpg.Connection, maker: Actor | int, community_id: int, kind: str, *,
               payload: dict[str, Any], evidence: dict[str, Any], subject_id: int | None = None,
               activity_id: int | None = None, attendance_id: int | None = None, ip: str | None = None) -> int:
    """Hold an act for a second person: one row in held_acts and its audit row (`held_request`), in
    the caller's transaction. Returns the held act's id."""
    maker_id = maker if isinstance(maker, int) else maker.id
    held_id = await conn.fetchval(
        """Insert into held_acts (community_id, kind, maker_id, subject_id, activity_id, attendance_id, payload,
                                  evidence, created_at)
           values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9) returning id""",
        community_id, kind, maker_id, subject_id, activity_id, attendance_id, _json(payload), _json(evidence),
        clock.now())
    await audit.record(conn, maker_id, "held_request", community_id=community_id,
                       target=("user", subject_id) if subject_id else ("org", community_id),
                       after={"held_id": held_id, "kind": kind, **evidence}, ip=ip)
    return held_id


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


# Why a manager is flagged (never blocking); domain/oversight explains them on its pages.
FLAG_REASONS: dict[str, tuple[str, str]] = {
    "velocity": ("今日手工加分、补录或现场兑换的次数远超本街道平常水平",
                 "Far more adjustments, marks or on-the-spot redemptions today than is usual in the street"),
    "daily_limit": ("今日手工发放的积分或时长超过社区每日上限，超出部分已转交复核",
                    "Value created by hand today passed the community's daily limit; the rest waits for review"),
    "large_terms": ("活动积分或补录超过社区门槛，已转交复核",
                    "Activity points or a manual mark above the community's thresholds wait for review"),
    "own_credit": ("管理员在自己管理的活动中签到，积分待其他管理员复核",
                   "A manager checked in at an activity they manage; the credit waits for another manager"),
    "own_join": ("管理员申请加入自己管理的社区，不会自动通过",
                 "A manager asked to join a community they manage; it is never approved automatically"),
    "policy_loosen": ("管理员放宽了本社区的门槛或自动通过设置，待复核后生效",
                      "A manager loosened the community's thresholds or auto-approval; it takes effect once reviewed"),
    "own_resident_redemption": ("为自己创建并发放过积分的居民现场兑换，已转为待复核",
                                "On-the-spot redemption for a resident this manager created and credited: held"),
    # merchants: the flagged person is the staff member who confirmed, or the resident
    "merchant_velocity": ("爱心商家今日兑换笔数远超上限，请核实", "Far more redemptions at a merchant today than the limit"),
    "person_velocity": ("居民今日在爱心商家兑换的笔数远超上限，请核实",
                        "A resident redeemed at merchants far more often today than the limit"),
}


async def flag(conn: asyncpg.Connection, community_id: int, manager_id: int, reason: str,
               details: dict[str, Any]) -> None:
    """Raise a flag about a manager: once per community, manager, reason and local day (the first
    occurrence's details; the queue links to the held acts and the audit for the rest)."""
    assert reason in FLAG_REASONS
    await conn.execute(
        """Insert into manager_flags (community_id, manager_id, reason, details, day, created_at)
           values ($1, $2, $3, $4::text::jsonb, $5, $6) on conflict do nothing""",
        community_id, manager_id, reason, _json(details), clock.local_day(clock.now()), clock.now())

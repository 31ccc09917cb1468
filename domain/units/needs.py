"""The need (需求清单) lifecycle after a claim.

    claimed --serve (the person)--> served --confirm (a manager, with the minutes of the meeting 会议纪要)-->
        confirmed                               (within the community's thresholds: credited at once)
        awaiting_second --approve (another manager, or a street/district manager above)--> confirmed
    claimed | served | awaiting_second --decline (a manager: declined or unserved)--> the place returns

Confirmation is one act with one audit row (`need_confirm`): the person's points and minutes from the
community's issuing accounts (ledger, kind award, cause ('need', claim id), idempotent per claim), which
also count for their unit's yearly target (units count their members' earned minutes), and the claim
records the unit it was served for. Nobody confirms their own claim; above the community's adjustment
thresholds a second person approves (DESIGN.md "Nobody creates value alone"), never the first one.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger, oversight
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.people import orgs

LIVE = ("claimed", "served", "awaiting_second", "confirmed")


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    need_id: int
    need_title: str
    community_id: int
    community_name: str
    user_id: int
    user_name: str
    unit_name: str | None
    state: str
    created_at: datetime
    served_at: datetime | None
    served_note: str | None
    minutes: int | None
    points: int | None
    record: str | None
    reason: str | None
    decided_at: datetime | None
    needs_second: bool = False      # awaiting_second: another person must approve


_SELECT = """
    select c.id, c.need_id, n.title as need_title, n.community_id, o.name as community_name, c.user_id,
           p.name as user_name, u.name as unit_name, c.state, c.created_at, c.served_at, c.served_note, c.minutes,
           c.points, c.record, c.reason, c.decided_at, c.state = 'awaiting_second' as needs_second
    from need_claims c join community_needs n on n.id = c.need_id join orgs o on o.id = n.community_id
    join users p on p.id = c.user_id left join units u on u.id = c.unit_id"""


async def get(conn: asyncpg.Connection, claim_id: int) -> Claim:
    row = await conn.fetchrow(_SELECT + " where c.id = $1", claim_id)
    if row is None:
        raise not_found("claim")
    return Claim(**dict(row))


async def _lock(conn: asyncpg.Connection, claim_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "select c.*, n.community_id from need_claims c join community_needs n on n.id = c.need_id "
        "where c.id = $1 for update of c", claim_id)
    if row is None:
        raise not_found("claim")
    return row


async def mine(conn: asyncpg.Connection, actor: Actor) -> list[Claim]:
    rows = await conn.fetch(_SELECT + " where c.user_id = $1 order by c.id desc limit 100", actor.id)
    return [Claim(**dict(r)) for r in rows]


async def queue(conn: asyncpg.Connection, actor: Actor, community_id: int, state: str | None = None) -> list[Claim]:
    """A community's claims for its managers (all live ones, or one state)."""
    orgs.require_reader(actor, community_id)
    if state is not None and state not in LIVE + ("declined", "unserved"):
        raise invalid("state", "claimed, served, awaiting_second, confirmed, declined or unserved")
    rows = await conn.fetch(
        _SELECT + " where n.community_id = $1 and (c.state = $2 or ($2 is null and c.state = any($3::text[]))) "
                  "order by c.id desc limit 200", community_id, state, list(LIVE))
    return [Claim(**dict(r)) for r in rows]


async def serve(conn: asyncpg.Connection, actor: Actor, claim_id: int, note: str | None) -> Claim:
    """The person says they served (what they did, in a line); the community confirms it."""
    note = " ".join((note or "").split()) or None
    if note and len(note) > 500:
        raise invalid("note", "at most 500 characters")
    async with conn.transaction():
        row = await _lock(conn, claim_id)
        if row["user_id"] != actor.id:
            raise not_found("claim")
        if row["state"] != "claimed":
            raise DomainError("invalid_state", details={"state": row["state"]})
        await conn.execute("update need_claims set state = 'served', served_at = $2, served_note = $3 where id = $1",
                           claim_id, clock.now(), note)
    return await get(conn, claim_id)


async def _credit(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record, minutes: int, points: int) -> list[int]:
    """The person's credit for the claim, from the community's issuing accounts (once per claim)."""
    transfers = []
    unit: ledger.Unit  # the pairs below name the ledger's units
    for unit, amount in (("points", points), ("minutes", minutes)):
        if amount <= 0:
            continue
        transfer = await ledger.post(
            conn, unit=unit, debit=await ledger.org_account(conn, row["community_id"], "issuing", unit),
            credit=await ledger.user_account(conn, row["user_id"], unit, row["community_id"]), amount=amount,
            kind="award", cause=("need", row["id"]), actor_id=actor.id, reason=None,
            key=f"need:{row['id']}:{unit}")
        transfers.append(transfer.id)
    return transfers


async def _may_second(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    """The second person: another manager of the community, or a manager of its street or district."""
    if actor.can_manage(community_id):
        return
    street = await conn.fetchval("select parent_id from orgs where id = $1", community_id)
    await orgs.require_level_manager(conn, actor, street)


async def confirm(conn: asyncpg.Connection, actor: Actor, claim_id: int, *, minutes: int, points: int,
                  record: str, ip: str | None = None) -> Claim:
    """A manager confirms the service with the community's minutes of the meeting (会议纪要)."""
    record = " ".join((record or "").split())
    if not 1 <= len(record) <= 1000:
        raise invalid("record", "1 to 1000 characters: what the community recorded")
    if not 0 <= minutes <= 1440:
        raise invalid("minutes", "0 to 1440")
    if not 0 <= points <= 100_000:
        raise invalid("points", "0 to 100000")
    if minutes == 0 and points == 0:
        raise invalid("minutes", "minutes or points")
    async with conn.transaction():
        row = await _lock(conn, claim_id)
        orgs.require_manager(actor, row["community_id"])
        ledger.refuse_self_payment(actor.id, row["user_id"])
        if row["state"] not in ("claimed", "served"):
            raise DomainError("invalid_state", details={"state": row["state"]})
        limits = await oversight.limits(conn, row["community_id"])  # the community's four-eyes thresholds
        second = points > limits.threshold_points or minutes > limits.threshold_minutes
        now = clock.now()
        await conn.execute(
            "update need_claims set state = $2, minutes = $3, points = $4, record = $5, confirmed_by = $6, "
            "decided_at = $7 where id = $1",
            claim_id, "awaiting_second" if second else "confirmed", minutes, points, record, actor.id,
            None if second else now)
        transfers = [] if second else await _credit(conn, actor, row, minutes, points)
        await audit.record(conn, actor, "need_confirm", community_id=row["community_id"], target=("need_claim", claim_id),
                           after={"user_id": row["user_id"], "unit_id": row["unit_id"], "need_id": row["need_id"],
                                  "minutes": minutes, "points": points, "transfers": transfers,
                                  "awaiting_second": second}, ip=ip)
    return await get(conn, claim_id)


async def approve(conn: asyncpg.Connection, actor: Actor, claim_id: int, *, ip: str | None = None) -> Claim:
    """The second person approves a confirmation above the thresholds: the credit is posted now."""
    async with conn.transaction():
        row = await _lock(conn, claim_id)
        await _may_second(conn, actor, row["community_id"])
        if row["state"] != "awaiting_second":
            raise DomainError("invalid_state", details={"state": row["state"]})
        if actor.id == row["confirmed_by"]:
            raise forbidden("a second person approves: not the one who confirmed")
        ledger.refuse_self_payment(actor.id, row["user_id"])
        await conn.execute("update need_claims set state = 'confirmed', approved_by = $2, decided_at = $3 where id = $1",
                           claim_id, actor.id, clock.now())
        transfers = await _credit(conn, actor, row, row["minutes"] or 0, row["points"] or 0)
        await audit.record(conn, actor, "need_confirm", community_id=row["community_id"], target=("need_claim", claim_id),
                           after={"user_id": row["user_id"], "unit_id": row["unit_id"], "need_id": row["need_id"],
                                  "minutes": row["minutes"], "points": row["points"], "transfers": transfers,
                                  "second_for": row["confirmed_by"]}, ip=ip)
    return await get(conn, claim_id)


async def decline(conn: asyncpg.Connection, actor: Actor, claim_id: int, *, reason: str, unserved: bool,
                  ip: str | None = None) -> Claim:
    """A manager turns a claim down (or records it was not served): its place returns to the list."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await _lock(conn, claim_id)
        orgs.require_manager(actor, row["community_id"])
        if row["state"] not in ("claimed", "served", "awaiting_second"):
            raise DomainError("invalid_state", details={"state": row["state"]})
        state = "unserved" if unserved else "declined"
        await conn.execute("update need_claims set state = $2, reason = $3, decided_at = $4 where id = $1",
                           claim_id, state, reason, clock.now())
        await audit.record(conn, actor, "need_decline", community_id=row["community_id"], target=("need_claim", claim_id),
                           after={"user_id": row["user_id"], "need_id": row["need_id"], "state": state}, reason=reason,
                           ip=ip)
    return await get(conn, claim_id)


async def served_on_card(conn: asyncpg.Connection, user_id: int, first_day: object, end_day: object) -> list[dict]:
    """The confirmed needs of a quarter, for the person's service card (一单一表一卡)."""
    rows = await conn.fetch(
        """Select n.title, o.name as community_name, c.minutes, c.points, c.decided_at
           from need_claims c join community_needs n on n.id = c.need_id join orgs o on o.id = n.community_id
           where c.user_id = $1 and c.state = 'confirmed'
             and (c.decided_at at time zone (select tz from local_zone))::date >= $2
             and (c.decided_at at time zone (select tz from local_zone))::date < $3
           order by c.decided_at""", user_id, first_day, end_day)
    return [dict(r) for r in rows]

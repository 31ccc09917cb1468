"""Late scans: a station or a phone without network keeps its scans (IndexedDB, with a nonce and the
device's time) and uploads them when the network returns.

The server takes the device's time as the scan's time when it is believable:
- not more than LINLI_OFFLINE_CLOCK_SKEW_SECONDS ahead of the server (a device clock a little fast
  counts as "now"; further ahead is refused as invalid input);
- not older than the community's offline window (its policy's offline_max_delay_seconds, by default
  LINLI_OFFLINE_MAX_DELAY_SECONDS; refused with late_scan_expired);
and then every rule is decided at that time: the code must have been valid then (a rotating code
within its grace), the time must lie inside the activity window, and the check-out banks the
minutes up to that time. Both times are kept (checked_in_at / in_received_at ...).

Each scan's nonce is claimed in `scan_nonces` (unique per activity, person and nonce) before anything
is written: a queue uploaded twice, even from two tabs at the same moment, meets the key; the second
upload waits for the first to commit, then answers with the attendance as it stands and writes
nothing. What the station could not see offline (capacity, daily caps) is decided on upload: a late
check-in beyond the capacity is accepted and flagged for the manager (the person was there, the
station let them in); the daily points cap applies as to any scan (the ledger never pays beyond it),
and the answer says it was capped.

Presence is proven once, for the time it claims: a late scan that would add
minutes or points is not credited at once when it cannot be believed on its own word; it goes to
the review list (domain/checkin/review.py, flag `late_scan`) with its reasons (`held_reasons`), and
a manager credits or dismisses it. That is a scan
- delivered more than DELAY_REVIEWED_AFTER after the time its device claims (a person's own phone:
  a manager's station vouches for its own queue);
- delivered after the activity's window ended;
- made with a rotating code that was no longer alive when the scan arrived;
- arriving after the automatic check-out (which credited only up to the last proof of presence).
A held check-in is recorded without its points, and time before its arrival is not credited by its
check-out; a held check-out is recorded at the last proof of presence, the rest waits for review.
"""

from datetime import datetime, timedelta

import asyncpg

from domain.core import settings
from domain.core.errors import DomainError, invalid

DELAY_REVIEWED_AFTER = timedelta(minutes=5)  # a phone's queue older than this is not believed alone

# why a late scan is held for review, in words (the review list shows them)
HELD_WHY: dict[str, tuple[str, str]] = {
    "delayed": ("扫码后过了很久才上传", "uploaded long after it was scanned"),
    "after_window": ("上传时活动已经结束", "uploaded after the activity ended"),
    "rotating_expired": ("上传时现场动态码已失效", "the screen's rotating code had expired when it arrived"),
    "after_auto_checkout": ("系统已自动签退之后才上传", "arrived after the automatic check-out"),
}


def held_reasons(*, claimed: datetime | None, received: datetime, ends_at: datetime, source: str,
                 code_stale: bool = False, after_auto_checkout: bool = False) -> list[str]:
    """Why a scan's credit waits for a manager instead of being paid at once (a pure rule); empty for
    a live scan and for a late one that can be believed. Only a late scan (one carrying its device's
    time) is ever held: a live scan is decided at the server's own time."""
    if claimed is None:
        return []
    why = []
    if source == "self" and received - claimed > DELAY_REVIEWED_AFTER:
        why.append("delayed")
    if received >= ends_at:
        why.append("after_window")
    if code_stale:
        why.append("rotating_expired")
    if after_auto_checkout:
        why.append("after_auto_checkout")
    return why


def scan_time(claimed: datetime | None, received: datetime, max_delay_seconds: int) -> datetime:
    """The time a scan counts at: `received` for a live scan, else the device's believable time.
    `max_delay_seconds` is the community's offline window (community_policy); the clock skew is the
    deployment's (LINLI_OFFLINE_CLOCK_SKEW_SECONDS: it measures devices' clocks, not a local choice)."""
    if claimed is None:
        return received
    if claimed - received > timedelta(seconds=settings.get().offline_clock_skew_seconds):
        raise invalid("scanned_at", "the device's clock is ahead of the server's")
    if received - claimed > timedelta(seconds=max_delay_seconds):
        raise DomainError("late_scan_expired", details={"scanned_at": claimed.isoformat(),
                                                        "max_delay_seconds": max_delay_seconds})
    return min(claimed, received)


async def claim_nonce(conn: asyncpg.Connection, activity_id: int, user_id: int, nonce: str,
                      claimed: datetime | None, received: datetime) -> bool:
    """True when this nonce is new for the person and activity (the scan may act); False when it was
    already handled: the answer is the attendance as it stands. A concurrent holder of the same nonce
    makes this wait for its commit (or rollback, when the key becomes free again)."""
    return await conn.fetchval("select scan_nonce_claim(p_activity => $1, p_user => $2, p_nonce => $3, p_claimed => $4, "
                               "p_received => $5)",  # domain/checkin/sql/checkin.sql
                               activity_id, user_id, nonce, claimed, received)


async def prune_scan_nonces(pool: asyncpg.Pool, now: datetime) -> int:
    """A nonce older than its community's offline window (and a day) can no longer come back in a late
    scan (it would be refused as late_scan_expired); a page reloading its own scan still replays
    through the attendance's in_nonce / out_nonce."""
    result = await pool.execute(
        """Delete from scan_nonces n using activities a left join community_policies p on p.community_id = a.community_id
           where n.received_at < $1::timestamptz - interval '1 day' and a.id = n.activity_id
             and n.received_at < $1::timestamptz - interval '1 day'
                                 - make_interval(secs => coalesce(p.offline_max_delay_seconds, $2::int))""",
        now, settings.get().offline_max_delay_seconds)
    return int(result.split()[-1])

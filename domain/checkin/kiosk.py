"""Kiosk screens without a manager's login.

A manager asks for a one-time pairing code on the activity page (8 digits, valid for the community's
kiosk_pairing_minutes, by default LINLI_KIOSK_PAIRING_MINUTES); the screen at the venue types it at /kiosk/pair and receives a device
token. That token is not a session: it opens exactly one thing, the activity's rotating code with
its live count (GET /api/kiosk/code), and nothing else in the API accepts it. The manager sees the
paired screens on the activity page and revokes any of them (audited); only hashes are stored.
Pairing attempts are rate-limited per client address (20 a minute), so the 10^8 codes cannot be tried.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain.checkin import activities
from domain.checkin.activities import RotatingCode
from domain.core import audit, clock, ratelimit
from domain.core.actor import Actor
from domain.core.errors import DomainError, not_found
from domain.people import community_policy

PAIR_ATTEMPTS_PER_MINUTE = 20  # 200 tries over a code's 10 minutes of 10^8 codes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Pairing(msgspec.Struct, kw_only=True):
    id: int
    pairing_code: str
    expires_at: datetime


class Device(msgspec.Struct, kw_only=True):
    id: int
    created_at: datetime
    state: str                     # waiting (code not used yet) | expired | paired | revoked
    pairing_expires_at: datetime | None
    paired_at: datetime | None
    revoked_at: datetime | None


class Paired(msgspec.Struct, kw_only=True):
    token: str
    activity_id: int


async def start_pairing(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, ip: str | None = None) -> Pairing:
    async with conn.transaction():
        activity = await activities.get_managed(conn, actor, activity_id)
        if activity.state != "published":  # a draft can still be deleted; a closed one needs no screen
            raise DomainError("invalid_state", details={"state": activity.state})
        now = clock.now()
        policy = await community_policy.effective(conn, activity.community_id)
        expires = now + timedelta(minutes=policy.kiosk_pairing_minutes)
        for _ in range(5):  # a clash with another live code is rare; draw again
            code = f"{secrets.randbelow(10**8):08d}"
            device_id = await conn.fetchval(
                """Insert into kiosk_devices (activity_id, pairing_hash, pairing_expires_at, created_by, created_at)
                   values ($1, $2, $3, $4, $5) on conflict (pairing_hash) do nothing returning id""",
                activity_id, _hash(code), expires, actor.id, now)
            if device_id is not None:
                break
        else:
            raise DomainError("conflict")
        await audit.record(conn, actor, "kiosk_pair", community_id=activity.community_id,
                           target=("activity", activity_id), after={"kiosk_id": device_id}, ip=ip)
    return Pairing(id=device_id, pairing_code=code, expires_at=expires)


async def pair(pool: asyncpg.Pool, code: str, *, ip: str | None) -> Paired:
    """The screen's side: a valid, unused pairing code becomes a device token (shown once)."""
    async with pool.acquire() as conn:
        if ip:
            await ratelimit.take(conn, f"kiosk-pair:{ip}", PAIR_ATTEMPTS_PER_MINUTE, 60)
        code = "".join(ch for ch in code if ch.isascii() and ch.isdigit())
        token = secrets.token_urlsafe(32)
        row = await conn.fetchrow(
            """Update kiosk_devices set pairing_hash = null, token_hash = $2, paired_at = $3
               where pairing_hash = $1 and pairing_expires_at > $3 and revoked_at is null
               returning id, activity_id""", _hash(code), _hash(token), clock.now())
    if row is None:
        raise not_found("pairing code")
    return Paired(token=token, activity_id=row["activity_id"])


async def screen_code(pool: asyncpg.Pool, token: str | None) -> RotatingCode:
    """What a paired screen may see: its activity's rotating code and live count, nothing more."""
    if not token:
        raise DomainError("unauthenticated")
    async with pool.acquire() as conn:
        activity_id = await conn.fetchval(
            "select activity_id from kiosk_devices where token_hash = $1 and revoked_at is null", _hash(token))
        if activity_id is None:
            raise DomainError("unauthenticated", details={"kiosk": "revoked or unknown"})
        return await activities.current_rotating_code(conn, await activities.load(conn, activity_id))


def _device(row: asyncpg.Record, now: datetime) -> Device:
    if row["revoked_at"] is not None:
        state = "revoked"
    elif row["paired_at"] is not None:
        state = "paired"
    else:
        state = "waiting" if row["pairing_expires_at"] > now else "expired"
    return Device(id=row["id"], created_at=row["created_at"], state=state, pairing_expires_at=row["pairing_expires_at"],
                  paired_at=row["paired_at"], revoked_at=row["revoked_at"])


async def devices(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> list[Device]:
    await activities.get_managed(conn, actor, activity_id)
    rows = await conn.fetch("select * from kiosk_devices where activity_id = $1 order by id desc limit 100",
                            activity_id)
    now = clock.now()
    return [_device(r, now) for r in rows]


async def revoke(conn: asyncpg.Connection, actor: Actor, device_id: int, *, ip: str | None = None) -> Device:
    async with conn.transaction():
        row = await conn.fetchrow("select * from kiosk_devices where id = $1 for update", device_id)
        if row is None:
            raise not_found("kiosk")
        activity = await activities.get_managed(conn, actor, row["activity_id"])
        if row["revoked_at"] is not None:
            return _device(row, clock.now())
        row = await conn.fetchrow(
            """Update kiosk_devices set revoked_at = $2, revoked_by = $3, pairing_hash = null where id = $1
               returning *""", device_id, clock.now(), actor.id)
        await audit.record(conn, actor, "kiosk_revoke", community_id=activity.community_id,
                           target=("activity", activity.id), after={"kiosk_id": device_id}, ip=ip)
    return _device(row, clock.now())

"""QR codes: random, unguessable (80 bits), short enough for a low-density QR, stored with kind,
target, validity and revocation. Every QR encodes `<public url>/s/<code>`."""

import base64
import secrets
from datetime import datetime

import asyncpg
import msgspec

from domain.core import clock, settings
from domain.core.errors import DomainError

KINDS = ("poster", "rotating", "member", "voucher", "offer")  # offer: a merchant voucher


class Code(msgspec.Struct, frozen=True):
    code: str
    kind: str
    target_id: int
    valid_from: datetime | None
    valid_until: datetime | None
    revoked_at: datetime | None
    used_at: datetime | None
    created_at: datetime


def new_code() -> str:
    """16 base32 characters = 80 random bits; lower case reads better in a printed URL."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def code_from_text(text: str | None) -> str:
    """The code inside what was scanned, typed or pasted: a bare code, its `<site>/s/<code>` URL
    (in any case; query and fragment ignored), or a code typed in groups ("abcd efgh ...", "ABCD-EFGH-...").
    Only ASCII letters and digits are kept, lower-cased; "" when nothing is left.

    The frontend's twin is frontend/js/scan-code.js; both pass tests/checkin/scan_code_vectors.json.
    """
    value = text or ""
    at = max(value.rfind("/s/"), value.rfind("/S/"))
    if at >= 0:
        value = value[at + 3:]
    value = value.split("?", 1)[0].split("#", 1)[0]
    for part in value.split("/"):
        kept = "".join(c for c in part if c.isascii() and c.isalnum()).lower()
        if kept:
            return kept
    return ""


def public_url() -> str:
    return settings.get().public_url


def url_for(code: str) -> str:
    return f"{public_url()}/s/{code}"


async def issue(conn: asyncpg.Connection, kind: str, target_id: int, *, valid_from: datetime | None = None,
                valid_until: datetime | None = None) -> Code:
    assert kind in KINDS
    row = await conn.fetchrow(
        "insert into codes (code, kind, target_id, valid_from, valid_until, created_at) "
        "values ($1, $2, $3, $4, $5, $6) returning *", new_code(), kind, target_id, valid_from, valid_until,
        clock.now())
    return Code(**row)


# Characters a person types for one another off a printed code: 1, i and l; 0 and o.
_LOOKALIKE_FROM, _LOOKALIKE_TO = "i10", "llo"


def fold_lookalikes(code: str) -> str:
    """The form two codes share when they differ only by characters that look alike in print."""
    return code.strip().lower().translate(str.maketrans(_LOOKALIKE_FROM, _LOOKALIKE_TO))


def display(code: str) -> str:
    """A code as people read and type it: upper case in groups of four ("2LSF QXA7 …"), where l and
    1, O and 0 are told apart (and typed either way: `find`)."""
    upper = code.upper()
    return " ".join(upper[i:i + 4] for i in range(0, len(upper), 4))


async def find(conn: asyncpg.Connection, code: str) -> Code | None:
    """The code exactly, or else the one code it can be read as (1/l/I, 0/o/O typed for each other):
    a typed "21SF" finds the printed "2lsf". Two codes that fold alike match neither (never a guess)."""
    if not code or len(code) > 32:
        return None
    code = code.strip().lower()
    row = await conn.fetchrow("select * from codes where code = $1", code)
    if row is None:
        rows = await conn.fetch("select * from codes where translate(code, $2, $3) = $1 limit 2",
                                fold_lookalikes(code), _LOOKALIKE_FROM, _LOOKALIKE_TO)
        row = rows[0] if len(rows) == 1 else None
    return Code(**row) if row else None


def check_valid(code: Code | None, now: datetime, grace_seconds: int = 0) -> Code:
    """Raise the reason a person would want to hear when a code cannot be used now."""
    if code is None:
        raise DomainError("code_unknown")
    if code.revoked_at is not None and code.revoked_at <= now:
        raise DomainError("code_revoked")
    if code.valid_until is not None and (now - code.valid_until).total_seconds() > grace_seconds:
        raise DomainError("code_expired", details={"expired_at": code.valid_until.isoformat()})
    if code.valid_from is not None and now < code.valid_from:
        raise DomainError("outside_window", details={"opens_at": code.valid_from.isoformat()})
    return code


async def revoke(conn: asyncpg.Connection, code: str) -> None:
    await conn.execute("update codes set revoked_at = $2 where code = $1 and revoked_at is null", code, clock.now())


async def revoke_all(conn: asyncpg.Connection, kind: str, target_id: int) -> None:
    await conn.execute("update codes set revoked_at = $3 where kind = $1 and target_id = $2 and revoked_at is null",
                       kind, target_id, clock.now())


async def latest(conn: asyncpg.Connection, kind: str, target_id: int) -> Code | None:
    row = await conn.fetchrow("select * from codes where kind = $1 and target_id = $2 and revoked_at is null "
                              "order by created_at desc limit 1", kind, target_id)
    return Code(**row) if row else None


async def member_card(conn: asyncpg.Connection, user_id: int, *, reissue: bool = False) -> Code:
    """A person's card code: one live at a time; re-issuing revokes the old card. Showing the live
    card reads it only: the person's row is locked (one issuer at a time) only to issue one, so a
    card shown on several screens at once, or again and again, neither waits nor writes."""
    if not reissue and (current := await latest(conn, "member", user_id)):
        return current
    async with conn.transaction():
        await conn.execute("select 1 from users where id = $1 for update", user_id)  # one issuer at a time
        current = await latest(conn, "member", user_id)
        if current and not reissue:
            return current
        await revoke_all(conn, "member", user_id)
        return await issue(conn, "member", user_id)

"""Real name (身份证号) and the national volunteer number (志愿者编号).

The ID number is checked (GB 11643: 17 digits, a valid birth date, the ISO 7064 MOD 11-2 check
digit), then stored only as AES-GCM ciphertext under the key in LINLI_ID_KEY, with the user id as
associated data (a ciphertext copied onto another person does not decrypt). Everyone but the person
sees the masked form (first 3 and last 4 characters); it is never logged. Storing it needs its own
consent (consent kind 'id_number').
"""

import os
import re
from datetime import date, datetime

import asyncpg
import msgspec

from domain.core import clock, settings
from domain.core.errors import DomainError, invalid
from domain.people import consent

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
VOLUNTEER_NUMBER = re.compile(r"^[A-Za-z0-9-]{4,32}$")
KEY_VERSION = b"\x01"


def check_digit(first17: str) -> str:
    """GB 11643-1999: the 18th character of a resident ID number (pure rule)."""
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def birth_date_of(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def normalise_id_number(raw: str) -> str:
    """The ID number in canonical form, or `id_number_invalid` naming the field (pure rule)."""
    number = re.sub(r"[\s-]", "", raw or "").upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise DomainError("id_number_invalid", field="id_number", details={"problem": "18 characters: 17 digits "
                                                                                     "and a digit or X"})
    born = birth_date_of(number)
    if born is None or not date(1900, 1, 1) <= born <= clock.now().date():
        raise DomainError("id_number_invalid", field="id_number", details={"problem": "birth date"})
    if check_digit(number[:17]) != number[17]:
        raise DomainError("id_number_invalid", field="id_number", details={"problem": "check digit"})
    return number


def mask(number: str) -> str:
    return number[:3] + "*" * 11 + number[-4:]


def _key() -> bytes:
    key = settings.get().id_key
    if key is None:
        raise DomainError("unavailable", details={"problem": "ID numbers are not configured (LINLI_ID_KEY)"})
    return key


def encrypt(number: str, user_id: int) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    nonce = os.urandom(12)
    return KEY_VERSION + nonce + AESGCM(_key()).encrypt(nonce, number.encode(), str(user_id).encode())


def decrypt(blob: bytes, user_id: int) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(_key()).decrypt(blob[1:13], blob[13:], str(user_id).encode()).decode()


def check_volunteer_number(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    number = raw.strip()
    if not VOLUNTEER_NUMBER.fullmatch(number):
        raise invalid("volunteer_number", "4 to 32 letters, digits or -")
    return number


class Identity(msgspec.Struct, frozen=True):
    id_number: str | None          # in full only in the person's own view; masked everywhere else
    id_number_masked: str | None
    volunteer_number: str | None
    birth_date: date | None
    updated_at: datetime | None


async def own(conn: asyncpg.Connection, user_id: int) -> Identity:
    """The person's own view: the only place the full number is shown."""
    row = await conn.fetchrow("select * from identities where user_id = $1", user_id)
    if row is None:
        return Identity(None, None, None, None, None)
    full = decrypt(bytes(row["id_number_enc"]), user_id) if row["id_number_enc"] is not None else None
    return Identity(full, row["id_number_masked"], row["volunteer_number"], row["birth_date"], row["updated_at"])


async def masked(conn: asyncpg.Connection, user_id: int) -> Identity:
    row = await conn.fetchrow("select * from identities where user_id = $1", user_id)
    if row is None:
        return Identity(None, None, None, None, None)
    return Identity(None, row["id_number_masked"], row["volunteer_number"], row["birth_date"], row["updated_at"])


async def set_identity(conn: asyncpg.Connection, user_id: int, *, id_number: str | None,
                       volunteer_number: str | None, consent_version: int | None,
                       given_by: int | None = None) -> Identity:
    """Add or change the ID number (with its separate consent) and/or the volunteer number.
    An empty id_number ("") removes it; None leaves it as it is."""
    number = normalise_id_number(id_number) if id_number else None
    volunteer = check_volunteer_number(volunteer_number)
    version = await consent.require_current(conn, "id_number", consent_version, "consent_version") \
        if number else None
    blob = encrypt(number, user_id) if number else None
    async with conn.transaction():
        await conn.execute("insert into identities (user_id, updated_at) values ($1, $2) on conflict do nothing",
                           user_id, clock.now())
        if number:
            await conn.execute("update identities set id_number_enc = $2, id_number_masked = $3, birth_date = $4, "
                               "updated_at = $5 where user_id = $1", user_id, blob, mask(number),
                               birth_date_of(number), clock.now())
            await consent.record(conn, user_id, "id_number", version or 0, given_by=given_by)
        elif id_number == "":
            await conn.execute("update identities set id_number_enc = null, id_number_masked = null, "
                               "updated_at = $2 where user_id = $1", user_id, clock.now())
        if volunteer is not None:
            taken = await conn.fetchval("select 1 from identities where volunteer_number = $1 and user_id <> $2",
                                        volunteer, user_id)
            if taken:
                raise DomainError("conflict", field="volunteer_number", details={"problem": "already in use"})
            await conn.execute("update identities set volunteer_number = $2, updated_at = $3 where user_id = $1",
                               user_id, volunteer, clock.now())
    return await own(conn, user_id)

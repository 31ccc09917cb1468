"""Proving a phone number: a one-time code sent by SMS (domain/core/sms.py, the one SMS channel) and typed back.

Registration, claiming an invited account and password reset all need one (purpose 'register' or
'reset'). A code is 6 digits, valid 5 minutes, single use, and only a salted hash of it is stored.

A code belongs to the client address that asked for it (five wrong codes from
any address used to lock the phone's owner out everywhere for 15 minutes, again and again). Only
tries from that address spend it, a new code replaces only that address's earlier one, and a
burnt code locks that (phone, address) pair only: the owner, from their own address, is never
locked by someone else's guesses, and never loses their code to them.

Limits, all counted before anything is compared, so concurrent guesses cannot overshoot them:
- sending: 5 codes a phone an hour from one address, 10 a phone an hour in all (what an SMS bomb
  may cost the phone), 20 an address an hour;
- guessing: each code takes at most 5 tries (an atomic counter on its row); the 5th wrong try
  kills it and locks the phone for 15 minutes from that address (no new code is sent there,
  none is checked there);
- an address may make 30 wrong guesses an hour, whatever the phones.

Answers never say whether a phone is registered: a code is sent (and stored) for any valid
number, and a wrong or expired code reads the same either way.
"""

import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

import asyncpg
import msgspec

from domain.core import clock, ratelimit, settings, sms
from domain.core.errors import DomainError

log = logging.getLogger("linli.sms")

PURPOSES = ("register", "reset")
VALID = timedelta(minutes=5)
TRIES_PER_CODE = 5
LOCK_SECONDS = 15 * 60
SENDS_PER_PHONE_ADDRESS_HOUR = 5
SENDS_PER_PHONE_HOUR = 10
SENDS_PER_IP_HOUR = 20
WRONG_PER_IP_HOUR = 30


class Sent(msgspec.Struct, frozen=True):
    sent: bool
    expires_in: int                 # seconds
    demo_code: str | None = None    # only with LINLI_SMS_SHOW_CODES (serve --demo)


def _hash(salt: bytes, phone: str, code: str) -> bytes:
    return hashlib.sha256(salt + f"{phone}:{code}".encode()).digest()


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


async def _locked(conn: asyncpg.Connection, phone: str, ip: str) -> bool:
    """A code this address asked for this phone was burnt by wrong tries in the last LOCK_SECONDS."""
    return await conn.fetchval("select exists (select 1 from phone_codes where phone = $1 and ip = $2 and burnt "
                               "and used_at > $3)", phone, ip, clock.now() - timedelta(seconds=LOCK_SECONDS))


PHONE = re.compile(r"^1[3-9][0-9]{9}$")  # mainland China mobile numbers, ASCII digits only (\d would take ١٢٣)


def normalise_phone(phone: str) -> str:
    """The 11 digits of a mainland mobile number, spaces, dashes and +86 removed; else 422 on phone."""
    phone = re.sub(r"[\s-]", "", phone or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE.match(phone):
        raise DomainError("validation_failed", field="phone",
                          details={"problem": "must be an 11-digit mainland mobile number"})
    return phone


async def send_code(conn: asyncpg.Connection, *, phone: str, purpose: str, ip: str) -> Sent:
    """Store a fresh code for the phone, asked from `ip`, and send it. Earlier live codes of the purpose
    that this address asked for stop working (another address's code is not touched)."""
    if purpose not in PURPOSES:
        raise DomainError("validation_failed", field="purpose", details={"problem": "register or reset"})
    phone = normalise_phone(phone)
    if await _locked(conn, phone, ip):
        raise DomainError("sms_code_locked", details={"retry_after": LOCK_SECONDS})
    await ratelimit.take(conn, f"otp:send:ip:{ip}", SENDS_PER_IP_HOUR, 3600)
    await ratelimit.take(conn, f"otp:send:phone:{phone}:{ip}", SENDS_PER_PHONE_ADDRESS_HOUR, 3600)
    await ratelimit.take(conn, f"otp:send:phone:{phone}", SENDS_PER_PHONE_HOUR, 3600)
    code, salt, now = new_code(), secrets.token_bytes(16), clock.now()
    async with conn.transaction():
        await conn.execute("update phone_codes set used_at = $4 where phone = $1 and purpose = $2 and ip = $3 "
                           "and used_at is null", phone, purpose, ip, now)
        code_id = await conn.fetchval(
            "insert into phone_codes (phone, purpose, salt, code_hash, created_at, expires_at, ip) "
            "values ($1, $2, $3, $4, $5, $6, $7) returning id", phone, purpose, salt, _hash(salt, phone, code), now,
            now + VALID, ip)
    try:
        await sms.send_code(phone, code, key=f"phone_code:{code_id}")
    except sms.SmsError as failed:
        log.warning("%s", failed)
        raise DomainError("unavailable", details={"problem": "the SMS gateway did not take the message"}) from None
    return Sent(sent=True, expires_in=int(VALID.total_seconds()),
                demo_code=code if settings.get().sms_show_codes else None)


async def verify(conn: asyncpg.Connection, *, phone: str, purpose: str, code: str, ip: str) -> None:
    """Accept the phone's live code once, or raise sms_code_invalid / sms_code_locked.

    Runs outside the caller's transaction on purpose: a wrong guess must stay counted even when
    the request fails. The caller checks everything else first, so a good code is not spent on a
    request that fails for another reason."""
    if conn.is_in_transaction():
        raise RuntimeError("phones.verify counts wrong guesses: call it outside a transaction")
    if await _locked(conn, phone, ip):
        raise DomainError("sms_code_locked", field="code", details={"retry_after": LOCK_SECONDS})
    await ratelimit.require_below(conn, f"otp:wrong:ip:{ip}", WRONG_PER_IP_HOUR, 3600)
    code = (code or "").strip()
    now = clock.now()
    # Take one try of the newest live code this address asked for, atomically: a code never gets more
    # than TRIES_PER_CODE, and another address's guesses never spend it.
    row = await conn.fetchrow(
        """Update phone_codes set attempts = attempts + 1
           where id = (select id from phone_codes where phone = $1 and purpose = $2 and ip = $5 and used_at is null
                       and expires_at > $3 order by id desc limit 1)
             and attempts < $4 and used_at is null
           returning id, salt, code_hash, attempts""", phone, purpose, now, TRIES_PER_CODE, ip)
    if row is not None and len(code) == 6 and code.isascii() and code.isdigit() \
            and hmac.compare_digest(_hash(bytes(row["salt"]), phone, code), bytes(row["code_hash"])):
        spent = await conn.fetchval("update phone_codes set used_at = $2 where id = $1 and used_at is null "
                                    "returning id", row["id"], now)
        if spent:
            return
    await ratelimit.count(conn, f"otp:wrong:ip:{ip}", 3600)
    if row is not None and row["attempts"] >= TRIES_PER_CODE:
        await conn.execute("update phone_codes set used_at = $2, burnt = true where id = $1 and used_at is null",
                           row["id"], now)
        raise DomainError("sms_code_locked", field="code", details={"retry_after": LOCK_SECONDS})
    left = TRIES_PER_CODE - row["attempts"] if row is not None else 0
    raise DomainError("sms_code_invalid", field="code", details={"tries_left": left})

"""Accounts of people, passwords (argon2id), sessions and login throttling."""

import asyncio
import hashlib
import math
import secrets
from datetime import datetime, timedelta
from typing import overload

import asyncpg
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain import ledger
from domain.core import clock, queries, ratelimit
from domain.core.actor import ACTOR_SCOPE_COLUMNS
from domain.core.errors import DomainError
from domain.people import consent, phones
from domain.people.phones import PHONE, normalise_phone  # noqa: F401  (auth.normalise_phone for callers)

Q = queries.load("people")

SESSION_DAYS = 30
# Wrong logins are throttled per (phone, client address), never per phone alone: an attacker
# guessing from elsewhere cannot lock the owner out. Per pair: LOGIN_FREE_TRIES tries, then each
# further try waits LOGIN_BACKOFF_FIRST seconds, doubling each time up to LOGIN_BACKOFF_MAX. A
# successful login, or LOGIN_STREAK_FORGOTTEN seconds without any try, starts afresh.
LOGIN_FREE_TRIES = 5
LOGIN_BACKOFF_FIRST = 30
LOGIN_BACKOFF_MAX = 15 * 60
LOGIN_STREAK_FORGOTTEN = 60 * 60
LOGIN_FAILS_PER_IP = 50       # per 15 minutes, whatever the phones: one address spraying many phones
REGISTER_PER_IP = 20          # per hour
WINDOW = 15 * 60

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash to verify against when the phone is unknown, so timing does not reveal which part was wrong.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Session(msgspec.Struct, frozen=True):
    user_id: int
    csrf: str
    token_hash: bytes
    name: str = ""
    is_admin: bool = False
    manages: tuple[int, ...] = ()
    oversees: tuple[int, ...] = ()


class Login(msgspec.Struct, frozen=True):
    token: str
    csrf: str
    user_id: int


PASSWORD_RULE = "8 to 128 characters, at least 8 of them not spaces"  # shown on the register form too (i18n login.password_rule)


def check_password_strength(password: str, field: str = "password") -> None:
    """8 to 128 characters, at least 8 of them not whitespace (eight spaces is no password)."""
    visible = sum(1 for ch in password if not ch.isspace())
    if len(password) > 128 or visible < 8:
        raise DomainError("weak_password", field=field, details={"rule": PASSWORD_RULE})


def check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 50:
        raise DomainError("validation_failed", field="name", details={"problem": "1 to 50 characters"})
    return name


@overload
def mask_phone(phone: str) -> str: ...
@overload
def mask_phone(phone: None) -> None: ...
def mask_phone(phone: str | None) -> str | None:
    return phone[:3] + "****" + phone[-4:] if phone else phone


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def create_user(conn: asyncpg.Connection, *, phone: str, password: str | None, name: str,
                      is_admin: bool = False) -> int:
    phone = normalise_phone(phone)
    name = check_name(name)
    if password is not None:
        check_password_strength(password)
    async with conn.transaction():
        user_id = await conn.fetchval(
            "insert into users (phone, name, password_hash, is_admin) values ($1, $2, $3, $4) "
            "on conflict (phone) do nothing returning id",
            phone, name, await asyncio.to_thread(hash_password, password) if password is not None else None,
            is_admin)
        if user_id is None:
            raise DomainError("conflict", field="phone", details={"problem": "already registered"})
        await ledger.open_user_accounts(conn, user_id)
    return user_id


async def _new_session(conn: asyncpg.Connection, user_id: int) -> Login:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    await conn.execute("insert into sessions (token_hash, user_id, csrf, created_at, expires_at) "
                       "values ($1, $2, $3, $4, $5)", hash_token(token), user_id, csrf, clock.now(),
                       clock.now() + timedelta(days=SESSION_DAYS))
    return Login(token=token, csrf=csrf, user_id=user_id)


async def claim_invited(conn: asyncpg.Connection, *, phone: str, password: str, name: str) -> int | None:
    """A manager may invite a phone before its owner has an account (domain/people/members.py
    creates the person without a password). Registering with that phone claims the account, with
    its memberships and balance, and sets the password and name. Only `register` calls this, after
    the phone was proven with its SMS code."""
    phone = normalise_phone(phone)
    name = check_name(name)
    check_password_strength(password)
    user_id = await conn.fetchval("select id from users where phone = $1 and password_hash is null and active "
                                  "and closed_at is null for update", phone)
    if user_id is not None:  # hash only when there is something to claim: argon2 is slow on purpose
        await conn.execute("update users set password_hash = $2, name = $3 where id = $1",
                           user_id, await asyncio.to_thread(hash_password, password), name)
    return user_id


async def register(conn: asyncpg.Connection, *, phone: str, password: str, name: str, code: str, ip: str,
                   consent_version: int | None = None) -> Login:
    """Create an account, or claim an invited one, for a phone proven by its SMS code.

    Everything but the code is checked first, so a good code is not spent on a request that fails
    for another reason; the code is checked outside the transaction, so wrong guesses stay counted.
    A registered (claimed) phone is refused only after its code was right: only its owner learns it.
    No account without consent to the current privacy notice (PIPL): `consent_version` is the
    version the person ticked, recorded with the time in the account's transaction."""
    await ratelimit.take(conn, f"register:ip:{ip}", REGISTER_PER_IP, 3600)
    phone = normalise_phone(phone)
    name = check_name(name)
    check_password_strength(password)
    version = await consent.require_current(conn, "privacy", consent_version, "consent")
    await phones.verify(conn, phone=phone, purpose="register", code=code, ip=ip)
    async with conn.transaction():
        user_id = await claim_invited(conn, phone=phone, password=password, name=name)
        if user_id is None:
            try:
                user_id = await create_user(conn, phone=phone, password=password, name=name)
            except DomainError as error:
                if error.code == "conflict":
                    raise DomainError("already_registered", field="phone") from None
                raise
        await consent.record(conn, user_id, "privacy", version)
        return await _new_session(conn, user_id)


async def reset_password(conn: asyncpg.Connection, *, phone: str, code: str, password: str, ip: str) -> Login:
    """Set a new password for the phone proven by its SMS code; every other session ends. An
    invited account without a password is claimed this way too (its name stays as invited)."""
    phone = normalise_phone(phone)
    check_password_strength(password, "new_password")
    await phones.verify(conn, phone=phone, purpose="reset", code=code, ip=ip)
    hashed = await asyncio.to_thread(hash_password, password)  # argon2 off the event loop
    async with conn.transaction():
        user_id = await conn.fetchval(Q.active_user_by_phone_for_update, phone)
        if user_id is None:  # the owner of the phone proved it: telling them there is no account is fine
            raise DomainError("not_found", field="phone", details={"what": "account"})
        await conn.execute("update users set password_hash = $2 where id = $1", user_id, hashed)
        await conn.execute("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null",
                           user_id, clock.now())
        return await _new_session(conn, user_id)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password against a stored hash (always spending the hashing time). CPU-bound by
    design (argon2): async callers run it with `asyncio.to_thread`, as `matches` does."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
        return password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def matches(password_hash: str | None, password: str) -> bool:
    """`password_matches` in a worker thread: the event loop keeps serving others meanwhile."""
    return await asyncio.to_thread(password_matches, password_hash, password)


def backoff_seconds(tries: int) -> int:
    """The wait before the next try once `tries` tries of a streak went through (pure rule)."""
    if tries < LOGIN_FREE_TRIES:
        return 0
    return min(LOGIN_BACKOFF_MAX, LOGIN_BACKOFF_FIRST * 2 ** (tries - LOGIN_FREE_TRIES))


async def _take_login_try(conn: asyncpg.Connection, phone: str, ip: str) -> None:
    """Let this try through (and count it) or refuse it with the wait left, in one statement: the
    row lock of the UPSERT serialises concurrent tries, so 40 at once let exactly the limit through."""
    now = clock.now()
    # The backoff of `backoff_seconds`, in SQL, for the tries counted so far (t.tries).
    wait = (f"least({LOGIN_BACKOFF_MAX}, {LOGIN_BACKOFF_FIRST} * power(2, greatest(t.tries - {LOGIN_FREE_TRIES}, 0)))"
            f" * interval '1 second'")
    fresh = f"t.last_try <= $3 - interval '{LOGIN_STREAK_FORGOTTEN} seconds'"
    through = f"(t.tries < {LOGIN_FREE_TRIES} or t.last_try + {wait} <= $3)"
    row = await conn.fetchrow(
        f"""insert into login_throttle as t (phone, ip, tries, last_try, allowed) values ($1, $2, 1, $3, true)
            on conflict (phone, ip) do update set
                tries = case when {fresh} then 1 when {through} then t.tries + 1 else t.tries end,
                last_try = case when {fresh} or {through} then $3 else t.last_try end,
                allowed = {fresh} or {through}
            returning allowed, tries, last_try""", phone, ip, now)
    if not row["allowed"]:
        left = row["last_try"] + timedelta(seconds=backoff_seconds(row["tries"])) - now
        raise DomainError("rate_limited", details={"retry_after": max(1, math.ceil(left.total_seconds()))})


async def forget_old_tries(pool: asyncpg.Pool, now: datetime) -> int:
    """A sweep: forgotten login streaks (they hold a phone number) and rate-limit windows older than
    a day are only noise. Returns how many streaks it removed."""
    async with pool.acquire() as conn:
        await ratelimit.purge(conn)
        status = await conn.execute("delete from login_throttle where last_try < $1",
                                    now - timedelta(seconds=LOGIN_STREAK_FORGOTTEN))
    return int(status.split()[-1])


SWEEPS = (forget_old_tries,)  # listed in api/capabilities.py


async def login(conn: asyncpg.Connection, *, phone: str, password: str, ip: str) -> Login:
    """Check the password; every failure looks the same. Tries are counted before the password is
    checked (so concurrent ones cannot overshoot), per (phone, address) with a growing wait and per
    address in all; a success forgets the pair's streak and gives the address its try back."""
    phone = normalise_phone(phone)
    await ratelimit.take(conn, f"login:ip:{ip}", LOGIN_FAILS_PER_IP, WINDOW)
    await _take_login_try(conn, phone, ip)
    row = await conn.fetchrow("select id, password_hash from users where phone = $1 and active", phone)
    ok = await matches(row["password_hash"] if row else None, password) and row is not None
    if not ok:
        raise DomainError("bad_credentials")
    await conn.execute("delete from login_throttle where phone = $1 and ip = $2", phone, ip)
    await ratelimit.give_back(conn, f"login:ip:{ip}", WINDOW)
    if _hasher.check_needs_rehash(row["password_hash"]):
        await conn.execute("update users set password_hash = $2 where id = $1", row["id"],
                           await asyncio.to_thread(hash_password, password))
    return await _new_session(conn, row["id"])


async def session_for(conn: asyncpg.Connection, token: str) -> Session | None:
    """The live session for a token, with what every request needs to know of its person (one query)."""
    row = await conn.fetchrow(
        f"""select s.user_id, s.csrf, s.token_hash, u.name, u.is_admin, {ACTOR_SCOPE_COLUMNS}
           from sessions s join users u on u.id = s.user_id
           where s.token_hash = $1 and s.revoked_at is null and s.expires_at > $2 and u.active""",
        hash_token(token), clock.now())
    return Session(row["user_id"], row["csrf"], row["token_hash"], row["name"], row["is_admin"],
                   tuple(row["manages"]), tuple(row["oversees"])) if row else None


async def logout(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute("update sessions set revoked_at = $2 where token_hash = $1 and revoked_at is null",
                       token_hash, clock.now())


async def change_password(conn: asyncpg.Connection, user_id: int, old: str, new: str) -> Login:
    """A new password ends every other session of the person."""
    check_password_strength(new, "new_password")
    current = await conn.fetchval("select password_hash from users where id = $1", user_id)
    if not await matches(current, old):
        raise DomainError("bad_credentials", field="old_password")
    hashed = await asyncio.to_thread(hash_password, new)
    async with conn.transaction():
        await conn.execute("update users set password_hash = $2 where id = $1", user_id, hashed)
        await conn.execute("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null",
                           user_id, clock.now())
        return await _new_session(conn, user_id)

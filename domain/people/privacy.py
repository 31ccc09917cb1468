"""A person's own data (PIPL): take all of it, or close the account.

Export gathers everything Linli holds about the person: profile, roles, balances, full statements
in both units, holds, failed scans, sessions (times only), member cards (times only), the audit rows
about them, and the rows of every other table that names them as its subject. Those tables are
found in the catalogue (foreign keys to users whose column is a subject column such as user_id or
courier_id), so capabilities added later (attendance, redemptions, service requests, reports,
households ...) are exported without this module knowing them. Columns naming someone who acted
on the row (decided_by, reviewed_by ...) do not make a row the person's.

Closing erases or pseudonymises the personal fields (phone, name, password) and ends every
session and member card, but keeps the ledger intact: transfers and entries are append-only and
the person's accounts keep their balances, so every sum still balances. Memberships stay too,
so past rankings still add up; the person shows as "已注销用户" without a phone everywhere.
"""

from typing import Any

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock, codes, ratelimit
from domain.core.errors import DomainError
from domain.ledger import statements
from domain.people import auth, consent, identity

CLOSED_NAME = "已注销用户"
CLOSE_FAILS = 5        # wrong passwords per 15 minutes before closing is refused for a while
RECORDS_PER_TABLE = 10_000

# Columns that make a row "about" the person when they point at users(id).
SUBJECT_COLUMNS = frozenset({"user_id", "courier_id", "requester_id", "beneficiary_id", "volunteer_id",
                             "target_id", "member_id", "person_id", "on_behalf_of", "appellant_id"})
# Tables exported by their own section above, or that hold no data a person needs (secrets, caches).
HANDLED_TABLES = frozenset({"users", "sessions", "accounts", "transfers", "entries", "org_members",
                            "org_managers", "team_members", "failed_scans", "idempotency_keys", "audit_log",
                            "codes", "rate_hits", "consents", "identities"})


def _plain(value: object) -> Any:  # the value's own shape (a dict stays a dict, a list a list) in builtins
    return msgspec.to_builtins(value, enc_hook=str)


async def _rows(conn: asyncpg.Connection, sql: str, *args: object) -> list[dict]:
    return [_plain(dict(r)) for r in await conn.fetch(sql, *args)]


async def _full_statement(conn: asyncpg.Connection, user_id: int, unit: str,
                          rules_of: statements.RulesOf) -> list[dict]:
    lines, before = [], 0
    while True:
        page = await statements.statement(conn, user_id, unit, 100, before, rules_of=rules_of)
        lines += page.items
        if page.next_cursor is None:
            return _plain(lines)
        before = int(page.next_cursor)


async def subject_tables(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Every other table with a foreign key to users(id) on a subject column: {table: [columns]}."""
    rows = await conn.fetch(
        """Select c.conrelid::regclass::text as tbl, a.attname as col
           from pg_constraint c
           join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
           where c.contype = 'f' and c.confrelid = 'users'::regclass and cardinality(c.conkey) = 1
           order by 1, 2""")
    found: dict[str, list[str]] = {}
    for r in rows:
        if r["col"] in SUBJECT_COLUMNS and r["tbl"] not in HANDLED_TABLES:
            found.setdefault(r["tbl"], []).append(r["col"])
    return found


async def _records(conn: asyncpg.Connection, user_id: int) -> dict[str, list[dict]]:
    records = {}
    for table, columns in (await subject_tables(conn)).items():
        binary = {r["attname"] for r in await conn.fetch(
            "select attname from pg_attribute where attrelid = $1::regclass and atttypid = 'bytea'::regtype "
            "and attnum > 0 and not attisdropped", table)}
        # Names come from the catalogue (regclass::text is already quoted where needed), never from a request.
        where = " or ".join('"' + c.replace('"', '""') + '" = $1' for c in columns)
        rows = await conn.fetch(f"select * from {table} where {where} order by 1 limit {RECORDS_PER_TABLE}", user_id)
        # Images and other binaries are left out (their pages serve them); the row says they exist.
        records[table] = [_plain({k: (v if k not in binary else (len(v) if v is not None else None))
                                  for k, v in dict(r).items()}) for r in rows]
    return records


async def _identity(conn: asyncpg.Connection, user_id: int) -> identity.Identity:
    """The full ID number is the person's own; without the key configured the export still works, masked."""
    try:
        return await identity.own(conn, user_id)
    except DomainError:
        return await identity.masked(conn, user_id)


async def export(conn: asyncpg.Connection, user_id: int, *, rules_of: statements.RulesOf) -> dict:
    """All of a person's data as plain JSON-ready values; `rules_of` names the rule behind each
    statement line (domain/recognition/rulebook.py, a layer above people)."""
    profile = await conn.fetchrow("select id, name, phone, is_admin, active, created_at, closed_at, "
                                  "password_hash is not null as has_password from users where id = $1", user_id)
    if profile is None:
        raise DomainError("not_found", details={"what": "user"})
    accounts = [r["id"] for r in await conn.fetch(
        "select id from accounts where user_id = $1 and kind = 'user' order by id", user_id)]
    return {
        "exported_at": _plain(clock.now()),
        "profile": _plain(dict(profile)),
        "manages": await _rows(conn, "select o.id as org_id, o.name, m.created_at from org_managers m "
                                     "join orgs o on o.id = m.org_id where m.user_id = $1 order by o.id", user_id),
        "memberships": await _rows(
            conn, """select o.id as org_id, o.name as org_name, o.kind, m.role,
                            case when o.kind = 'grid' then o.parent_id else o.id end as community_id,
                            m.created_at as joined_at
                     from org_members m join orgs o on o.id = m.org_id where m.user_id = $1 order by o.id""", user_id),
        "teams": await _rows(conn, "select t.id as team_id, t.name, t.community_id, tm.created_at as joined_at "
                                   "from team_members tm join teams t on t.id = tm.team_id where tm.user_id = $1 "
                                   "order by t.id", user_id),
        "balances": _plain(await ledger.balances(conn, user_id)),
        "statements": {unit: await _full_statement(conn, user_id, unit, rules_of) for unit in ledger.UNITS},
        "holds": await _rows(conn, """select id as transfer_id, unit, amount, kind, state, cause_type, cause_id, memo,
                                             created_at, expires_at
                                      from transfers where debit_account = any($1) and state = 'pending'
                                      order by id""", accounts),
        "failed_scans": await _rows(conn, "select id, code_kind, activity_id, reason, details, created_at "
                                          "from failed_scans where user_id = $1 order by id", user_id),
        "sessions": await _rows(conn, "select created_at, expires_at, revoked_at from sessions where user_id = $1 "
                                      "order by created_at", user_id),
        "member_cards": await _rows(conn, "select created_at, revoked_at from codes where kind = 'member' "
                                          "and target_id = $1 order by created_at", user_id),
        "audit_about_me": await _rows(
            conn, """select a.id, a.created_at, a.act, u.name as actor_name, a.community_id, a.before, a.after,
                            a.reason
                     from audit_log a left join users u on u.id = a.actor_id
                     where a.target_type = 'user' and a.target_id = $1 order by a.id""", user_id),
        "records": await _records(conn, user_id),
        # every consent given (version, time, by whom), the real name in full (the person's
        # own view), the guardian who manages a minor's account
        "consents": _plain(await consent.history(conn, user_id)),
        "identity": _plain(await _identity(conn, user_id)),
        "guardian": await _rows(conn, "select g.guardian_id, u.name as guardian_name, g.created_at "
                                      "from guardianships g join users u on u.id = g.guardian_id "
                                      "where g.minor_id = $1", user_id),
    }


async def close_account(conn: asyncpg.Connection, user_id: int, password: str, *, ip: str | None = None) -> None:
    """Erase the person's personal fields and end their access; the ledger keeps every row."""
    bucket = f"close:user:{user_id}"
    await ratelimit.require_below(conn, bucket, CLOSE_FAILS, auth.WINDOW)
    stored = await conn.fetchval("select password_hash from users where id = $1", user_id)
    if not auth.password_matches(stored, password):
        await ratelimit.count(conn, bucket, auth.WINDOW)  # outside the transaction: failures must count
        raise DomainError("bad_credentials", field="password")
    async with conn.transaction():
        row = await conn.fetchrow("select phone, is_admin, closed_at from users where id = $1 for update", user_id)
        if row["closed_at"] is not None:
            raise DomainError("invalid_state", details={"problem": "already closed"})
        if row["is_admin"] or await conn.fetchval("select 1 from org_managers where user_id = $1", user_id):
            raise DomainError("invalid_state", details={"problem": "hand over your admin or manager roles first"})
        now = clock.now()
        await conn.execute("update users set phone = null, name = $2, password_hash = null, active = false, "
                           "closed_at = $3 where id = $1", user_id, CLOSED_NAME, now)
        await conn.execute("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null",
                           user_id, now)
        await codes.revoke_all(conn, "member", user_id)
        # the real name and the WeChat binding are personal data too (records stay, keyed by id)
        await conn.execute("update identities set id_number_enc = null, id_number_masked = null, birth_date = null, "
                           "volunteer_number = null, updated_at = $2 where user_id = $1", user_id, now)
        await conn.execute("delete from wechat_bindings where user_id = $1", user_id)
        # Replay caches may quote the person's answers; rate-limit buckets are keyed by phone.
        await conn.execute("delete from idempotency_keys where user_id = $1", user_id)
        if row["phone"]:
            await conn.execute("delete from rate_hits where bucket like '%:' || $1", row["phone"])
        await audit.record(conn, user_id, "account_close", community_id=None, target=("user", user_id), ip=ip)


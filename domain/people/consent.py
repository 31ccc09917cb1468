"""Privacy notices and consent (PIPL).

A notice is versioned text an admin edits (every edit is a new version, the highest is current).
Consent is one row per agreement with the version and the time, never updated, so the history is
the record and goes into the person's own export. Three kinds: 'privacy' (at registration, and
again at the next sign-in after a new version), 'id_number' (before an ID number is stored) and
'guardian' (a guardian registering a minor). Withdrawing consent is closing the account.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found

KINDS = ("privacy", "id_number", "guardian")


class Notice(msgspec.Struct, frozen=True):
    kind: str
    version: int
    body: str
    created_at: datetime


class Consent(msgspec.Struct, frozen=True):
    kind: str
    version: int
    given_at: datetime
    given_by: int | None = None   # a guardian, when not the person


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise invalid("kind", "privacy, id_number or guardian")
    return kind


async def current(conn: asyncpg.Connection, kind: str) -> Notice:
    row = await conn.fetchrow("select kind, version, body, created_at from privacy_notices where kind = $1 "
                              "order by version desc limit 1", _kind(kind))
    if row is None:
        raise not_found("notice")
    return Notice(**row)


async def publish(conn: asyncpg.Connection, actor: Actor, kind: str, body: str) -> Notice:
    """A new version of the notice (admins only); everyone is asked again at their next sign-in."""
    if not actor.is_admin:
        raise forbidden("admins only")
    body = (body or "").strip()
    if not 20 <= len(body) <= 20000:
        raise invalid("body", "20 to 20000 characters")
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(hashtext('privacy_notice:' || $1))", _kind(kind))
        version = await conn.fetchval("select coalesce(max(version), 0) + 1 from privacy_notices where kind = $1",
                                      kind)
        row = await conn.fetchrow(
            "insert into privacy_notices (kind, version, body, created_by, created_at) values ($1, $2, $3, $4, $5) "
            "returning kind, version, body, created_at", kind, version, body, actor.id, clock.now())
        await audit.record(conn, actor, "privacy_notice", community_id=None, target=("notice", version),
                           after={"kind": kind, "version": version})
    return Notice(**row)


async def require_current(conn: asyncpg.Connection, kind: str, version: int | None, field: str) -> int:
    """The version a person ticked must be the current one; no tick (None) is no consent."""
    notice = await current(conn, kind)
    if version is None:
        raise DomainError("consent_required", field=field, details={"kind": kind, "version": notice.version})
    if version != notice.version:
        raise DomainError("consent_required", field=field,
                          details={"kind": kind, "version": notice.version, "problem": "a newer notice"})
    return notice.version


async def record(conn: asyncpg.Connection, user_id: int, kind: str, version: int, *,
                 given_by: int | None = None) -> None:
    await conn.execute("insert into consents (user_id, kind, version, given_at, given_by) values ($1, $2, $3, $4, $5)",
                       user_id, kind, version, clock.now(), given_by)


async def give(conn: asyncpg.Connection, user_id: int, kind: str, version: int | None) -> list[Consent]:
    """The person agrees to the current notice of a kind (the re-ask after a new version)."""
    version = await require_current(conn, _kind(kind), version, "version")
    async with conn.transaction():
        already = await conn.fetchval("select 1 from consents where user_id = $1 and kind = $2 and version = $3 "
                                      "and given_by is null", user_id, kind, version)
        if not already:
            await record(conn, user_id, kind, version)
    return await history(conn, user_id)


async def due(conn: asyncpg.Connection, user_id: int) -> int | None:
    """The privacy notice version the person has not agreed to yet (asked at sign-in), else None."""
    return await conn.fetchval(
        """Select n.version from privacy_notices n
           where n.kind = 'privacy' and n.version = (select max(version) from privacy_notices where kind = 'privacy')
             and not exists (select 1 from consents c where c.user_id = $1 and c.kind = 'privacy'
                                                        and c.version = n.version)""", user_id)


async def history(conn: asyncpg.Connection, user_id: int) -> list[Consent]:
    rows = await conn.fetch("select kind, version, given_at, given_by from consents where user_id = $1 order by id",
                            user_id)
    return [Consent(**r) for r in rows]

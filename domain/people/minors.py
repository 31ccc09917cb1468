"""A guardian registers a minor: volunteers under 18 need a guardian's consent, and the
guardian manages the minor's account (sees it, exports its data, adds its ID number).

The minor's account has no phone and no password (like a resident without a phone); the guardian
consents to the 'guardian' notice and to the privacy notice on the minor's behalf (given_by)."""

from datetime import date

import asyncpg
import msgspec

from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import invalid, not_found
from domain.people import auth, consent

ADULT_AGE = 18


class Minor(msgspec.Struct, frozen=True):
    id: int
    name: str
    birth_date: date | None


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


async def register(conn: asyncpg.Connection, guardian: Actor, *, name: str, birth_date: date,
                   guardian_consent: int | None, privacy_consent: int | None) -> Minor:
    name = auth.check_name(name)
    today = clock.now().date()
    if birth_date > today or age_on(birth_date, today) >= ADULT_AGE:
        raise invalid("birth_date", "under 18: adults register themselves")
    g_version = await consent.require_current(conn, "guardian", guardian_consent, "guardian_consent")
    p_version = await consent.require_current(conn, "privacy", privacy_consent, "consent")
    async with conn.transaction():
        user_id = await conn.fetchval("insert into users (phone, name) values (null, $1) returning id", name)
        from domain import ledger
        await ledger.open_user_accounts(conn, user_id)
        await conn.execute("insert into guardianships (minor_id, guardian_id, created_at) values ($1, $2, $3)",
                           user_id, guardian.id, clock.now())
        await conn.execute("insert into identities (user_id, birth_date, updated_at) values ($1, $2, $3)",
                           user_id, birth_date, clock.now())
        await consent.record(conn, user_id, "guardian", g_version, given_by=guardian.id)
        await consent.record(conn, user_id, "privacy", p_version, given_by=guardian.id)
        await audit.record(conn, guardian, "minor_register", community_id=None, target=("user", user_id),
                           after={"guardian_id": guardian.id})
    return Minor(user_id, name, birth_date)


async def list_minors(conn: asyncpg.Connection, guardian: Actor) -> list[Minor]:
    rows = await conn.fetch("""select u.id, u.name, i.birth_date from guardianships g join users u on u.id = g.minor_id
                               left join identities i on i.user_id = u.id
                               where g.guardian_id = $1 and u.closed_at is null order by u.id""", guardian.id)
    return [Minor(**r) for r in rows]


async def require_guardian(conn: asyncpg.Connection, guardian: Actor, minor_id: int) -> None:
    if not await conn.fetchval("select 1 from guardianships where minor_id = $1 and guardian_id = $2",
                               minor_id, guardian.id):
        raise not_found("minor")

"""Certificates of service hours others can trust (志愿服务记录证明).

申请 → 开具: the person asks a community they belong to; a manager of it (never the person) issues
it: a certificate number, a verification code, and the hours as they stand then (domain/timebank
Hours: activities + services + adjustments), archived. A manager may revoke it with a reason. The
public page /v/<code> shows the masked name, the hours, the issuer and the date, or says plainly
that the code is unknown or the certificate revoked. Issue and revoke are audited.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import notify, timebank
from domain.core import audit, clock, codes, qr
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    state: str
    user_id: int
    community_id: int
    community_name: str
    requested_at: datetime
    number: str | None = None
    code: str | None = None
    verify_url: str | None = None
    qr_svg: str | None = None
    hours: timebank.Hours | None = None
    issued_by_name: str | None = None
    issued_at: datetime | None = None
    contact: str | None = None
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


class CertificatePage(msgspec.Struct, frozen=True):
    items: list[Certificate]


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    state: str                       # issued (valid) or revoked
    number: str
    masked_name: str
    hours: timebank.Hours
    community_name: str
    issued_at: datetime
    revoked_at: datetime | None


_SELECT = """select c.*, o.name as community_name, u.name as issued_by_name
               from service_certificates c join orgs o on o.id = c.community_id
               left join users u on u.id = c.issued_by"""


def verify_url(code: str) -> str:
    return f"{codes.public_url()}/v/{code}"


def _hours(value) -> timebank.Hours:
    # The pool decodes jsonb; a bare connection hands back text.
    return msgspec.json.decode(value, type=timebank.Hours) if isinstance(value, str) \
        else msgspec.convert(value, timebank.Hours)


def _certificate(row: asyncpg.Record) -> Certificate:
    url = verify_url(row["code"]) if row["code"] else None
    return Certificate(
        id=row["id"], state=row["state"], user_id=row["user_id"], community_id=row["community_id"],
        community_name=row["community_name"], requested_at=row["requested_at"], number=row["number"],
        code=row["code"], verify_url=url, qr_svg=qr.qr_svg(url) if url else None,
        hours=_hours(row["hours"]) if row["hours"] else None,
        issued_by_name=row["issued_by_name"], issued_at=row["issued_at"], contact=row["contact"],
        revoked_at=row["revoked_at"], revoke_reason=row["revoke_reason"])


async def _load(conn: asyncpg.Connection, certificate_id: int, *, lock: bool = False) -> asyncpg.Record:
    if lock and not await conn.fetchval("select 1 from service_certificates where id = $1 for update",
                                        certificate_id):
        raise not_found("certificate")
    row = await conn.fetchrow(_SELECT + " where c.id = $1", certificate_id)
    if row is None:
        raise not_found("certificate")
    return row


async def request(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Certificate:
    if community_id not in await orgs.member_communities(conn, actor.id):
        raise DomainError("not_member", field="community_id")
    certificate_id = await conn.fetchval(
        "insert into service_certificates (user_id, community_id, requested_at) values ($1, $2, $3) returning id",
        actor.id, community_id, clock.now())
    return _certificate(await _load(conn, certificate_id))


async def listing(conn: asyncpg.Connection, actor: Actor, community_id: int | None) -> CertificatePage:
    """Mine, or (a manager) a community's, newest first."""
    if community_id is None:
        rows = await conn.fetch(_SELECT + " where c.user_id = $1 order by c.id desc limit 100", actor.id)
    else:
        orgs.require_manager(actor, community_id)
        rows = await conn.fetch(_SELECT + " where c.community_id = $1 order by c.id desc limit 100", community_id)
    return CertificatePage([_certificate(r) for r in rows])


async def issue(conn: asyncpg.Connection, actor: Actor, certificate_id: int, contact: str | None = None,
                ip: str | None = None) -> Certificate:
    contact = " ".join((contact or "").split()) or None
    if contact and len(contact) > 100:
        raise invalid("contact", "at most 100 characters")
    async with conn.transaction():
        row = await _load(conn, certificate_id, lock=True)
        orgs.require_manager(actor, row["community_id"])
        if row["user_id"] == actor.id:
            raise forbidden("nobody certifies their own hours")
        if row["state"] != "requested":
            raise DomainError("invalid_state", details={"state": row["state"]})
        hours = await timebank.hours_of(conn, row["user_id"])
        name = await conn.fetchval("select name from users where id = $1", row["user_id"])
        now = clock.now()
        number = f"LL{clock.local_day(now).year}-{row['community_id']:04d}-{certificate_id:06d}"
        await conn.execute(
            """Update service_certificates set state = 'issued', number = $2, code = $3, hours = $4::text::jsonb,
                      masked_name = $5, issued_by = $6, issued_at = $7, contact = $8 where id = $1""",
            certificate_id, number, codes.new_code(), msgspec.json.encode(hours).decode(),
            timebank.mask_name(name), actor.id, now, contact)
        await audit.record(conn, actor, "certificate_issue", community_id=row["community_id"],
                           target=("user", row["user_id"]),
                           after={"certificate_id": certificate_id, "number": number,
                                  "hours_minutes": hours.total_minutes}, ip=ip)
        await notify.send(conn, row["user_id"], "certificate_issued", community_id=row["community_id"],
                          params={"number": number, "minutes": hours.total_minutes},
                          link=f"/certificate.html?id={certificate_id}")
    return _certificate(await _load(conn, certificate_id))


async def revoke(conn: asyncpg.Connection, actor: Actor, certificate_id: int, reason: str,
                 ip: str | None = None) -> Certificate:
    reason = " ".join((reason or "").split())
    if not reason:
        raise invalid("reason", "required")
    async with conn.transaction():
        row = await _load(conn, certificate_id, lock=True)
        orgs.require_manager(actor, row["community_id"])
        if row["state"] != "issued":
            raise DomainError("invalid_state", details={"state": row["state"]})
        await conn.execute("update service_certificates set state = 'revoked', revoked_by = $2, revoked_at = $3, "
                           "revoke_reason = $4 where id = $1", certificate_id, actor.id, clock.now(), reason[:500])
        await audit.record(conn, actor, "certificate_revoke", community_id=row["community_id"],
                           target=("user", row["user_id"]), before={"number": row["number"]},
                           after={"certificate_id": certificate_id}, reason=reason[:500], ip=ip)
    return _certificate(await _load(conn, certificate_id))


async def verify(conn: asyncpg.Connection, code: str) -> Verification:
    """Public: what the certificate with this code says, or `code_unknown`."""
    row = await conn.fetchrow(_SELECT + " where c.code = $1 and c.state <> 'requested'", (code or "")[:64])
    if row is None:
        raise DomainError("code_unknown")
    return Verification(state=row["state"], number=row["number"], masked_name=row["masked_name"],
                        hours=_hours(row["hours"]), community_name=row["community_name"],
                        issued_at=row["issued_at"], revoked_at=row["revoked_at"])


# ---- corrections of a person's record ---------------------------------------------------------------

class Correction(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    community_id: int
    request: str
    requested_at: datetime
    state: str                       # open, accepted, declined
    answer: str | None
    answered_at: datetime | None


class CorrectionPage(msgspec.Struct, frozen=True):
    items: list[Correction]


def _correction(row: asyncpg.Record) -> Correction:
    return Correction(id=row["id"], user_id=row["user_id"], community_id=row["community_id"], request=row["request"],
                      requested_at=row["requested_at"], state=row["state"], answer=row["answer"],
                      answered_at=row["answered_at"])


def _text(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise invalid(field, "required")
    if len(value) > 1000:
        raise invalid(field, "at most 1000 characters")
    return value


async def ask_correction(conn: asyncpg.Connection, actor: Actor, community_id: int, request: str) -> Correction:
    """A person asks a community they belong to to correct their record (hours, points, a service)."""
    request = _text(request, "request")
    if community_id not in await orgs.member_communities(conn, actor.id):
        raise DomainError("not_member", field="community_id")
    row = await conn.fetchrow(
        "insert into record_corrections (user_id, community_id, request, requested_at) values ($1, $2, $3, $4) "
        "returning *", actor.id, community_id, request, clock.now())
    return _correction(row)


async def corrections(conn: asyncpg.Connection, actor: Actor, community_id: int | None) -> CorrectionPage:
    if community_id is None:
        rows = await conn.fetch("select * from record_corrections where user_id = $1 order by id desc limit 100",
                                actor.id)
    else:
        orgs.require_manager(actor, community_id)
        rows = await conn.fetch("select * from record_corrections where community_id = $1 order by id desc limit 100",
                                community_id)
    return CorrectionPage([_correction(r) for r in rows])


async def answer_correction(conn: asyncpg.Connection, actor: Actor, correction_id: int, *, accepted: bool,
                            answer: str, ip: str | None = None) -> Correction:
    """A manager of the community (not the person) answers once; the answer is audited. An accepted
    correction is made through the ledger (an adjustment) or the record it names, by the same manager."""
    answer = _text(answer, "answer")
    async with conn.transaction():
        row = await conn.fetchrow("select * from record_corrections where id = $1 for update", correction_id)
        if row is None:
            raise not_found("correction")
        orgs.require_manager(actor, row["community_id"])
        if row["user_id"] == actor.id:
            raise forbidden("nobody answers their own request")
        if row["state"] != "open":
            raise DomainError("invalid_state", details={"state": row["state"]})
        state = "accepted" if accepted else "declined"
        updated = await conn.fetchrow(
            "update record_corrections set state = $2, answer = $3, answered_by = $4, answered_at = $5 "
            "where id = $1 returning *", correction_id, state, answer, actor.id, clock.now())
        await audit.record(conn, actor, "correction_answer", community_id=row["community_id"],
                           target=("user", row["user_id"]), before={"state": "open", "request": row["request"]},
                           after={"correction_id": correction_id, "state": state, "answer": answer}, ip=ip)
    return _correction(updated)

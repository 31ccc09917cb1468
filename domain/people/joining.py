"""Self-join: a person asks to join a community, its managers approve or reject.

Membership is granted here only by the person's own request, decided by a manager of that
community (or by the community's auto-approve policy). A request starts from:
- the community's join code (`<public url>/j/<code>`, printed as a poster like an activity's), or
- an activity code the person scanned and was refused with `not_member`: the request remembers the
  activity, and approving it completes that check-in at once when the activity's window is still
  open (the person's page shows it without scanning again); after the window it says so.

Approving and rejecting are audited (join_approve / join_reject, with the reason); the policy
change too (join_policy). A manager never decides their own request. Requesters see their own
request; managers see their communities' queues, with phones masked (the person is not yet theirs).
"""

import base64
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from domain.core import audit, clock, holds, outbox, qr, queries, settings
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import auth, orgs

# Completes the check-in a request kept, as its person once a member, and says what it did ({action,
# title, points, minutes}); a refusal raises DomainError. It is domain/checkin's `complete_scan`,
# passed in by the caller: checkin sits above people.
CompleteScan = Callable[[asyncpg.Connection, int, str, str | None], Awaitable[dict[str, Any]]]

Q = queries.load("people")
REASK_AFTER = timedelta(days=1)  # after a rejection, before the same person may ask the same community again
INSTRUCTIONS = {"zh": "扫码申请加入本社区，审核通过即可参加活动",
                "en": "Scan with your phone camera to ask to join; once the community approves, you can take part."}


class JoinPreview(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    street_name: str | None
    is_member: bool | None = None        # None when logged out
    request: "JoinRequest | None" = None  # the viewer's pending request


class JoinRequest(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    community_name: str
    user_id: int
    name: str
    phone: str | None              # masked for managers: the person is not yet a member
    state: str                     # pending | approved | rejected
    activity_id: int | None
    activity_title: str | None
    created_at: datetime
    decided_at: datetime | None
    reason: str | None
    checkin: dict[str, Any] | None  # after approval: what the pending check-in did
    building: str | None = None     # where the person says they live (楼栋, 单元), for the approving manager
    unit_no: str | None = None


class CommunityHit(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    street_name: str | None
    district_name: str | None
    address: str | None


class Queue(msgspec.Struct, frozen=True):
    items: list[JoinRequest]
    pending: int


class Policy(msgspec.Struct, frozen=True):
    community_id: int
    auto_approve: bool
    pending_id: int | None = None  # turning auto-approval on, waiting for a second person
    held: bool = False             # this change was held (answered 202)


class JoinCode(msgspec.Struct, frozen=True):
    code: str
    url: str


def _new_code() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def url_for(code: str) -> str:
    return f"{settings.get().public_url}/j/{code}"


async def _community(conn: asyncpg.Connection, community_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select c.id, c.name, s.name as street_name from orgs c left join orgs s "
                              "on s.id = c.parent_id where c.id = $1 and c.kind = 'community'", community_id)
    if row is None:
        raise not_found("community")
    return row


# ---- the join code and its poster --------------------------------------------------------------

async def join_code(conn: asyncpg.Connection, actor: Actor, community_id: int, *, reissue: bool = False) -> JoinCode:
    """The community's live join code (made on first use); `reissue` revokes the printed one."""
    orgs.require_manager(actor, community_id)
    await _community(conn, community_id)
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(4018, $1::int)", community_id)
        if reissue:
            await conn.execute("update join_codes set revoked_at = $2 where community_id = $1 and revoked_at is null",
                               community_id, clock.now())
        code = await conn.fetchval("select code from join_codes where community_id = $1 and revoked_at is null "
                                   "order by created_at desc limit 1", community_id)
        if code is None:
            code = await conn.fetchval("insert into join_codes (code, community_id, created_at) values ($1, $2, $3) "
                                       "returning code", _new_code(), community_id, clock.now())
    return JoinCode(code, url_for(code))


async def poster(conn: asyncpg.Connection, actor: Actor, community_id: int, *, fmt: str, lang: str) -> bytes | str:
    """The printable A4 join poster (SVG text or PNG bytes), like an activity's."""
    code = await join_code(conn, actor, community_id)
    community = await _community(conn, community_id)
    title = f"Join {community['name']}" if lang == "en" else f"申请加入{community['name']}"
    args: dict[str, Any] = dict(title=title, when="Always open" if lang == "en" else "长期有效",
                                place=" · ".join(n for n in (community["street_name"], community["name"]) if n),
                                url=code.url, lang=lang, instructions=INSTRUCTIONS)  # both renderers' keywords
    return qr.poster_png(**args) if fmt == "png" else qr.poster_svg(**args)


async def _community_of_join_code(conn: asyncpg.Connection, code: str) -> int:
    community_id = await conn.fetchval("select community_id from join_codes where code = $1 and revoked_at is null",
                                       (code or "").strip().lower()[:32])
    if community_id is None:
        raise DomainError("code_unknown")
    return community_id


async def preview(conn: asyncpg.Connection, viewer: Actor | None, code: str) -> JoinPreview:
    community = await _community(conn, await _community_of_join_code(conn, code))
    if viewer is None:
        return JoinPreview(community["id"], community["name"], community["street_name"])
    is_member = community["id"] in await orgs.member_communities(conn, viewer.id)
    pending = await conn.fetchval(Q.pending_join_request, community["id"], viewer.id)
    return JoinPreview(community["id"], community["name"], community["street_name"], is_member,
                       await _load(conn, pending, viewer) if pending else None)


# ---- policy ------------------------------------------------------------------------------------

async def _policy(conn: asyncpg.Connection, community_id: int) -> Policy:
    row = await conn.fetchrow(
        """Select (select auto_approve from join_policies where community_id = $1) as auto,
                  (select id from held_acts where community_id = $1 and kind = 'policy' and state = 'pending'
                     and payload->>'policy' = 'join' order by id desc limit 1) as pending""", community_id)
    return Policy(community_id, bool(row["auto"]), row["pending"])


async def policy(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Policy:
    orgs.require_manager(actor, community_id)
    await _community(conn, community_id)
    return await _policy(conn, community_id)


async def set_policy(conn: asyncpg.Connection, actor: Actor, community_id: int, auto_approve: bool, *,
                     ip: str | None = None) -> Policy:
    """Turning auto-approval off applies at once; turning it on by a manager of the community waits
    for another manager or a street manager (an admin's applies at once)."""
    orgs.require_manager(actor, community_id)
    await _community(conn, community_id)
    async with conn.transaction():
        before = await conn.fetchval("select auto_approve from join_policies where community_id = $1 for update",
                                     community_id)
        if auto_approve and not before and not actor.is_admin:
            held = await holds.hold(conn, actor, community_id, "policy",
                                        payload={"policy": "join", "auto_approve": True},
                                        evidence={"before": {"auto_approve": False}, "after": {"auto_approve": True},
                                                  "loosens": ["auto_approve"]}, ip=ip)
            await holds.flag(conn, community_id, actor.id, "policy_loosen",
                                 {"held_id": held, "loosens": ["auto_approve"]})
            return msgspec.structs.replace(await _policy(conn, community_id), held=True)
        await apply_policy(conn, actor, community_id, auto_approve, ip=ip)
        return await _policy(conn, community_id)


async def apply_policy(conn: asyncpg.Connection, actor: Actor, community_id: int, auto_approve: bool, *,
                       ip: str | None = None, held_id: int | None = None) -> None:
    """Write the join policy (in the caller's transaction), audited with before and after."""
    before = await conn.fetchval("select auto_approve from join_policies where community_id = $1 for update",
                                 community_id)
    await conn.execute("insert into join_policies (community_id, auto_approve, updated_at) values ($1, $2, $3) "
                       "on conflict (community_id) do update set auto_approve = $2, updated_at = $3",
                       community_id, auto_approve, clock.now())
    if held_id is None:  # approved from the held queue: its approval is the act's audit row
        await audit.record(conn, actor, "join_policy", community_id=community_id, target=("org", community_id),
                           before={"auto_approve": bool(before)}, after={"auto_approve": auto_approve}, ip=ip)


# ---- requests ----------------------------------------------------------------------------------

_REQUEST_SQL = """
    select r.*, c.name as community_name, u.name, u.phone, a.title as activity_title
    from join_requests r join orgs c on c.id = r.community_id join users u on u.id = r.user_id
    left join activities a on a.id = r.activity_id"""


def _request(row: asyncpg.Record, viewer: Actor) -> JoinRequest:
    phone = row["phone"] if viewer.id == row["user_id"] else auth.mask_phone(row["phone"])
    return JoinRequest(id=row["id"], community_id=row["community_id"], community_name=row["community_name"],
                       user_id=row["user_id"], name=row["name"], phone=phone, state=row["state"],
                       activity_id=row["activity_id"], activity_title=row["activity_title"],
                       created_at=row["created_at"], decided_at=row["decided_at"], reason=row["reason"],
                       checkin=row["checkin"], building=row["building"], unit_no=row["unit_no"])


async def _load(conn: asyncpg.Connection, request_id: int, viewer: Actor) -> JoinRequest:
    row = await conn.fetchrow(_REQUEST_SQL + " where r.id = $1", request_id)
    if row is None:
        raise not_found("join request")
    return _request(row, viewer)


async def get(conn: asyncpg.Connection, viewer: Actor, request_id: int) -> JoinRequest:
    """The requester's own request, or one of a community the viewer manages (404 to anyone else)."""
    request = await _load(conn, request_id, viewer)
    if request.user_id != viewer.id and not viewer.is_admin and request.community_id not in viewer.manages:
        raise not_found("join request")
    return request


async def _activity_of_scan(conn: asyncpg.Connection, code: str) -> tuple[int, int]:
    """(activity id, its community) for an activity's poster or rotating code."""
    row = await conn.fetchrow("select a.id, a.community_id from codes k join activities a on a.id = k.target_id "
                              "where k.code = $1 and k.kind in ('poster', 'rotating')",
                              (code or "").strip().lower()[:32])
    if row is None:
        raise DomainError("code_unknown")
    return row["id"], row["community_id"]


async def search(conn: asyncpg.Connection, query: str) -> list[CommunityHit]:
    """Find where one lives: communities whose name, street, district or address holds
    every word typed. The tree's names are public (they are on every poster)."""
    words = [w for w in (query or "").split() if w][:5]
    if not words or any(len(w) > 50 for w in words):
        raise invalid("q", "1 to 5 words of at most 50 characters")
    patterns = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
    rows = await conn.fetch(
        """Select c.id as community_id, c.name as community_name, s.name as street_name, d.name as district_name,
                  c.address
           from orgs c left join orgs s on s.id = c.parent_id left join orgs d on d.id = s.parent_id
           where c.kind = 'community'
             and (select bool_and(concat_ws(' ', c.name, s.name, d.name, c.address) ilike p)
                  from unnest($1::text[]) p)
           order by c.name, c.id limit 20""", patterns)
    return [CommunityHit(**dict(r)) for r in rows]


def _where(text: str | None, field: str) -> str | None:
    text = " ".join((text or "").split()) or None
    if text and len(text) > 50:
        raise invalid(field, "at most 50 characters")
    return text


async def ask(pool: asyncpg.Pool, actor: Actor, *, complete_scan: CompleteScan, join_code: str | None = None,
              scan_code: str | None = None, community_id: int | None = None, nonce: str | None = None,
              building: str | None = None, unit_no: str | None = None, ip: str | None = None) -> JoinRequest:
    """Ask to join the community of a join code, of the activity whose code was refused
    (`not_member`), or one found by searching (`community_id`), saying which building and unit one
    lives in. Asking again while a request waits returns that request (with the newer scan).
    With the community's auto-approve policy the request is approved at once."""
    if sum(x is not None for x in (join_code, scan_code, community_id)) != 1:
        raise invalid("join_code", "a join code, the scanned activity code, or a community found by searching")
    building, unit_no = _where(building, "building"), _where(unit_no, "unit_no")
    async with pool.acquire() as conn, conn.transaction():
        activity_id = None
        if community_id is not None:
            if await conn.fetchval("select kind from orgs where id = $1", community_id) != "community":
                raise not_found("community")
        elif join_code is not None:
            community_id = await _community_of_join_code(conn, join_code)
        else:
            assert scan_code is not None  # exactly one of the two was given (checked above)
            activity_id, community_id = await _activity_of_scan(conn, scan_code)
        await conn.execute("select 1 from users where id = $1 for update", actor.id)  # one request at a time
        if community_id in await orgs.member_communities(conn, actor.id):
            raise DomainError("already_member")
        # After a rejection, a day's pause: a refused person cannot flood the managers' queue.
        rejected_at = await conn.fetchval(
            "select max(decided_at) from join_requests where community_id = $1 and user_id = $2 "
            "and state = 'rejected'", community_id, actor.id)
        if rejected_at is not None and clock.now() - rejected_at < REASK_AFTER:
            wait = REASK_AFTER - (clock.now() - rejected_at)
            raise DomainError("rate_limited", details={"retry_after": int(wait.total_seconds())})
        request_id = await conn.fetchval(
            """Update join_requests set activity_id = coalesce($3, activity_id), scan_code = coalesce($4, scan_code),
                      nonce = coalesce($5, nonce), building = coalesce($6, building), unit_no = coalesce($7, unit_no)
               where community_id = $1 and user_id = $2 and state = 'pending' returning id""",
            community_id, actor.id, activity_id, scan_code, nonce, building, unit_no)
        if request_id is None:
            request_id = await conn.fetchval(
                """Insert into join_requests (community_id, user_id, state, activity_id, scan_code, nonce, created_at,
                                              building, unit_no)
                   values ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) returning id""",
                community_id, actor.id, activity_id, scan_code, nonce, clock.now(), building, unit_no)
        auto = await conn.fetchval("select auto_approve from join_policies where community_id = $1", community_id)
        if auto and community_id in actor.manages:
            # Auto-approval never admits a manager of the community: another
            # manager decides, and the attempt is flagged.
            await holds.flag(conn, community_id, actor.id, "own_join", {"request_id": request_id})
        elif auto:
            await _approve(conn, None, request_id, complete_scan, ip=ip)
        return await _load(conn, request_id, actor)


async def queue(conn: asyncpg.Connection, actor: Actor, community_id: int, *, state: str = "pending",
                limit: int = 50, after: int = 0) -> Queue:
    """A community's requests (oldest first) and how many wait."""
    if state not in ("pending", "approved", "rejected"):
        raise invalid("state", "pending, approved or rejected")
    orgs.require_manager(actor, community_id)
    await _community(conn, community_id)
    rows = await conn.fetch(_REQUEST_SQL + " where r.community_id = $1 and r.state = $2 and r.id > $3 "
                            "order by r.id limit $4", community_id, state, after, limit)
    pending = await conn.fetchval(Q.join_requests_waiting, community_id)
    return Queue([_request(r, actor) for r in rows], pending)


async def _lock_pending(conn: asyncpg.Connection, actor: Actor | None, request_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select * from join_requests where id = $1 for update", request_id)
    if row is None:
        raise not_found("join request")
    if actor is not None:
        orgs.require_manager(actor, row["community_id"])
        if row["user_id"] == actor.id:
            raise forbidden("nobody decides their own request")
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def _complete_checkin(conn: asyncpg.Connection, row: asyncpg.Record,
                            complete_scan: CompleteScan) -> dict[str, Any] | None:
    """Run the refused check-in again, now as a member; a refusal is kept as its reason. The code is
    checked as any scan checks it: a poster code does not check in at a
    rotating-only activity, nor a rotating code that is no longer alive."""
    if row["activity_id"] is None or row["scan_code"] is None:
        return None
    try:
        async with conn.transaction():  # a savepoint: a refused check-in must not undo the approval
            return await complete_scan(conn, row["user_id"], row["scan_code"], row["nonce"])
    except DomainError as error:
        return {"error": error.code, "details": error.details}


async def _approve(conn: asyncpg.Connection, actor: Actor | None, request_id: int, complete_scan: CompleteScan, *,
                   ip: str | None) -> None:
    row = await _lock_pending(conn, actor, request_id)
    now = clock.now()
    await conn.execute("insert into org_members (org_id, user_id, role) values ($1, $2, 'volunteer') "
                       "on conflict (org_id, user_id) do nothing", row["community_id"], row["user_id"])
    done = await _complete_checkin(conn, row, complete_scan)
    await conn.execute("update join_requests set state = 'approved', decided_at = $2, decided_by = $3, "
                       "checkin = $4::text::jsonb where id = $1", request_id, now, actor.id if actor else None,
                       msgspec.json.encode(done).decode() if done is not None else None)
    await audit.record(conn, actor, "join_approve", community_id=row["community_id"], target=("user", row["user_id"]),
                       after={"request_id": request_id, "role": "volunteer", "auto": actor is None,
                              "activity_id": row["activity_id"]}, ip=ip)
    # The person may have closed the waiting page long ago: the decision reaches the inbox.
    checked_in = bool(done and "action" in done)
    await outbox.send(conn, row["user_id"], "join_approved", community_id=row["community_id"],
                      params={"next": "checked_in" if checked_in else "can_scan"},
                      link=f"/activity.html?id={row['activity_id']}" if row["activity_id"] else "/scan.html")


async def approve(conn: asyncpg.Connection, actor: Actor, request_id: int, *, complete_scan: CompleteScan,
                  ip: str | None = None) -> JoinRequest:
    """Make the requester a volunteer of the community; a pending check-in completes now."""
    async with conn.transaction():
        await _approve(conn, actor, request_id, complete_scan, ip=ip)
    return await _load(conn, request_id, actor)


async def reject(conn: asyncpg.Connection, actor: Actor, request_id: int, reason: str, *,
                 ip: str | None = None) -> JoinRequest:
    reason = " ".join((reason or "").split())
    if not 1 <= len(reason) <= 500:
        raise invalid("reason", "1 to 500 characters")
    async with conn.transaction():
        row = await _lock_pending(conn, actor, request_id)
        await conn.execute("update join_requests set state = 'rejected', decided_at = $2, decided_by = $3, "
                           "reason = $4 where id = $1", request_id, clock.now(), actor.id, reason)
        await audit.record(conn, actor, "join_reject", community_id=row["community_id"],
                           target=("user", row["user_id"]), after={"request_id": request_id}, reason=reason, ip=ip)
        await outbox.send(conn, row["user_id"], "join_rejected", community_id=row["community_id"],
                          params={"reason": reason}, link="/messages.html")
    return await _load(conn, request_id, actor)



"""The time bank (时间银行): service requests paid in minutes, the community pool, family gifts,
star levels and the certificate of service hours.

A request moves open -> accepted -> completed -> confirmed (or cancelled); the rules of who may do
what are pure functions in domain/timebank_rules.py. Each action below runs in one transaction:
lock the request row, check in a fixed order (state, then the person, then the input), move the
minutes through the ledger, update the row and append a service_events line. Lock order: the
request row first, then the ledger's accounts (the ledger locks them in id order).

Money-like facts:
- accept holds the estimate on the payer (the requester's minutes, or the community pool);
- confirm posts the hold for the actual minutes (the rest is released); above the estimate the hold
  is posted in full and the extra moves in a second transfer from the payer;
- cancel voids the hold. Transfers: kind 'service', cause ('service', request id), memo = title,
  idempotency keys service:<id>:hold and service:<id>:extra, so a retried action moves nothing twice.

Scope: acting on a request of a community you neither belong to nor manage is 403 (not 404).
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

import asyncpg
import msgspec

from domain import ledger, notify, oversight
from domain.core import audit, clock, queries, ratelimit, sweeper
from domain.core.actor import Actor, OrgRef, PersonRef
from domain.core.errors import DomainError, forbidden, not_found
from domain.core.texts import clean_reason
from domain.ledger import areas, statements
from domain.people import auth, orgs
from domain.timebank import rules

Q = queries.load("timebank")

UNIT: ledger.Unit = "minutes"
LINKS_PER_HOUR = 20  # adding links looks phone numbers up: keep it from becoming a directory


class ServiceRequest(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    community_name: str
    title: str
    description: str
    place: str
    when: datetime | None
    minutes_estimate: int
    max_minutes: int                 # the most that may be confirmed (150 % of the estimate)
    state: str
    use_pool: bool
    proxy: bool                      # posted by a manager for someone else
    requester: PersonRef
    beneficiary: PersonRef
    volunteer: PersonRef | None
    confirmed_minutes: int | None
    reason: str | None
    created_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    can: list[str]                   # actions the viewer may take now: accept, complete, confirm, cancel
    affordable: bool = True          # open: its payer (requester or pool) has the estimate available


class ServiceEvent(msgspec.Struct, frozen=True):
    transition: str
    actor: PersonRef | None          # None: the system (an accepted service that lapsed)
    actor_role: str                  # requester | beneficiary | volunteer | manager | system
    on_behalf_of: PersonRef | None   # "by manager X for Y"
    minutes: int | None
    reason: str | None
    at: datetime


class RequestDetail(msgspec.Struct, frozen=True):
    request: ServiceRequest
    events: list[ServiceEvent]


class RequestPage(msgspec.Struct, frozen=True):
    items: list[ServiceRequest]
    next_cursor: str | None


# ---- reading requests ---------------------------------------------------------------------------

# The minutes a person has banked and not held, in every community: what a request they post can pay
# (spending outside the request's area is refused at accept). One measure for posting and for the list.
_BANKED = """(select coalesce(sum(a.balance - a.held), 0) from accounts a
                       where a.user_id = {who} and a.kind = 'user' and a.unit = 'minutes')"""

_SELECT = """
    select r.*, o.name as community_name, rq.name as requester_name, b.name as beneficiary_name,
           v.name as volunteer_name,
           -- what the payer has available (everywhere: spending outside the area is refused at accept)
           case when r.use_pool
                then (select coalesce(sum(a.balance - a.held), 0) from accounts a
                       where a.org_id = r.community_id and a.kind = 'pool' and a.unit = 'minutes')
                else """ + _BANKED.format(who="r.requester_id") + """
           end::bigint as payer_available
    from service_requests r join orgs o on o.id = r.community_id
    join users rq on rq.id = r.requester_id join users b on b.id = r.beneficiary_id
    left join users v on v.id = r.volunteer_id"""


class _Scope(msgspec.Struct, frozen=True):
    """Where the actor belongs and what they manage, loaded once per call. `guest_of`: the other
    communities of the minutes spending areas of their communities (通兑范围, domain/ledger/areas.py),
    where they may ask for and give help without joining."""
    actor: Actor
    member_of: frozenset[int]
    guest_of: frozenset[int] = frozenset()

    def manages(self, community_id: int) -> bool:
        return self.actor.can_manage(community_id)

    def takes_part(self, community_id: int) -> bool:
        return community_id in self.member_of or community_id in self.guest_of

    def sees(self, community_id: int) -> bool:
        return self.manages(community_id) or self.takes_part(community_id)


async def _scope(conn: asyncpg.Connection, actor: Actor) -> _Scope:
    member_of = frozenset(await orgs.member_communities(conn, actor.id))
    guest_of = await areas.guest_communities(conn, member_of, UNIT)
    return _Scope(actor, member_of, frozenset(guest_of - member_of))


def _viewer(scope: _Scope, row: asyncpg.Record) -> rules.Viewer:
    me = scope.actor.id
    return rules.Viewer(is_requester=row["requester_id"] == me, is_beneficiary=row["beneficiary_id"] == me,
                        is_volunteer=row["volunteer_id"] == me, is_member=scope.takes_part(row["community_id"]),
                        is_manager=scope.manages(row["community_id"]))


def _facts(row: asyncpg.Record) -> rules.RequestFacts:
    return rules.RequestFacts(state=row["state"], use_pool=row["use_pool"], proxy=row["proxy"],
                              completed_at=row["completed_at"])


def _is_party(scope: _Scope, row: asyncpg.Record) -> bool:
    return scope.actor.id in (row["requester_id"], row["beneficiary_id"], row["volunteer_id"])


def _request(scope: _Scope, row: asyncpg.Record) -> ServiceRequest:
    volunteer = PersonRef(row["volunteer_id"], row["volunteer_name"]) if row["volunteer_id"] else None
    return ServiceRequest(
        id=row["id"], community_id=row["community_id"], community_name=row["community_name"], title=row["title"],
        description=row["description"], place=row["place"], when=row["wanted_at"],
        minutes_estimate=row["minutes_estimate"], max_minutes=rules.max_confirmable(row["minutes_estimate"]),
        state=row["state"], use_pool=row["use_pool"], proxy=row["proxy"],
        requester=PersonRef(row["requester_id"], row["requester_name"]),
        beneficiary=PersonRef(row["beneficiary_id"], row["beneficiary_name"]), volunteer=volunteer,
        confirmed_minutes=row["confirmed_minutes"], reason=row["reason"], created_at=row["created_at"],
        accepted_at=row["accepted_at"], completed_at=row["completed_at"], confirmed_at=row["confirmed_at"],
        cancelled_at=row["cancelled_at"],
        can=rules.allowed_actions(_viewer(scope, row), _facts(row), clock.now()),
        affordable=rules.affordable(row["state"], row["minutes_estimate"], row["payer_available"]))


async def _fetch(conn: asyncpg.Connection, request_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(_SELECT + " where r.id = $1", request_id)
    if row is None:
        raise not_found("service request")
    return row


async def get_request(conn: asyncpg.Connection, actor: Actor, request_id: int) -> RequestDetail:
    scope = await _scope(conn, actor)
    row = await _fetch(conn, request_id)
    if not (scope.sees(row["community_id"]) or _is_party(scope, row)):
        raise forbidden("not a request of your community")
    events = await conn.fetch(
        """Select e.transition, e.actor_id, a.name as actor_name, e.actor_role, e.on_behalf_of,
                  f.name as for_name, e.minutes, e.reason, e.at
           from service_events e left join users a on a.id = e.actor_id left join users f on f.id = e.on_behalf_of
           where e.request_id = $1 order by e.id""", request_id)
    return RequestDetail(_request(scope, row), [ServiceEvent(
        transition=e["transition"], actor=PersonRef(e["actor_id"], e["actor_name"]) if e["actor_id"] else None,
        actor_role=e["actor_role"],
        on_behalf_of=PersonRef(e["on_behalf_of"], e["for_name"]) if e["on_behalf_of"] else None,
        minutes=e["minutes"], reason=e["reason"], at=e["at"]) for e in events])


async def list_requests(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None = None,
                        state: str | None = None, mine: str | None = None, limit: int = 20,
                        before: int = 0) -> RequestPage:
    """Newest first. `mine`: 'requested' (I posted it or it is for me) or 'serving' (I volunteer);
    without it, the requests of my communities (one of them with `community_id`)."""
    if state is not None and state not in rules.STATES:
        raise DomainError("validation_failed", field="state", details={"problem": " | ".join(rules.STATES)})
    if mine not in (None, "requested", "serving"):
        raise DomainError("validation_failed", field="mine", details={"problem": "requested | serving"})
    scope = await _scope(conn, actor)
    if community_id is not None and mine is None and not scope.sees(community_id):
        raise forbidden("not your community")
    communities = None if actor.is_admin or mine else sorted(scope.member_of | scope.guest_of | actor.manages)
    rows = await conn.fetch(
        _SELECT + """
        where ($1::bigint is null or r.community_id = $1)
          and ($2::bigint[] is null or r.community_id = any($2))
          and ($3::text is null or r.state = $3)
          and ($4::text is null
               or ($4 = 'requested' and (r.requester_id = $5 or r.beneficiary_id = $5))
               or ($4 = 'serving' and r.volunteer_id = $5))
          and ($6::bigint = 0 or r.id < $6::bigint)
        order by r.id desc limit $7""",
        community_id, communities, state, mine, actor.id, before, limit + 1)
    # A volunteer is never shown a request they could not accept: an open request its payer
    # cannot pay shows only to its requester, its beneficiary and the community's managers.
    def shown(r: asyncpg.Record) -> bool:
        return (rules.affordable(r["state"], r["minutes_estimate"], r["payer_available"])
                or actor.id in (r["requester_id"], r["beneficiary_id"]) or scope.manages(r["community_id"]))
    items = [_request(scope, r) for r in rows[:limit] if shown(r)]
    return RequestPage(items, str(rows[limit - 1]["id"]) if len(rows) > limit else None)


# ---- posting ------------------------------------------------------------------------------------

def _text(value: str | None, field: str, *, required: bool = False, most: int = 2000) -> str:
    value = " ".join((value or "").split()) if field != "description" else (value or "").strip()
    if required and not value:
        raise DomainError("validation_failed", field=field, details={"problem": "required"})
    if len(value) > most:
        raise DomainError("validation_failed", field=field, details={"problem": f"at most {most} characters"})
    return value


async def linked(conn: asyncpg.Connection, a: int, b: int) -> int | None:
    """The id of the approved family link between two people, if any."""
    return await conn.fetchval(
        """Select id from family_links where state = 'approved'
           and least(requester_id, target_id) = least($1::bigint, $2::bigint)
           and greatest(requester_id, target_id) = greatest($1::bigint, $2::bigint)""", a, b)


async def _choose_community(conn: asyncpg.Connection, scope: _Scope, beneficiary_id: int,
                            community_id: int | None) -> int:
    """The community whose board shows the request: one the beneficiary belongs to (a manager may
    post for themselves in a community they manage)."""
    candidates = set(await orgs.member_communities(conn, beneficiary_id))
    if beneficiary_id == scope.actor.id:
        candidates |= set(scope.actor.manages)
    elif not scope.actor.is_admin and candidates & scope.actor.manages:
        candidates &= scope.actor.manages  # a manager posts for a resident of their own community
    if community_id is not None and community_id not in candidates:
        # Help may be asked for in any community of the minutes spending area of the person's own.
        area: set[int] = set()
        for own in candidates:
            area |= await areas.area_of(conn, own, UNIT)
        if community_id in area:
            return community_id
        raise DomainError("outside_area", field="community_id", details={"community_id": community_id, "unit": UNIT})
    if community_id is not None:
        if community_id not in candidates:
            raise DomainError("validation_failed", field="community_id",
                              details={"problem": "the person helped is not a member of this community"})
        return community_id
    if len(candidates) != 1:
        raise DomainError("validation_failed", field="community_id",
                          details={"problem": "choose the community" if candidates
                                   else "the person helped is not a member of any community"})
    return candidates.pop()


async def post_request(conn: asyncpg.Connection, actor: Actor, *, title: str, minutes_estimate: int,
                       description: str = "", place: str = "", when: datetime | None = None,
                       for_user_id: int | None = None, use_pool: bool = False,
                       community_id: int | None = None) -> ServiceRequest:
    """Post a request for myself, for an approved family link (I pay), or as a manager for a
    resident of my community (an elder without a phone), optionally paid from the community pool."""
    title = _text(title, "title", required=True, most=100)
    description = _text(description, "description", most=2000)
    place = _text(place, "place", most=200)
    if not 1 <= minutes_estimate <= 1440:
        raise DomainError("validation_failed", field="minutes_estimate", details={"problem": "1 to 1440"})
    # A sane date, not merely a valid one: PostgreSQL stores the first and last instants Python can
    # express (0001-01-01, 9999-12-31) as -infinity/infinity, and they come back without a time zone.
    if when is not None and abs(when - clock.now()) > timedelta(days=3653):
        raise DomainError("validation_failed", field="when", details={"problem": "within ten years of today"})
    scope = await _scope(conn, actor)
    beneficiary = actor.id if for_user_id is None else for_user_id
    if beneficiary != actor.id:
        # For someone else: a manager of one of their communities (or an admin), or approved family.
        # Anyone else hears what an unknown id gets (ids cannot be enumerated).
        exists = await conn.fetchval("select 1 from users where id = $1", beneficiary)
        theirs = set(await orgs.member_communities(conn, beneficiary)) if exists else set()
        if not exists or not (actor.is_admin or theirs & actor.manages or await linked(conn, actor.id, beneficiary)):
            raise DomainError("not_found", field="for_user_id", details={"what": "user"})
    community = await _choose_community(conn, scope, beneficiary, community_id)
    proxy = beneficiary != actor.id and scope.manages(community)
    if beneficiary != actor.id and not proxy and not await linked(conn, actor.id, beneficiary):
        raise forbidden("only a manager, or linked family, may post for someone else")
    if use_pool:
        orgs.require_manager(actor, community)
        if not proxy:
            raise DomainError("validation_failed", field="use_pool",
                              details={"problem": "the pool pays for services to others, not your own"})
    if not use_pool:
        await _refuse_unpayable(conn, actor.id, minutes_estimate, community)
    now = clock.now()
    async with conn.transaction():
        request_id = await conn.fetchval(
            """Insert into service_requests (community_id, requester_id, beneficiary_id, use_pool, proxy, title,
                   description, place, wanted_at, minutes_estimate, created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id""",
            community, actor.id, beneficiary, use_pool, proxy, title, description, place, when,
            minutes_estimate, now)
        role = "manager" if proxy else "requester"
        await _event(conn, request_id, "posted", actor.id, role, rules.on_behalf_of(role, beneficiary, actor.id),
                     minutes_estimate, None, now)
        if proxy:
            await audit.record(conn, actor, "service_proxy", community_id=community,
                               target=("service_request", request_id),
                               after={"for_user_id": beneficiary, "minutes_estimate": minutes_estimate,
                                      "use_pool": use_pool, "title": title})
        return _request(scope, await _fetch(conn, request_id))


async def _refuse_unpayable(conn: asyncpg.Connection, requester_id: int, estimate: int, community_id: int) -> None:
    """A request its requester cannot pay would wait for nobody (volunteers never see it), so
    posting it is refused, naming what is banked and the two ways on: a smaller request, or the
    community pool (公益时间池), which the community's staff post from. A friendly check, not a lock:
    accept holds the estimate and answers payer_short if the minutes went meanwhile."""
    available = await conn.fetchval(f"select {_BANKED.format(who='$1')}::bigint", requester_id)
    if rules.affordable("open", estimate, available):
        return
    raise DomainError("time_short", field="minutes_estimate", details={
        "available": available, "needed": estimate,
        "offers": {"smaller": available if available >= 1 else None, "pool_community_id": community_id}})


async def _event(conn: asyncpg.Connection, request_id: int, transition: str, actor_id: int | None, role: str,
                 behalf: int | None, minutes: int | None, reason: str | None, at: datetime) -> None:
    await conn.execute(
        """Insert into service_events (request_id, transition, actor_id, actor_role, on_behalf_of, minutes, reason, at)
           values ($1, $2, $3, $4, $5, $6, $7, $8)""",
        request_id, transition, actor_id, role, behalf, minutes, reason, at)


# ---- transitions --------------------------------------------------------------------------------

def _refuse(err: rules.RuleError) -> DomainError:
    details = {"problem": err.problem} if err.problem else {}
    return DomainError(err.code, field=err.field, details=details)


async def _locked(conn: asyncpg.Connection, scope: _Scope, request_id: int, action: str
                  ) -> tuple[asyncpg.Record, str]:
    """Lock the request, check scope and the rule; return the row and the actor's capacity."""
    if not await conn.fetchval("select 1 from service_requests where id = $1 for update", request_id):
        raise not_found("service request")
    row = await _fetch(conn, request_id)
    if not (scope.sees(row["community_id"]) or _is_party(scope, row)):
        raise forbidden("not a request of your community")
    try:
        return row, rules.role_for(action, _viewer(scope, row), _facts(row), clock.now())
    except rules.RuleError as err:
        raise _refuse(err) from None


async def _pay(conn: asyncpg.Connection, row: asyncpg.Record, volunteer_id: int, amount: int, *, hold: bool,
               key: str, actor_id: int, reason: str | None = None) -> ledger.Transfer:
    """Minutes from the payer to the volunteer's account of the request's community (where they were
    earned): from the community pool, or from the requester's accounts in ledger.spend's order (the
    community's own minutes first, then the rest of its spending area). Returns the first part."""
    credit = await ledger.user_account(conn, volunteer_id, UNIT, row["community_id"])
    common = dict(unit=UNIT, credit=credit, amount=amount, kind="service", cause=("service", row["id"]),
                  memo=row["title"], actor_id=actor_id, reason=reason, key=key)
    if row["use_pool"]:
        pool = await ledger.org_account(conn, row["community_id"], "pool", UNIT)
        return await (ledger.hold if hold else ledger.post)(conn, debit=pool, **common)
    return (await ledger.spend(conn, user_id=row["requester_id"], where=row["community_id"],
                               area=await areas.area_of(conn, row["community_id"], UNIT), hold=hold,
                               **common))[0]


async def _held_parts(conn: asyncpg.Connection, request_id: int) -> list[int]:
    """The holds of an accepted request: one per issuing community its minutes came from."""
    return await ledger.parts_of(conn, ("service", request_id), "service", "pending")


# Acts a manager takes on a request for someone else also go to the audit trail.
_AUDITED = {"confirmed": "service_confirm", "cancelled": "service_cancel"}


async def _done(conn: asyncpg.Connection, scope: _Scope, row: asyncpg.Record, transition: str, role: str,
                minutes: int | None = None, reason: str | None = None) -> ServiceRequest:
    await _event(conn, row["id"], transition, scope.actor.id, role,
                 rules.on_behalf_of(role, row["beneficiary_id"], scope.actor.id), minutes, reason, clock.now())
    if role == "manager" and transition in _AUDITED:
        await audit.record(conn, scope.actor, _AUDITED[transition], community_id=row["community_id"],
                           target=("service_request", row["id"]), before={"state": row["state"]},
                           after={"state": transition, "minutes": minutes, "for_user_id": row["beneficiary_id"]},
                           reason=reason)
    await _notify(conn, row, transition, minutes)
    return _request(scope, await _fetch(conn, row["id"]))


# Who hears about each step: the requester when someone accepts or finishes, the volunteer when paid.
_MESSAGES = {"accepted": ("requester_id", "service_accepted"), "completed": ("requester_id", "service_completed"),
             "confirmed": ("volunteer_id", "service_confirmed")}


async def _notify(conn: asyncpg.Connection, row: asyncpg.Record, transition: str, minutes: int | None) -> None:
    if transition not in _MESSAGES:
        return
    who, kind = _MESSAGES[transition]
    recipient = row[who] if who == "requester_id" else await conn.fetchval(
        "select volunteer_id from service_requests where id = $1", row["id"])
    if recipient is not None:
        await notify.send(conn, recipient, kind, community_id=row["community_id"],
                          params={"title": row["title"], "minutes": minutes, "days": rules.AUTO_CONFIRM_DAYS},
                          link=f"/timebank.html#request-{row['id']}")


async def accept(conn: asyncpg.Connection, actor: Actor, request_id: int) -> ServiceRequest:
    """A member of the community takes the request on; the estimate is held on the payer."""
    scope = await _scope(conn, actor)
    async with conn.transaction():
        row, role = await _locked(conn, scope, request_id, "accept")
        try:
            hold = await _pay(conn, row, actor.id, row["minutes_estimate"], hold=True, actor_id=actor.id,
                              key=f"service:{request_id}:hold")
        except DomainError as error:
            # It is the requester's (or the pool's) time that is short, not the volunteer's.
            if error.code in ("insufficient_balance", "not_spendable_here"):
                raise DomainError("payer_short", details={"needed": row["minutes_estimate"]}) from None
            raise
        await conn.execute(
            """Update service_requests set state = 'accepted', volunteer_id = $2, hold_transfer_id = $3,
                   accepted_at = $4 where id = $1""", request_id, actor.id, hold.id, clock.now())
        return await _done(conn, scope, row, "accepted", role, row["minutes_estimate"])


async def complete(conn: asyncpg.Connection, actor: Actor, request_id: int) -> ServiceRequest:
    scope = await _scope(conn, actor)
    async with conn.transaction():
        row, role = await _locked(conn, scope, request_id, "complete")
        await conn.execute("update service_requests set state = 'completed', completed_at = $2 where id = $1",
                           request_id, clock.now())
        return await _done(conn, scope, row, "completed", role)


async def confirm(conn: asyncpg.Connection, actor: Actor, request_id: int, minutes: int,
                  reason: str | None = None) -> ServiceRequest:
    """Pay the volunteer the actual minutes: from the hold, plus an extra transfer above the estimate."""
    scope = await _scope(conn, actor)
    reason = clean_reason(reason, required=False)
    async with conn.transaction():
        row, role = await _locked(conn, scope, request_id, "confirm")
        ledger.refuse_self_payment(actor.id, row["volunteer_id"])  # e.g. a manager confirming a pool service they gave
        try:
            rules.check_confirmed_minutes(row["minutes_estimate"], minutes, reason)
        except rules.RuleError as err:
            raise _refuse(err) from None
        from_hold, extra = rules.split_confirmed(row["minutes_estimate"], minutes)
        await ledger.post_group(conn, await _held_parts(conn, request_id), from_hold)
        extra_id = None
        if extra:
            extra_id = (await _pay(conn, row, row["volunteer_id"], extra, hold=False, actor_id=actor.id,
                                   reason=reason, key=f"service:{request_id}:extra")).id
        await conn.execute(
            """Update service_requests set state = 'confirmed', confirmed_minutes = $2, reason = $3,
                   extra_transfer_id = $4, confirmed_at = $5 where id = $1""",
            request_id, minutes, reason, extra_id, clock.now())
        return await _done(conn, scope, row, "confirmed", role, minutes, reason)


async def cancel(conn: asyncpg.Connection, actor: Actor, request_id: int, reason: str | None = None
                 ) -> ServiceRequest:
    """Withdraw a request; an accepted one gets its hold released."""
    scope = await _scope(conn, actor)
    reason = clean_reason(reason, required=False)
    async with conn.transaction():
        row, role = await _locked(conn, scope, request_id, "cancel")
        if row["hold_transfer_id"] is not None:
            await ledger.void_group(conn, await _held_parts(conn, request_id))
        await conn.execute(Q.cancel_request,
                           request_id, clock.now())
        return await _done(conn, scope, row, "cancelled", role, None, reason)


SERVICE_EXPIRED = "约定时间已过 14 天仍未完成，已自动取消，预留的时间已退回"
SERVICE_AUTO_CONFIRMED = f"完成后 {rules.AUTO_CONFIRM_DAYS} 天求助人未确认，已按预估时长自动确认"

# What makes a request due for each sweep, $1 being the cutoff: the same condition picks a batch and
# re-checks the row under its lock (another process, or the requester, may have acted meanwhile).
_LAPSED = "state = 'accepted' and greatest(wanted_at, accepted_at) <= $1"
_UNCONFIRMED = "state = 'completed' and completed_at <= $1"


async def _due(conn: asyncpg.Connection, condition: str, request_id: int, cutoff: datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select * from service_requests where {condition} and id = $2 "
                               "for update skip locked", cutoff, request_id)


async def _lapse(conn: asyncpg.Connection, request_id: int, now: datetime) -> bool:
    """In the caller's transaction: cancel one lapsed accepted service and release its hold."""
    row = await _due(conn, _LAPSED, request_id, now - rules.ACCEPTED_LAPSES_AFTER)
    if row is None:  # done, cancelled or taken by another process meanwhile
        return False
    await ledger.void_pending(conn, row["hold_transfer_id"], expired=True)
    await conn.execute(Q.cancel_request,
                       request_id, now)
    await _event(conn, request_id, "cancelled", None, "system", None, None, SERVICE_EXPIRED, now)
    return True


async def _auto_confirm(conn: asyncpg.Connection, request_id: int, now: datetime) -> bool:
    """In the caller's transaction: confirm one completed service left unconfirmed at its estimate,
    paying the volunteer from the hold (the hold is released into the payment, nothing more moves)."""
    if await _due(conn, _UNCONFIRMED, request_id, now - rules.AUTO_CONFIRM_AFTER) is None:
        return False  # confirmed, cancelled or taken by another process meanwhile
    full = await _fetch(conn, request_id)
    minutes = full["minutes_estimate"]
    await ledger.post_group(conn, await _held_parts(conn, request_id), minutes)
    await conn.execute("update service_requests set state = 'confirmed', confirmed_minutes = $2, reason = $3, "
                       "confirmed_at = $4 where id = $1", request_id, minutes, SERVICE_AUTO_CONFIRMED, now)
    await _event(conn, request_id, "confirmed", None, "system", None, minutes, SERVICE_AUTO_CONFIRMED, now)
    await _notify(conn, full, "confirmed", minutes)
    return True


async def _sweep(pool: asyncpg.Pool, name: str, condition: str, cutoff: datetime,
                 act: Callable[..., Awaitable[bool]], batch: int) -> int:
    """The one loop of the time bank's sweeps: the requests `condition` finds due, a batch at a time,
    each acted on in its own short transaction (sweeper.one_row). A failing row is skipped for the rest
    of the round; the round ends when a batch comes back short or nothing in it was acted on."""
    acted = 0
    failed: list[int] = []
    while True:
        due = await pool.fetch(f"select id from service_requests where {condition} "
                               "and id <> all($3::bigint[]) order by id limit $2", cutoff, batch, failed)
        done = 0
        for r in due:
            result = await sweeper.one_row(pool, name, r["id"], partial(act, request_id=r["id"]))
            if result is None:
                failed.append(r["id"])
            done += bool(result)
        acted += done
        if len(due) < batch or done == 0:
            return acted


async def lapse_accepted_services(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Accepted services left undone ACCEPTED_LAPSES_AFTER past their agreed time: cancelled, hold
    released (domain/timebank/rules.py)."""
    return await _sweep(pool, "lapse_accepted_services", _LAPSED, now - rules.ACCEPTED_LAPSES_AFTER,
                        partial(_lapse, now=now), batch)


async def confirm_unconfirmed_services(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Completed services their requester left unconfirmed AUTO_CONFIRM_AFTER: confirmed at the estimate
    (the requester's minutes were held forever)."""
    return await _sweep(pool, "confirm_unconfirmed_services", _UNCONFIRMED, now - rules.AUTO_CONFIRM_AFTER,
                        partial(_auto_confirm, now=now), batch)


# ---- family links and gifts ---------------------------------------------------------------------

class FamilyLink(msgspec.Struct, frozen=True):
    id: int
    state: str
    direction: str            # outgoing: I asked; incoming: they asked me
    other: PersonRef | None   # None while my own ask waits: a phone reveals no name until they accept
    other_phone: str | None   # masked
    created_at: datetime
    approved_at: datetime | None
    can_approve: bool


class FamilyLinks(msgspec.Struct, frozen=True):
    items: list[FamilyLink]


class FamilyAsk(msgspec.Struct, frozen=True):
    """The answer to asking by phone: the same whether the phone is registered, linked, asked before or
    unknown, so the form is no directory of names."""
    asked: bool
    phone: str                # masked, as typed


_LINK_SELECT = """
    select l.id, l.requester_id, l.target_id, l.state, l.created_at, l.approved_at, l.approved_by, l.removed_at,
           l.removed_by, rq.name as requester_name, rq.phone as requester_phone, tg.name as target_name,
           coalesce(tg.phone, l.target_phone) as target_phone,
           coalesce(tg.password_hash is null, false) as target_has_no_login
    from family_links l join users rq on rq.id = l.requester_id left join users tg on tg.id = l.target_id"""


def _link(row: asyncpg.Record, me: int) -> FamilyLink:
    outgoing = row["requester_id"] == me
    side = "target" if outgoing else "requester"
    hidden = outgoing and row["state"] == "pending"
    return FamilyLink(id=row["id"], state=row["state"], direction="outgoing" if outgoing else "incoming",
                      other=None if hidden else PersonRef(row[f"{side}_id"], row[f"{side}_name"]),
                      other_phone=auth.mask_phone(row[f"{side}_phone"]), created_at=row["created_at"],
                      approved_at=row["approved_at"], can_approve=row["state"] == "pending" and not outgoing)


async def add_family_link(conn: asyncpg.Connection, actor: Actor, phone: str) -> FamilyAsk:
    """Ask to link with the person registered under `phone`; they approve (or a manager for them).
    Whatever the phone, the answer is the same, and so is the list of my links afterwards:
    an ask for an unknown or inactive number is kept by phone and shows as pending, like
    any other, forever (nobody can approve it); an already linked or asked number creates nothing."""
    phone = auth.normalise_phone(phone)
    await ratelimit.take(conn, f"family-link:{actor.id}", LINKS_PER_HOUR, 3600)
    answer = FamilyAsk(asked=True, phone=auth.mask_phone(phone))
    target = await conn.fetchval("select id from users where phone = $1 and active", phone)
    if target == actor.id:
        raise DomainError("validation_failed", field="phone", details={"problem": "that is your own number"})
    if target is None:
        await conn.execute("insert into family_links (requester_id, target_phone, created_at) values ($1, $2, $3) "
                           "on conflict do nothing", actor.id, phone, clock.now())
        return answer
    async with conn.transaction():
        await conn.execute(
            "insert into family_links (requester_id, target_id, created_at) values ($1, $2, $3) on conflict do nothing",
            actor.id, target, clock.now())
    return answer


async def _locked_link(conn: asyncpg.Connection, link_id: int) -> asyncpg.Record:
    if not await conn.fetchval("select 1 from family_links where id = $1 for update", link_id):
        raise not_found("family link")
    return await conn.fetchrow(_LINK_SELECT + " where l.id = $1", link_id)


async def approve_family_link(conn: asyncpg.Connection, actor: Actor, link_id: int) -> FamilyLink:
    """The asked side approves. For an elder without a login, a manager of their community may
    approve for them; approved_by records who did."""
    async with conn.transaction():
        row = await _locked_link(conn, link_id)
        if actor.id != row["target_id"]:
            if actor.id == row["requester_id"] or not row["target_has_no_login"]:
                raise forbidden("the other side approves")
            await orgs.require_manager_of_user(conn, actor, row["target_id"])
        if row["state"] != "pending":
            raise DomainError("invalid_state", details={"state": row["state"]})
        await conn.execute("update family_links set state = 'approved', approved_at = $2, approved_by = $3 "
                           "where id = $1", link_id, clock.now(), actor.id)
        if actor.id != row["target_id"]:  # a manager approving for someone without a login
            communities = sorted(set(await orgs.member_communities(conn, row["target_id"])) & actor.manages)
            await audit.record(conn, actor, "family_link_approve", community_id=communities[0] if communities else None,
                               target=("family_link", link_id),
                               after={"for_user_id": row["target_id"], "linked_to": row["requester_id"]})
        return _link(await conn.fetchrow(_LINK_SELECT + " where l.id = $1", link_id), actor.id)


async def remove_family_link(conn: asyncpg.Connection, actor: Actor, link_id: int) -> FamilyLink:
    """Either side may decline a pending link or end an approved one; past gifts stay in the ledger."""
    async with conn.transaction():
        row = await _locked_link(conn, link_id)
        if actor.id not in (row["requester_id"], row["target_id"]):
            raise forbidden("not your family link")
        if row["state"] == "removed":
            raise DomainError("invalid_state", details={"state": "removed"})
        await conn.execute("update family_links set state = 'removed', removed_at = $2, removed_by = $3 "
                           "where id = $1", link_id, clock.now(), actor.id)
        return _link(await conn.fetchrow(_LINK_SELECT + " where l.id = $1", link_id), actor.id)


async def list_family_links(conn: asyncpg.Connection, actor: Actor) -> FamilyLinks:
    rows = await conn.fetch(_LINK_SELECT + " where (l.requester_id = $1 or l.target_id = $1) "
                            "and l.state <> 'removed' order by l.id desc limit 100", actor.id)
    return FamilyLinks([_link(r, actor.id) for r in rows])


class Gift(msgspec.Struct, frozen=True):
    transfer_id: int
    link_id: int
    from_user: PersonRef
    to_user: PersonRef
    minutes: int
    memo: str
    created_at: datetime


async def give(conn: asyncpg.Connection, actor: Actor, to_user_id: int, minutes: int,
               key: str | None = None) -> Gift:
    """Give minutes to an approved family link; never more than is available."""
    if minutes < 1:
        raise DomainError("validation_failed", field="minutes", details={"problem": "at least 1"})
    link_id = await linked(conn, actor.id, to_user_id)
    if link_id is None:
        raise forbidden("gifts go only to approved family links")
    receiver = await conn.fetchval("select name from users where id = $1", to_user_id)
    # The ledger keeps references, not names: rendered when read, so a closed account's name goes.
    memo = f"亲情赠与 {statements.person_ref(actor.id)} → {statements.person_ref(to_user_id)}"
    async with conn.transaction():
        # A gift keeps where its minutes were issued: each part goes to the receiver's account of the
        # same community, drawn from the giver's accounts by community id (ledger.spend's order).
        held_in = [r["org_id"] for r in await conn.fetch(
            "select org_id from accounts where user_id = $1 and unit = $2 and kind = 'user'", actor.id, UNIT)]
        transfer = (await ledger.spend(
            conn, user_id=actor.id, unit=UNIT, amount=minutes, where=None, area=held_in, to_user=to_user_id,
            kind="gift", cause=("gift", link_id), memo=memo, actor_id=actor.id, key=key))[0]
    [shown] = await statements.render_memos(conn, [transfer.memo])
    assert shown is not None  # the gift's memo was set above
    return Gift(transfer.id, link_id, PersonRef(actor.id, actor.name), PersonRef(to_user_id, receiver),
                minutes, shown, transfer.created_at)


# ---- the community pool -------------------------------------------------------------------------

class Pool(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    balance: int
    held: int
    available: int


async def _community(conn: asyncpg.Connection, community_id: int) -> str:
    name = await conn.fetchval("select name from orgs where id = $1 and kind = 'community'", community_id)
    if name is None:
        raise DomainError("not_found", field="community_id", details={"what": "community"})
    return name


async def pool_balance(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Pool:
    name = await _community(conn, community_id)
    if not (await _scope(conn, actor)).sees(community_id):
        raise forbidden("not your community")
    row = await conn.fetchrow("select balance, held from accounts where org_id = $1 and kind = 'pool' and unit = $2",
                              community_id, UNIT)
    return Pool(community_id, name, row["balance"], row["held"], row["balance"] - row["held"])


async def donate_to_pool(conn: asyncpg.Connection, actor: Actor, community_id: int, minutes: int,
                         key: str | None = None) -> ledger.Transfer:
    """A member gives some of their minutes to the community pool that sponsors elders."""
    name = await _community(conn, community_id)
    if community_id not in await orgs.member_communities(conn, actor.id):
        raise DomainError("not_member", field="community_id")
    if minutes < 1:
        raise DomainError("validation_failed", field="minutes", details={"problem": "at least 1"})
    async with conn.transaction():
        return (await ledger.spend(
            conn, user_id=actor.id, unit=UNIT, amount=minutes, where=community_id,
            area=await areas.area_of(conn, community_id, UNIT),
            credit=await ledger.org_account(conn, community_id, "pool", UNIT), kind="donation",
            cause=("donation", community_id), memo=f"捐赠给{name}时间池", actor_id=actor.id, key=key))[0]


class PoolCreditHeld(msgspec.Struct, frozen=True):
    """A pool credit waiting for a second person (GET /api/held, kind `pool_credit`)."""
    held_id: int
    community_id: int
    minutes: int
    reason: str
    why: str                 # threshold (above the community's minutes threshold) | daily_limit (the maker's day)
    threshold: int
    daily_limit: int
    state: str = "pending"


async def credit_pool(conn: asyncpg.Connection, actor: Actor, community_id: int, minutes: int, reason: str,
                      key: str | None = None) -> "ledger.Transfer | PoolCreditHeld":
    """A manager funds the pool from the community's issuing account (an adjustment with a reason).

    Value created by hand, so nobody does it alone: above the community's minutes
    threshold, or past the maker's daily limit of hand-made minutes (adjustments, marks and pool
    credits add up), it is held for another manager or the street (domain/oversight/queue.py, which
    posts it on approval through post_pool_credit)."""
    await _community(conn, community_id)
    orgs.require_manager(actor, community_id)
    reason = clean_reason(reason)
    if minutes < 1:
        raise DomainError("validation_failed", field="minutes", details={"problem": "at least 1"})
    limits = await oversight.limits(conn, community_id)
    in_force = {"threshold": limits.threshold(UNIT), "daily_limit": limits.daily(UNIT)}
    async with conn.transaction():
        if minutes > limits.threshold(UNIT):
            why = "threshold"
        elif key is not None and await conn.fetchval("select 1 from transfers where idem_key = $1", key):
            why = None  # a replay counts nothing toward the day (the ledger answers it)
        elif (over := await oversight.count_manual(conn, community_id, actor.id, {UNIT: minutes})) is not None:
            why = "daily_limit"
            await oversight.flag(conn, community_id, actor.id, "daily_limit", over)
        else:
            why = None
        result: ledger.Transfer | PoolCreditHeld
        if why is None:
            result = await post_pool_credit(conn, actor, community_id, minutes, reason, key=key, extra=in_force)
        else:
            held_id = await oversight.hold(conn, actor, community_id, "pool_credit",
                                           payload={"unit": UNIT, "minutes": minutes, "reason": reason},
                                           evidence={"why": why, **in_force})
            result = PoolCreditHeld(held_id, community_id, minutes, reason, why,
                                    threshold=in_force["threshold"], daily_limit=in_force["daily_limit"])
        await oversight.check_pace(conn, community_id, actor.id)
    return result


async def post_pool_credit(conn: asyncpg.Connection, actor: Actor, community_id: int, minutes: int, reason: str, *,
                           key: str | None, extra: dict, act: str = "adjustment") -> ledger.Transfer:
    """Post a pool credit and its audit row (the limits in force, or the held act it approves, in
    `extra`): by its maker under the limits, or by the second person approving a held one."""
    name = await _community(conn, community_id)
    async with conn.transaction():
        transfer = await ledger.post(
            conn, unit=UNIT, debit=await ledger.org_account(conn, community_id, "issuing", UNIT),
            credit=await ledger.org_account(conn, community_id, "pool", UNIT), amount=minutes, kind="adjustment",
            cause=("adjustment", community_id), memo=f"{name}时间池拨入", actor_id=actor.id, reason=reason, key=key)
        if key is None or not await conn.fetchval(
                "select 1 from audit_log where target_type = 'org' and target_id = $1 and act = $3 "
                "and (after->>'transfer_id')::bigint = $2", community_id, transfer.id, act):
            await audit.record(conn, actor, act, community_id=community_id, target=("org", community_id),
                               after={"account": "pool", "unit": UNIT, "amount": minutes, "transfer_id": transfer.id,
                                      **extra}, reason=reason)
        return transfer


# ---- recognition --------------------------------------------------------------------------------


async def earned_minutes(conn: asyncpg.Connection, user_id: int) -> int:
    return await conn.fetchval(Q.earned_minutes, user_id)


class Hours(msgspec.Struct, frozen=True):
    """A person's hours (志愿时长), the ONE definition every page shows (certificate, time bank page,
    star levels, statement, console), in minutes, each net of its reversals:
    - activity_minutes: minutes banked at activity check-outs (awards);
    - service_minutes: minutes earned serving time-bank requests;
    - adjustment_minutes: managers' corrections, with their sign;
    - total_minutes = the three together (never below 0), what the stars count (earned_minutes, queries.sql);
    - gift_minutes: received from family, shown apart and never counted: a gift is not one's service."""
    total_minutes: int
    activity_minutes: int
    service_minutes: int
    adjustment_minutes: int
    gift_minutes: int


async def hours_of(conn: asyncpg.Connection, user_id: int) -> Hours:
    row = await conn.fetchrow(Q.hours_by_kind, user_id)
    total = max(row["activity"] + row["service"] + row["adjustment"], 0)
    return Hours(total, row["activity"], row["service"], row["adjustment"], row["gift"])


class Stars(msgspec.Struct, frozen=True):
    earned_minutes: int
    stars: int
    next_star_minutes: int | None   # earned minutes at which the next star comes; None at five


class TimebankMe(msgspec.Struct, frozen=True):
    balance: ledger.Balance
    stars: Stars
    hours: Hours
    served_minutes: int             # confirmed time-bank services I gave
    services_served: int
    communities: list[OrgRef]       # communities I belong to or manage
    member_of: list[OrgRef]         # communities I belong to (where I may serve and donate)
    manages: list[OrgRef]           # communities whose pool I may spend
    family: list[PersonRef]         # approved family links: who I may give to or post for


async def stars_of(conn: asyncpg.Connection, user_id: int, hours: Hours | None = None) -> Stars:
    earned = (hours or await hours_of(conn, user_id)).total_minutes
    return Stars(earned, rules.stars(earned), rules.next_star_minutes(earned))


async def my_timebank(conn: asyncpg.Connection, actor: Actor) -> TimebankMe:
    served = await conn.fetchrow(
        "select coalesce(sum(confirmed_minutes), 0) as minutes, count(*) as n from service_requests "
        "where volunteer_id = $1 and state = 'confirmed'", actor.id)
    member_of = await orgs.member_communities(conn, actor.id)
    names = await conn.fetch("select id, name from orgs where id = any($1::bigint[]) order by id",
                             sorted(set(member_of) | actor.manages))
    family = await conn.fetch(
        """Select u.id, u.name from family_links l
           join users u on u.id = case when l.requester_id = $1 then l.target_id else l.requester_id end
           where l.state = 'approved' and $1 in (l.requester_id, l.target_id) order by u.name""", actor.id)
    hours = await hours_of(conn, actor.id)
    return TimebankMe(
        balance=(await ledger.balances(conn, actor.id))[UNIT], stars=await stars_of(conn, actor.id, hours),
        hours=hours,
        served_minutes=served["minutes"], services_served=served["n"],
        communities=[OrgRef(r["id"], r["name"]) for r in names],
        member_of=[OrgRef(r["id"], r["name"]) for r in names if r["id"] in member_of],
        manages=[OrgRef(r["id"], r["name"]) for r in names if r["id"] in actor.manages],
        family=[PersonRef(r["id"], r["name"]) for r in family])


class CertificateLine(msgspec.Struct, frozen=True):
    request_id: int
    title: str
    community_name: str
    beneficiary: str                 # masked (周**): a printed certificate leaves the community
    minutes: int
    completed_at: datetime | None
    confirmed_at: datetime


class CertificateActivity(msgspec.Struct, frozen=True):
    attendance_id: int
    title: str
    community_name: str
    minutes: int
    checked_out_at: datetime | None


class Certificate(msgspec.Struct, frozen=True):
    user: PersonRef
    stars: Stars
    served_minutes: int              # the time-bank services below (hours.service_minutes)
    services: list[CertificateLine]
    issued_at: datetime
    hours: Hours | None = None       # the total the certificate states: activities + services + adjustments
    activities: list[CertificateActivity] = []
    # Hours of the total that no line above explains (imported history, awards without an attendance,
    # services credited apart from their request): one more row, so the printed rows add up.
    other_minutes: int = 0
    id_number_masked: str | None = None   # a certificate prints the ID number masked, never in full
    volunteer_number: str | None = None


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


async def certificate(conn: asyncpg.Connection, actor: Actor, user_id: int | None = None) -> Certificate:
    """Confirmed services a person gave, for a printed certificate; a manager may print one for a member."""
    user_id = actor.id if user_id is None else user_id
    if user_id != actor.id:
        await orgs.require_manager_of_user(conn, actor, user_id)
    name = await conn.fetchval("select name from users where id = $1", user_id)
    if name is None:
        raise not_found("user")
    rows = await conn.fetch(
        """Select r.id, r.title, o.name as community_name, b.name as beneficiary, r.confirmed_minutes,
                  r.completed_at, r.confirmed_at
           from service_requests r join orgs o on o.id = r.community_id join users b on b.id = r.beneficiary_id
           where r.volunteer_id = $1 and r.state = 'confirmed' order by r.confirmed_at, r.id limit 1000""", user_id)
    lines = [CertificateLine(r["id"], r["title"], r["community_name"], mask_name(r["beneficiary"]),
                             r["confirmed_minutes"], r["completed_at"], r["confirmed_at"]) for r in rows]
    attended = await conn.fetch(
        """Select t.id, a.title, o.name as community_name, t.minutes, t.checked_out_at
             from attendances t join activities a on a.id = t.activity_id join orgs o on o.id = a.community_id
            where t.user_id = $1 and t.state = 'done' and t.minutes > 0
            order by t.checked_out_at, t.id limit 1000""", user_id)
    hours = await hours_of(conn, user_id)
    activities = [CertificateActivity(r["id"], r["title"], r["community_name"], r["minutes"], r["checked_out_at"])
                  for r in attended]
    listed = sum(x.minutes for x in lines) + sum(a.minutes for a in activities) + hours.adjustment_minutes
    ident = await conn.fetchrow("select id_number_masked, volunteer_number from identities where user_id = $1", user_id)
    return Certificate(PersonRef(user_id, name), await stars_of(conn, user_id, hours), sum(x.minutes for x in lines),
                       lines, clock.now(), hours, activities, other_minutes=hours.total_minutes - listed,
                       id_number_masked=ident["id_number_masked"] if ident else None,
                       volunteer_number=ident["volunteer_number"] if ident else None)


SWEEPS = (lapse_accepted_services, confirm_unconfirmed_services)  # listed in api/capabilities.py


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

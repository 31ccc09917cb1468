"""Manager corrections: adjustments with a reason, and reversals of earlier transfers.

Each writes its audit row in the same transaction as its transfer (domain/audit.py).

Nobody pays themself (ledger.refuse_self_payment). An adjustment whose absolute amount is above its
community's threshold (adjustment_policies, default 200 points / 600 minutes, edited by the
community's managers) is not posted: it becomes a pending request that another manager of the
community, or an admin, approves (the transfer is posted then, exactly once) or rejects (maker-checker).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.ledger import Transfer
from domain.people import orgs

DEFAULT_THRESHOLDS = {"points": 200, "minutes": 600}  # as the column defaults of migrations/013_authority.sql


class Policy(msgspec.Struct, frozen=True):
    community_id: int
    threshold_points: int     # an adjustment of more than this many points (either sign) needs a second manager
    threshold_minutes: int


class AdjustmentRequest(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    user_id: int
    user_name: str
    unit: str
    amount: int
    reason: str
    requested_by: int
    requested_by_name: str
    state: str                       # pending | approved | rejected
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None
    transfer_id: int | None
    threshold: int                   # the threshold it was above, for the page


class AdjustmentRequestPage(msgspec.Struct, frozen=True):
    items: list[AdjustmentRequest]
    next_cursor: str | None


async def adjust(conn: asyncpg.Connection, actor: orgs.Actor, *, user_id: int, unit: str, amount: int,
                 reason: str, community_id: int | None = None, key: str | None = None,
                 ip: str | None = None) -> "Transfer | AdjustmentRequest":
    """Credit (amount > 0) or debit (amount < 0) a member from their community's issuing account;
    above the community's threshold, a pending request for a second manager instead."""
    reason = clean_reason(reason)
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    if amount == 0:
        raise DomainError("validation_failed", field="amount", details={"problem": "must not be zero"})
    members_of = set(await orgs.member_communities(conn, user_id))
    if community_id is None:
        mine = sorted(members_of if actor.is_admin else members_of & actor.manages)
        if not mine:
            raise orgs.no_such_user()  # for an outsider as for nobody: ids cannot be enumerated
        community_id = mine[0]
    orgs.require_manager(actor, community_id)
    await orgs.require_manager_of_user(conn, actor, user_id)
    # The value comes from this community's issuing account: only for its own members, even when
    # the manager also manages the person's other community.
    if community_id not in members_of:
        raise DomainError("validation_failed", field="community_id",
                          details={"problem": "the person is not a member of this community"})
    ledger.refuse_self_payment(actor.id, user_id)
    threshold = (await policy(conn, community_id)).threshold(unit)
    if abs(amount) > threshold:
        return await _request(conn, actor, community_id, user_id, unit, amount, reason, threshold, ip=ip)
    return await _post(conn, actor, community_id=community_id, user_id=user_id, unit=unit, amount=amount,
                       reason=reason, key=key, ip=ip)


async def _post(conn: asyncpg.Connection, actor: orgs.Actor, *, community_id: int, user_id: int, unit: ledger.Unit,
                amount: int, reason: str, key: str | None, ip: str | None,
                audited: tuple[str, dict] | None = None) -> Transfer:
    """Post the adjustment and its audit row (`adjustment`, or the act given in `audited`)."""
    issuing = await ledger.org_account(conn, community_id, "issuing", unit)
    # The person's account of value issued by this community: a credit stays this community's, and
    # a deduction takes back only what this community issued.
    person = await ledger.user_account(conn, user_id, unit, community_id)
    debit, credit = (issuing, person) if amount > 0 else (person, issuing)
    async with conn.transaction():
        transfer = await ledger.post(conn, unit=unit, debit=debit, credit=credit, amount=abs(amount),
                                     kind="adjustment", cause=("adjustment", community_id), memo=None,  # the statement names it by its cause, in the reader's language
                                     actor_id=actor.id, reason=reason, key=key)
        # A replayed key returns the first transfer and moves nothing: no new act, no second row. (A concurrent
        # first attempt has committed its row by then: the replay waited for it on the idem_key index.)
        act, extra = audited or ("adjustment", {})
        if key is None or not await conn.fetchval(
                "select 1 from audit_log where target_type = 'user' and target_id = $1 and act = $3 "
                "and (after->>'transfer_id')::bigint = $2", user_id, transfer.id, act):
            await audit.record(conn, actor, act, community_id=community_id, target=("user", user_id),
                               after={"unit": unit, "amount": amount, "transfer_id": transfer.id, **extra},
                               reason=reason, ip=ip)
    return transfer


# ---- maker-checker ----------------------------------------------------------------------------

class _Policy(msgspec.Struct, frozen=True):
    points: int
    minutes: int

    def threshold(self, unit: str) -> int:
        return self.points if unit == "points" else self.minutes


async def policy(conn: asyncpg.Connection, community_id: int) -> _Policy:
    row = await conn.fetchrow("select threshold_points, threshold_minutes from adjustment_policies "
                              "where community_id = $1", community_id)
    if row is None:
        return _Policy(DEFAULT_THRESHOLDS["points"], DEFAULT_THRESHOLDS["minutes"])
    return _Policy(row["threshold_points"], row["threshold_minutes"])


async def _community(conn: asyncpg.Connection, actor: orgs.Actor, community_id: int) -> None:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    orgs.require_manager(actor, community_id)


async def get_policy(conn: asyncpg.Connection, actor: orgs.Actor, community_id: int) -> Policy:
    await _community(conn, actor, community_id)
    p = await policy(conn, community_id)
    return Policy(community_id, p.points, p.minutes)


async def set_policy(conn: asyncpg.Connection, actor: orgs.Actor, community_id: int, *,
                     threshold_points: int | None, threshold_minutes: int | None, ip: str | None = None) -> Policy:
    """A manager of the community changes its thresholds; audited with before and after."""
    await _community(conn, actor, community_id)
    for field, value in (("threshold_points", threshold_points), ("threshold_minutes", threshold_minutes)):
        if value is not None and not 0 <= value <= 1_000_000:
            raise invalid(field, "0 to 1000000")
    async with conn.transaction():
        await conn.execute("select 1 from orgs where id = $1 for update", community_id)  # one change at a time
        old = await policy(conn, community_id)
        new = _Policy(old.points if threshold_points is None else threshold_points,
                      old.minutes if threshold_minutes is None else threshold_minutes)
        if new != old:
            await conn.execute(
                """insert into adjustment_policies (community_id, threshold_points, threshold_minutes, updated_by,
                                                    updated_at)
                   values ($1, $2, $3, $4, $5)
                   on conflict (community_id) do update set threshold_points = excluded.threshold_points,
                       threshold_minutes = excluded.threshold_minutes, updated_by = excluded.updated_by,
                       updated_at = excluded.updated_at""",
                community_id, new.points, new.minutes, actor.id, clock.now())
            await audit.record(conn, actor, "adjustment_policy", community_id=community_id,
                               target=("org", community_id),
                               before={"threshold_points": old.points, "threshold_minutes": old.minutes},
                               after={"threshold_points": new.points, "threshold_minutes": new.minutes}, ip=ip)
    return Policy(community_id, new.points, new.minutes)


_REQUEST_SELECT = """
    select r.*, u.name as user_name, m.name as requested_by_name,
           coalesce(case r.unit when 'points' then p.threshold_points else p.threshold_minutes end,
                    case r.unit when 'points' then 200 else 600 end) as threshold
    from adjustment_requests r join users u on u.id = r.user_id join users m on m.id = r.requested_by
    left join adjustment_policies p on p.community_id = r.community_id"""


def _adjustment_request(row: asyncpg.Record) -> AdjustmentRequest:
    return AdjustmentRequest(**{k: row[k] for k in AdjustmentRequest.__struct_fields__})


async def _load_request(conn: asyncpg.Connection, request_id: int) -> AdjustmentRequest:
    return _adjustment_request(await conn.fetchrow(_REQUEST_SELECT + " where r.id = $1", request_id))


async def _request(conn: asyncpg.Connection, actor: orgs.Actor, community_id: int, user_id: int, unit: str,
                   amount: int, reason: str, threshold: int, *, ip: str | None) -> AdjustmentRequest:
    async with conn.transaction():
        request_id = await conn.fetchval(
            """insert into adjustment_requests (community_id, user_id, unit, amount, reason, requested_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7) returning id""",
            community_id, user_id, unit, amount, reason, actor.id, clock.now())
        await audit.record(conn, actor, "adjustment_request", community_id=community_id, target=("user", user_id),
                           after={"request_id": request_id, "unit": unit, "amount": amount, "threshold": threshold},
                           reason=reason, ip=ip)
        return await _load_request(conn, request_id)


async def _decidable(conn: asyncpg.Connection, actor: orgs.Actor, request_id: int) -> asyncpg.Record:
    """Lock a request and check the actor may decide on it: a manager of its community (or an admin).
    Anyone else hears that it does not exist."""
    row = await conn.fetchrow("select * from adjustment_requests where id = $1 for update", request_id)
    if row is None or not (actor.is_admin or row["community_id"] in actor.manages):
        raise not_found("adjustment request")
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def approve(conn: asyncpg.Connection, actor: orgs.Actor, request_id: int, *,
                  ip: str | None = None) -> AdjustmentRequest:
    """The checker approves: the adjustment is posted now, once (the row lock and the state make a
    second approval, concurrent or later, an invalid_state; the ledger key makes a retry move nothing)."""
    async with conn.transaction():
        row = await _decidable(conn, actor, request_id)
        if row["requested_by"] == actor.id:
            raise forbidden("nobody approves their own adjustment: another manager must")
        ledger.refuse_self_payment(actor.id, row["user_id"])
        if row["community_id"] not in await orgs.member_communities(conn, row["user_id"]):
            raise DomainError("invalid_state", details={"problem": "the person is no longer a member of this community"})
        transfer = await _post(conn, actor, community_id=row["community_id"], user_id=row["user_id"], unit=row["unit"],
                               amount=row["amount"], reason=row["reason"], key=f"adjustment-request:{request_id}",
                               ip=ip, audited=("adjustment_approve", {"request_id": request_id,
                                                                       "requested_by": row["requested_by"]}))
        await conn.execute("update adjustment_requests set state = 'approved', decided_by = $2, decided_at = $3, "
                           "transfer_id = $4 where id = $1", request_id, actor.id, clock.now(), transfer.id)
        return await _load_request(conn, request_id)


async def reject(conn: asyncpg.Connection, actor: orgs.Actor, request_id: int, reason: str, *,
                 ip: str | None = None) -> AdjustmentRequest:
    """A manager of the community rejects (the maker may withdraw their own); nothing moves."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await _decidable(conn, actor, request_id)
        await conn.execute("update adjustment_requests set state = 'rejected', decided_by = $2, decided_at = $3, "
                           "decision_reason = $4 where id = $1", request_id, actor.id, clock.now(), reason)
        await audit.record(conn, actor, "adjustment_reject", community_id=row["community_id"],
                           target=("user", row["user_id"]),
                           after={"request_id": request_id, "unit": row["unit"], "amount": row["amount"]},
                           reason=reason, ip=ip)
        return await _load_request(conn, request_id)


async def list_requests(conn: asyncpg.Connection, actor: orgs.Actor, *, community_id: int | None,
                        state: str | None, limit: int, after: int) -> AdjustmentRequestPage:
    """Requests of the communities the actor manages (admins: all), oldest first."""
    if state not in (None, "pending", "approved", "rejected"):
        raise invalid("state", "pending, approved or rejected")
    if community_id is not None:
        orgs.require_manager(actor, community_id)
    elif not actor.is_admin and not actor.manages:
        raise forbidden("managers and admins only")
    scope = None if actor.is_admin else sorted(actor.manages)
    rows = await conn.fetch(
        _REQUEST_SELECT + """ where ($1::bigint is null or r.community_id = $1)
                                and ($2::bigint[] is null or r.community_id = any($2))
                                and ($3::text is null or r.state = $3) and r.id > $4
                              order by r.id limit $5""", community_id, scope, state, after, limit + 1)
    items = [_adjustment_request(r) for r in rows[:limit]]
    return AdjustmentRequestPage(items, str(items[-1].id) if len(rows) > limit else None)


async def community_of_transfer(conn: asyncpg.Connection, transfer_id: int) -> int | None:
    return await conn.fetchval(
        """select a.org_id from transfers t join accounts a on a.id in (t.debit_account, t.credit_account)
           where t.id = $1 order by a.kind = 'user', a.id limit 1""", transfer_id)
    # A person's accounts name their issuing community too (migrations/018): the community's own
    # account (issuing, pool, supermarket) says whose transfer it is when there is one.


# Only these transfers undo by a generic reversal. Every other cause belongs to a capability whose
# own state rides on the transfer (a redemption's voucher, a service's confirmation, a report's
# verification, a check-in's attendance, a gift between family members...): reversing the money
# alone would leave that state alive (a voucher that still fulfils, a refund that can never be made
# at expiry), so they undo through their own act, which reverses the transfer itself.
GENERICALLY_REVERSIBLE = frozenset({"adjustment", "reversal"})  # a reversal's own reversal: invalid_state below


async def reverse(conn: asyncpg.Connection, actor: orgs.Actor, transfer_id: int, reason: str, *,
                  ip: str | None = None) -> Transfer:
    reason = clean_reason(reason)
    original = await conn.fetchrow("select cause_type, cause_id from transfers where id = $1", transfer_id)
    if original is None:
        raise not_found("transfer")
    community_id = await community_of_transfer(conn, transfer_id)
    orgs.require_manager(actor, community_id)
    if original["cause_type"] is not None and original["cause_type"] not in GENERICALLY_REVERSIBLE:
        raise DomainError("owned_transfer", details={"owner": original["cause_type"],
                                                     "owner_id": original["cause_id"]})
    async with conn.transaction():
        reversal = await ledger.reverse(conn, transfer_id, actor_id=actor.id, reason=reason)
        people = await conn.fetchval("select array_agg(user_id order by user_id) from accounts "
                                     "where id in ($1, $2) and user_id is not null",
                                     reversal.debit_account, reversal.credit_account)
        await audit.record(conn, actor, "reversal", community_id=community_id, target=("transfer", transfer_id),
                           after={"reversal_id": reversal.id, "unit": reversal.unit, "amount": reversal.amount,
                                  "user_ids": people or []}, reason=reason, ip=ip)
    return reversal

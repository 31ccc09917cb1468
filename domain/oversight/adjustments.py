"""Manager corrections: adjustments with a reason, and reversals of earlier transfers.

A capability over the ledger: it posts through domain/ledger (the only writer of value), checks who
may act through domain/people, and keeps the community's limits with the rest of oversight. Each
writes its audit row in the same transaction as its transfer (domain/core/audit.py).

Nobody pays themself (ledger.refuse_self_payment). An adjustment whose absolute amount is above its
community's threshold (adjustment_policies, default 200 points / 600 minutes, edited by the
community's managers) is not posted: it becomes a pending request that another manager of the
community, or an admin, approves (the transfer is posted then, exactly once) or rejects (maker-checker).

a manager's credits by hand also count toward a daily limit per community (five
adjustments of 200 add up); past it, the adjustment waits the same way (`why: daily_limit`). A
manager of the community's street or district may be the second person. A change of the thresholds
that loosens them takes effect only when a second person approves it (domain/oversight).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger, oversight
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.ledger import Transfer
from domain.oversight import rules as oversight_rules
from domain.people import orgs

DEFAULT_THRESHOLDS = {"points": oversight_rules.DEFAULT_LIMITS["threshold_points"],
                      "minutes": oversight_rules.DEFAULT_LIMITS["threshold_minutes"]}


class Policy(msgspec.Struct, frozen=True):
    community_id: int
    threshold_points: int     # an adjustment of more than this many points (either sign) needs a second manager
    threshold_minutes: int
    daily_points: int = oversight_rules.DEFAULT_LIMITS["daily_points"]    # a maker's hand-made credits a day
    daily_minutes: int = oversight_rules.DEFAULT_LIMITS["daily_minutes"]
    pending_id: int | None = None  # a loosening change waiting for a second person (the held act's id)
    held: bool = False             # this change was held (answered 202): the values above are still the old ones


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
    why: str                         # threshold (above the per-act threshold) | daily_limit (the maker's day)
    decided_by: int | None
    decided_at: datetime | None
    decision_reason: str | None
    transfer_id: int | None
    threshold: int                   # the threshold it was above, for the page


class AdjustmentRequestPage(msgspec.Struct, frozen=True):
    items: list[AdjustmentRequest]
    next_cursor: str | None


async def adjust(conn: asyncpg.Connection, actor: Actor, *, user_id: int, unit: str, amount: int,
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
    limits = await oversight.limits(conn, community_id)
    threshold = limits.threshold(unit)
    # The limits in force, kept on the audit row: `linli audit` judges the act by them, not by later ones.
    in_force = ("adjustment", {"threshold": threshold, "daily_limit": limits.daily(unit)})
    async with conn.transaction():
        if abs(amount) > threshold:
            result: Transfer | AdjustmentRequest = await _request(conn, actor, community_id, user_id, unit, amount,
                                                                  reason, threshold, ip=ip)
        elif key is not None and await conn.fetchval("select 1 from transfers where idem_key = $1", key):
            # a replay counts nothing toward the day (the ledger answers it, or refuses a changed body)
            result = await _post(conn, actor, community_id=community_id, user_id=user_id, unit=unit, amount=amount,
                                 reason=reason, key=key, ip=ip, audited=in_force)
        elif (over := await oversight.count_manual(conn, community_id, actor.id, {unit: amount})) is not None:
            result = await _request(conn, actor, community_id, user_id, unit, amount, reason, threshold, ip=ip,
                                    why="daily_limit")
            await oversight.flag(conn, community_id, actor.id, "daily_limit", over)
        else:
            result = await _post(conn, actor, community_id=community_id, user_id=user_id, unit=unit, amount=amount,
                                 reason=reason, key=key, ip=ip, audited=in_force)
        await oversight.check_pace(conn, community_id, actor.id)
    return result


async def _post(conn: asyncpg.Connection, actor: Actor, *, community_id: int, user_id: int, unit: ledger.Unit,
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

POLICY_FIELDS = ("threshold_points", "threshold_minutes", "daily_points", "daily_minutes")


async def _community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    orgs.require_manager(actor, community_id)


async def _policy(conn: asyncpg.Connection, community_id: int) -> Policy:
    limits = await oversight.limits(conn, community_id)
    pending = await conn.fetchval("select id from held_acts where community_id = $1 and kind = 'policy' "
                                  "and state = 'pending' and payload->>'policy' = 'adjustment' order by id desc "
                                  "limit 1", community_id)
    return Policy(community_id, limits.threshold_points, limits.threshold_minutes, limits.daily_points,
                  limits.daily_minutes, pending_id=pending)


async def get_policy(conn: asyncpg.Connection, actor: Actor, community_id: int) -> Policy:
    await _community(conn, actor, community_id)
    return await _policy(conn, community_id)


async def set_policy(conn: asyncpg.Connection, actor: Actor, community_id: int, *,
                     threshold_points: int | None, threshold_minutes: int | None, daily_points: int | None = None,
                     daily_minutes: int | None = None, ip: str | None = None) -> Policy:
    """A manager of the community changes its thresholds and daily limits; audited with before and
    after. A change that loosens any of them is held for another manager of
    the community or a street manager (an admin's takes effect at once); tightening applies now."""
    await _community(conn, actor, community_id)
    asked = {"threshold_points": threshold_points, "threshold_minutes": threshold_minutes,
             "daily_points": daily_points, "daily_minutes": daily_minutes}
    for field, value in asked.items():
        if value is not None and not 0 <= value <= 1_000_000:
            raise invalid(field, "0 to 1000000")
    async with conn.transaction():
        await conn.execute("select 1 from orgs where id = $1 for update", community_id)  # one change at a time
        old = await oversight.limits(conn, community_id)
        before = {f: getattr(old, f) for f in POLICY_FIELDS}
        after: dict[str, int] = {f: before[f] if (v := asked[f]) is None else v for f in POLICY_FIELDS}
        loosened = oversight_rules.loosens(before, after)
        if loosened and not actor.is_admin:
            held = await oversight.hold(conn, actor, community_id, "policy",
                                        payload={"policy": "adjustment", "changes": after},
                                        evidence={"before": before, "after": after, "loosens": loosened}, ip=ip)
            await oversight.flag(conn, community_id, actor.id, "policy_loosen", {"held_id": held, "loosens": loosened})
            return msgspec.structs.replace(await _policy(conn, community_id), held=True)
        if after != before:
            await apply_policy(conn, actor, community_id, after, ip=ip)
        return await _policy(conn, community_id)


async def apply_policy(conn: asyncpg.Connection, actor: Actor, community_id: int, after: dict[str, int], *,
                       ip: str | None = None, held_id: int | None = None) -> None:
    """Write the community's thresholds and daily limits (in the caller's transaction), audited."""
    old = await oversight.limits(conn, community_id)
    before = {f: getattr(old, f) for f in POLICY_FIELDS}
    await conn.execute(
        """Insert into adjustment_policies (community_id, threshold_points, threshold_minutes, daily_points,
                                            daily_minutes, updated_by, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (community_id) do update set threshold_points = excluded.threshold_points,
               threshold_minutes = excluded.threshold_minutes, daily_points = excluded.daily_points,
               daily_minutes = excluded.daily_minutes, updated_by = excluded.updated_by,
               updated_at = excluded.updated_at""",
        community_id, *(after[f] for f in POLICY_FIELDS), actor.id, clock.now())
    if held_id is None:  # approved from the held queue: its approval is the act's audit row
        await audit.record(conn, actor, "adjustment_policy", community_id=community_id, target=("org", community_id),
                           before=before, after=after, ip=ip)


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


async def _request(conn: asyncpg.Connection, actor: Actor, community_id: int, user_id: int, unit: str,
                   amount: int, reason: str, threshold: int, *, ip: str | None,
                   why: str = "threshold") -> AdjustmentRequest:
    async with conn.transaction():
        request_id = await conn.fetchval(
            """Insert into adjustment_requests (community_id, user_id, unit, amount, reason, requested_by, created_at,
                                                why)
               values ($1, $2, $3, $4, $5, $6, $7, $8) returning id""",
            community_id, user_id, unit, amount, reason, actor.id, clock.now(), why)
        await audit.record(conn, actor, "adjustment_request", community_id=community_id, target=("user", user_id),
                           after={"request_id": request_id, "unit": unit, "amount": amount, "threshold": threshold,
                                  "why": why}, reason=reason, ip=ip)
        return await _load_request(conn, request_id)


async def _decidable(conn: asyncpg.Connection, actor: Actor, request_id: int) -> asyncpg.Record:
    """Lock a request and check the actor may decide on it: a manager of its community, of its street
    or district, or an admin. Anyone else hears that it does not exist."""
    row = await conn.fetchrow("select * from adjustment_requests where id = $1 for update", request_id)
    if row is None or not oversight.may_check(actor, row["community_id"]):
        raise not_found("adjustment request")
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def approve(conn: asyncpg.Connection, actor: Actor, request_id: int, *,
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


async def reject(conn: asyncpg.Connection, actor: Actor, request_id: int, reason: str, *,
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


async def list_requests(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None,
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
        """Select a.org_id from transfers t join accounts a on a.id in (t.debit_account, t.credit_account)
           where t.id = $1 order by a.kind = 'user', a.id limit 1""", transfer_id)
    # A person's accounts name their issuing community too (migrations/018): the community's own
    # account (issuing, pool, supermarket) says whose transfer it is when there is one.


# Only these transfers undo by a generic reversal. Every other cause belongs to a capability whose
# own state rides on the transfer (a redemption's voucher, a service's confirmation, a report's
# verification, a check-in's attendance, a gift between family members...): reversing the money
# alone would leave that state alive (a voucher that still fulfils, a refund that can never be made
# at expiry), so they undo through their own act, which reverses the transfer itself.
GENERICALLY_REVERSIBLE = frozenset({"adjustment", "reversal"})  # a reversal's own reversal: invalid_state below


async def reverse(conn: asyncpg.Connection, actor: Actor, transfer_id: int, reason: str, *,
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

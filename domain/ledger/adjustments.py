"""Manager corrections: adjustments with a reason, and reversals of earlier transfers.

Each writes its audit row in the same transaction as its transfer (domain/audit.py)."""

import asyncpg

from domain.core import audit
from domain import ledger
from domain.people import orgs
from domain.core.errors import DomainError, forbidden, not_found
from domain.ledger import Transfer


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("validation_failed", field="reason", details={"problem": "required"})
    if len(reason) > 500:
        raise DomainError("validation_failed", field="reason", details={"problem": "at most 500 characters"})
    return reason


async def adjust(conn: asyncpg.Connection, actor: orgs.Actor, *, user_id: int, unit: str, amount: int,
                 reason: str, community_id: int | None = None, key: str | None = None,
                 ip: str | None = None) -> Transfer:
    """Credit (amount > 0) or debit (amount < 0) a member from their community's issuing account."""
    reason = _reason(reason)
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    if amount == 0:
        raise DomainError("validation_failed", field="amount", details={"problem": "must not be zero"})
    members_of = set(await orgs.member_communities(conn, user_id))
    if community_id is None:
        mine = sorted(members_of if actor.is_admin else members_of & actor.manages)
        if not mine:
            await orgs.require_manager_of_user(conn, actor, user_id)  # 404 for nobody, 403 for an outsider
            raise forbidden("the person is not a member of your communities")
        community_id = mine[0]
    orgs.require_manager(actor, community_id)
    await orgs.require_manager_of_user(conn, actor, user_id)
    # The value comes from this community's issuing account: only for its own members, even when
    # the manager also manages the person's other community.
    if community_id not in members_of:
        raise DomainError("validation_failed", field="community_id",
                          details={"problem": "the person is not a member of this community"})
    issuing = await ledger.org_account(conn, community_id, "issuing", unit)
    # The person's account of value issued by this community: a credit stays this community's, and
    # a deduction takes back only what this community issued.
    person = await ledger.user_account(conn, user_id, unit, community_id)
    debit, credit = (issuing, person) if amount > 0 else (person, issuing)
    async with conn.transaction():
        transfer = await ledger.post(conn, unit=unit, debit=debit, credit=credit, amount=abs(amount),
                                     kind="adjustment", cause=("adjustment", community_id), memo="调整 adjustment",
                                     actor_id=actor.id, reason=reason, key=key)
        # A replayed key returns the first transfer and moves nothing: no new act, no second row. (A concurrent
        # first attempt has committed its row by then: the replay waited for it on the idem_key index.)
        if key is None or not await conn.fetchval(
                "select 1 from audit_log where target_type = 'user' and target_id = $1 and act = 'adjustment' "
                "and (after->>'transfer_id')::bigint = $2", user_id, transfer.id):
            await audit.record(conn, actor, "adjustment", community_id=community_id, target=("user", user_id),
                               after={"unit": unit, "amount": amount, "transfer_id": transfer.id},
                               reason=reason, ip=ip)
    return transfer


async def community_of_transfer(conn: asyncpg.Connection, transfer_id: int) -> int | None:
    return await conn.fetchval(
        """select a.org_id from transfers t join accounts a on a.id in (t.debit_account, t.credit_account)
           where t.id = $1 order by a.kind = 'user', a.id limit 1""", transfer_id)
    # A person's accounts name their issuing community too (migrations/018): the community's own
    # account (issuing, pool, supermarket) says whose transfer it is when there is one.


async def reverse(conn: asyncpg.Connection, actor: orgs.Actor, transfer_id: int, reason: str, *,
                  ip: str | None = None) -> Transfer:
    reason = _reason(reason)
    if not await conn.fetchval("select 1 from transfers where id = $1", transfer_id):
        raise not_found("transfer")
    community_id = await community_of_transfer(conn, transfer_id)
    orgs.require_manager(actor, community_id)
    async with conn.transaction():
        reversal = await ledger.reverse(conn, transfer_id, actor_id=actor.id, reason=reason)
        people = await conn.fetchval("select array_agg(user_id order by user_id) from accounts "
                                     "where id in ($1, $2) and user_id is not null",
                                     reversal.debit_account, reversal.credit_account)
        await audit.record(conn, actor, "reversal", community_id=community_id, target=("transfer", transfer_id),
                           after={"reversal_id": reversal.id, "unit": reversal.unit, "amount": reversal.amount,
                                  "user_ids": people or []}, reason=reason, ip=ip)
    return reversal

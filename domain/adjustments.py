"""Manager corrections: adjustments with a reason, and reversals of earlier transfers."""

import asyncpg

from domain import ledger, orgs
from domain.errors import DomainError, forbidden, not_found
from domain.ledger import Transfer


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("validation_failed", field="reason", details={"problem": "required"})
    if len(reason) > 500:
        raise DomainError("validation_failed", field="reason", details={"problem": "at most 500 characters"})
    return reason


async def adjust(conn: asyncpg.Connection, actor: orgs.Actor, *, user_id: int, unit: str, amount: int,
                 reason: str, community_id: int | None = None, key: str | None = None) -> Transfer:
    """Credit (amount > 0) or debit (amount < 0) a member from their community's issuing account."""
    reason = _reason(reason)
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    if amount == 0:
        raise DomainError("validation_failed", field="amount", details={"problem": "must not be zero"})
    if community_id is None:
        mine = sorted(set(await orgs.member_communities(conn, user_id)) & (actor.manages or set()))
        if not mine and actor.is_admin:
            mine = sorted(await orgs.member_communities(conn, user_id))
        if not mine:
            await orgs.require_manager_of_user(conn, actor, user_id)
            raise forbidden("the person is not a member of your communities")
        community_id = mine[0]
    orgs.require_manager(actor, community_id)
    await orgs.require_manager_of_user(conn, actor, user_id)
    issuing = await ledger.org_account(conn, community_id, "issuing", unit)
    person = await ledger.user_account(conn, user_id, unit)
    debit, credit = (issuing, person) if amount > 0 else (person, issuing)
    return await ledger.post(conn, unit=unit, debit=debit, credit=credit, amount=abs(amount), kind="adjustment",
                             cause=("adjustment", community_id), memo="调整 adjustment", actor_id=actor.id,
                             reason=reason, key=key)


async def community_of_transfer(conn: asyncpg.Connection, transfer_id: int) -> int | None:
    return await conn.fetchval(
        """select a.org_id from transfers t join accounts a on a.id in (t.debit_account, t.credit_account)
           where t.id = $1 and a.org_id is not null limit 1""", transfer_id)


async def reverse(conn: asyncpg.Connection, actor: orgs.Actor, transfer_id: int, reason: str) -> Transfer:
    reason = _reason(reason)
    if not await conn.fetchval("select 1 from transfers where id = $1", transfer_id):
        raise not_found("transfer")
    orgs.require_manager(actor, await community_of_transfer(conn, transfer_id))
    return await ledger.reverse(conn, transfer_id, actor_id=actor.id, reason=reason)

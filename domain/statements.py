"""Reading the ledger for people: statements (newest first, with balance after each posting)."""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.errors import DomainError


class Cause(msgspec.Struct, frozen=True):
    type: str | None
    id: int | None
    label: str | None


class Person(msgspec.Struct, frozen=True):
    id: int
    name: str


class StatementLine(msgspec.Struct, frozen=True):
    id: int
    transfer_id: int
    created_at: datetime
    kind: str
    amount: int              # signed: + in, - out
    balance_after: int | None
    state: str
    cause: Cause
    actor: Person | None
    reason: str | None
    reversed_by: int | None


class StatementPage(msgspec.Struct, frozen=True):
    items: list[StatementLine]
    next_cursor: str | None
    held: int


async def statement(conn: asyncpg.Connection, user_id: int, unit: str, limit: int, before: int) -> StatementPage:
    """One page of a person's postings; `before` is the cursor (entry id), 0 for the newest page.

    Served by the entries_account (account_id, id desc) index: cost grows with the page, not the history.
    """
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    account = await ledger.user_account(conn, user_id, unit)
    rows = await conn.fetch(
        """select e.id, e.transfer_id, e.created_at, e.amount, e.balance_after, t.kind, t.state,
                  t.cause_type, t.cause_id, t.memo, t.reason, t.actor_id, u.name as actor_name,
                  (select r.id from transfers r where r.reverses = t.id) as reversed_by
           from entries e join transfers t on t.id = e.transfer_id left join users u on u.id = t.actor_id
           where e.account_id = $1 and ($2 = 0 or e.id < $2)
           order by e.id desc limit $3""", account, before, limit + 1)
    held = await conn.fetchval("select held from accounts where id = $1", account)
    items = [StatementLine(
        id=r["id"], transfer_id=r["transfer_id"], created_at=r["created_at"], kind=r["kind"], amount=r["amount"],
        balance_after=r["balance_after"], state=r["state"], cause=Cause(r["cause_type"], r["cause_id"], r["memo"]),
        actor=Person(r["actor_id"], r["actor_name"]) if r["actor_id"] else None, reason=r["reason"],
        reversed_by=r["reversed_by"]) for r in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return StatementPage(items=items, next_cursor=next_cursor, held=held)

"""Reading the ledger for people: statements (newest first, with balance after each posting)."""

import re
from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.core.errors import DomainError


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


# One page of an account's postings, newest first, read through the entries_account
# (account_id, id desc) index so the cost grows with the page, not with the history, however deep the
# cursor. Two details keep the planner on that index (tests/test_ledger_scale.py EXPLAINs this text):
# - `e.id < $2` with no OR: the first page passes the largest id, so both bounds are index conditions;
# - `account_id = any(array[$1])` and `order by e.account_id, e.id desc`: with a plain `account_id = $1`
#   the planner may instead walk the primary key backwards filtering on the account, which looks cheap
#   for an account with a large share of all entries but reads every newer posting of everyone when
#   that account's own postings are old. Written this way, only entries_account delivers the order.
STATEMENT_QUERY = """
    select e.id, e.transfer_id, e.created_at, e.amount, e.balance_after, t.kind, t.state,
           t.cause_type, t.cause_id, t.memo, t.reason, t.actor_id, u.name as actor_name,
           (select r.id from transfers r where r.reverses = t.id) as reversed_by
      from entries e
      join transfers t on t.id = e.transfer_id
      left join users u on u.id = t.actor_id
     where e.account_id = any(array[$1::bigint]) and e.id < $2
     order by e.account_id, e.id desc
     limit $3"""

NEWEST = 2**63 - 1  # the cursor of the first page: before every entry id

# A memo names people by reference, never by name (issue 16): the ledger cannot be edited, and a name
# written into it would outlive the closing of that person's account. `person_ref` writes the
# reference, `render_memos` puts in the name each person has when the memo is read (a closed
# account's is 已注销用户, set when it closed).
_PERSON = re.compile(r"\{user:(\d+)\}")


def person_ref(user_id: int) -> str:
    return "{user:%d}" % user_id


async def render_memos(conn: asyncpg.Connection, memos: "list[str | None]") -> "list[str | None]":
    ids = {int(m) for memo in memos if memo for m in _PERSON.findall(memo)}
    if not ids:
        return list(memos)
    names = dict(await conn.fetch("select id, name from users where id = any($1::bigint[])", sorted(ids)))
    return [_PERSON.sub(lambda m: names.get(int(m.group(1)), "?"), memo) if memo else memo for memo in memos]


async def statement(conn: asyncpg.Connection, user_id: int, unit: str, limit: int, before: int) -> StatementPage:
    """One page of a person's postings; `before` is the cursor (entry id), 0 for the newest page."""
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    account = await ledger.user_account(conn, user_id, unit)
    rows = await conn.fetch(STATEMENT_QUERY, account, before or NEWEST, limit + 1)
    held = await conn.fetchval("select held from accounts where id = $1", account)
    memos = await render_memos(conn, [r["memo"] for r in rows[:limit]])
    items = [StatementLine(
        id=r["id"], transfer_id=r["transfer_id"], created_at=r["created_at"], kind=r["kind"], amount=r["amount"],
        balance_after=r["balance_after"], state=r["state"], cause=Cause(r["cause_type"], r["cause_id"], memo),
        actor=Person(r["actor_id"], r["actor_name"]) if r["actor_id"] else None, reason=r["reason"],
        reversed_by=r["reversed_by"]) for r, memo in zip(rows[:limit], memos)]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return StatementPage(items=items, next_cursor=next_cursor, held=held)

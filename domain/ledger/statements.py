"""Reading the ledger for people: statements (newest first, with balance after each posting)."""

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

import asyncpg
import msgspec

from domain import ledger
from domain.core import queries
from domain.core.errors import DomainError

Q = queries.load("ledger")


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
    balance_after: int | None  # of the part of the wallet issued by `community` (one account)
    state: str
    cause: Cause
    actor: Person | None
    reason: str | None
    reversed_by: int | None
    community: Cause | None = None  # the issuing community of the account this line moved (type 'org')
    # The rulebook item and version the line was made under: 《…积分细则》第N版 CODE 标题.
    rule: str | None = None


class StatementPage(msgspec.Struct, frozen=True):
    items: list[StatementLine]
    next_cursor: str | None
    held: int
    balance: ledger.Balance | None = None  # 总额 / 冻结中 / 可用 now, as every page shows them


class RuleOf(Protocol):
    """What a line shows of the rule its transfer was made under."""
    @property
    def label(self) -> str: ...
    @property
    def transfer_id(self) -> int | None: ...  # None: every transfer of the cause


# The rules behind transfers, by their cause (type, id): domain/recognition/rulebook.py `rules_of`.
# The caller passes it in: recognition reads the ledger, so the ledger does not import it.
RulesOf = Callable[[asyncpg.Connection, list[tuple[str | None, int | None]]],
                   Awaitable[Mapping[tuple[str, int], RuleOf]]]


NEWEST = 2**63 - 1

# Labels written by early versions mixed English into the Chinese label. Transfers are append-only, so
# they are read in words instead: the adjustment by its cause's name, the others without the English.
_OLD_LABELS = {"调整 adjustment": None, "纸质记录迁移 migrated paper records": "纸质记录迁移"}
_OLD_EXPIRY_LABEL = re.compile(r"^(\d{4}年积分到期) points earned in \d{4} expired$")


def _label(memo: str | None) -> str | None:
    if memo in _OLD_LABELS:
        return _OLD_LABELS[memo]
    old_expiry = _OLD_EXPIRY_LABEL.match(memo or "")
    return old_expiry.group(1) if old_expiry else memo  # the cursor of the first page: before every entry id

# A memo names people by reference, never by name: the ledger cannot be edited, and a name
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


async def statement(conn: asyncpg.Connection, user_id: int, unit: str, limit: int, before: int, *,
                    rules_of: RulesOf) -> StatementPage:
    """One page of a person's postings on all their accounts of `unit` (one per issuing community),
    newest first; `before` is the cursor (entry id), 0 for the newest page. `rules_of` names the rule
    each line was made under (a deduction's, a check-in's...).

    Each account is read with the named query statement_page (one page at most), and the pages merged by entry id:
    the cost stays a page per account however deep the history."""
    if unit not in ledger.UNITS:
        raise DomainError("validation_failed", field="unit", details={"problem": "points or minutes"})
    accounts = await conn.fetch(
        "select a.id, a.org_id, o.name, a.balance, a.held from accounts a join orgs o on o.id = a.org_id "
        "where a.user_id = $1 and a.unit = $2 and a.kind = 'user' order by a.id", user_id, unit)
    rows, community = [], {}
    for account in accounts:
        community[account["id"]] = Cause("org", account["org_id"], account["name"])
        rows += [dict(r) | {"account_id": account["id"]}
                 for r in await conn.fetch(Q.statement_page, account["id"], before or NEWEST, limit + 1)]
    rows.sort(key=lambda r: r["id"], reverse=True)
    held = sum(a["held"] for a in accounts)
    memos = await render_memos(conn, [r["memo"] for r in rows[:limit]])
    made_under = await rules_of(conn, [(r["cause_type"], r["cause_id"]) for r in rows[:limit]])
    items = [StatementLine(
        id=r["id"], transfer_id=r["transfer_id"], created_at=r["created_at"], kind=r["kind"], amount=r["amount"],
        balance_after=r["balance_after"], state=r["state"], cause=Cause(r["cause_type"], r["cause_id"], _label(memo)),
        actor=Person(r["actor_id"], r["actor_name"]) if r["actor_id"] else None, reason=r["reason"],
        reversed_by=r["reversed_by"], community=community[r["account_id"]],
        rule=rule.label if (rule := made_under.get((r["cause_type"], r["cause_id"])))
        and rule.transfer_id in (None, r["transfer_id"]) else None)
        for r, memo in zip(rows[:limit], memos)]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    total = sum(a["balance"] for a in accounts)
    return StatementPage(items=items, next_cursor=next_cursor, held=held,
                         balance=ledger.Balance(total, held, total - held))

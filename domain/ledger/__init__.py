"""The only writer of the ledger: post, hold, post_pending, void_pending, reverse.

Each function runs inside the caller's transaction (a check-in and its credit commit together) and:
1. checks the accounts exist and carry the transfer's unit (`validation_failed`, not a raw error);
2. locks the running-balance accounts it touches, in ascending id order (no deadlocks between
   two movements over the same accounts) - for a new transfer, 1 and 2 are one query;
3. re-reads what a concurrent call may have changed while it waited for the lock (a transfer
   already reversed), then checks the available balance, so the caller gets `invalid_state` or
   `insufficient_balance` rather than a raw constraint error (the database CHECKs and triggers
   stay the real guard);
4. inserts or resolves the transfer; the triggers of migrations/002_ledger.sql apply it.
An `idem_key` makes a retried call return the first transfer and move nothing; the same key with
a different movement is `idempotency_conflict`. A new transfer does not look its key up first: the
insert's ON CONFLICT finds a used key, and the key is looked up only when the balance check fails
(a retried spend whose first call already spent the balance replays, it is no overdraft).
"""

from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from domain.core import clock
from domain.core.errors import DomainError

Unit = Literal["points", "minutes"]
UNITS: tuple[Unit, ...] = ("points", "minutes")


class Transfer(msgspec.Struct, frozen=True):
    id: int
    unit: str
    debit_account: int
    credit_account: int
    amount: int
    kind: str
    state: str
    cause_type: str | None
    cause_id: int | None
    memo: str | None
    actor_id: int | None
    reason: str | None
    reverses: int | None
    held_amount: int | None
    created_at: datetime


_COLUMNS = ("id, unit, debit_account, credit_account, amount, kind, state, cause_type, cause_id, memo, "
            "actor_id, reason, reverses, held_amount, created_at")


def _transfer(row: asyncpg.Record) -> Transfer:
    return Transfer(**{k: row[k] for k in Transfer.__struct_fields__})


# ---- accounts -------------------------------------------------------------------------------

async def user_account(conn: asyncpg.Connection, user_id: int, unit: Unit) -> int:
    account = await conn.fetchval(
        "select id from accounts where user_id = $1 and unit = $2 and kind = 'user'", user_id, unit)
    if account is None:
        raise DomainError("not_found", details={"what": "account"})
    return account


async def org_account(conn: asyncpg.Connection, org_id: int, kind: str, unit: Unit) -> int:
    account = await conn.fetchval(
        "select id from accounts where org_id = $1 and kind = $2 and unit = $3", org_id, kind, unit)
    if account is None:
        raise DomainError("not_found", details={"what": f"{kind} account"})
    return account


async def open_user_accounts(conn: asyncpg.Connection, user_id: int) -> None:
    await conn.execute(
        "insert into accounts (unit, kind, user_id) select u, 'user', $1 from unnest($2::text[]) u "
        "on conflict do nothing", user_id, list(UNITS))


async def open_many_user_accounts(conn: asyncpg.Connection, user_ids: list[int]) -> None:
    """The accounts of many new people in one statement (a bulk import of residents)."""
    await conn.execute(
        "insert into accounts (unit, kind, user_id) select u, 'user', p from unnest($1::bigint[]) p "
        "cross join unnest($2::text[]) u on conflict do nothing", user_ids, list(UNITS))


async def open_community_accounts(conn: asyncpg.Connection, community_id: int) -> None:
    await conn.execute(
        """insert into accounts (unit, kind, org_id) values
           ('points', 'issuing', $1), ('minutes', 'issuing', $1),
           ('minutes', 'pool', $1), ('points', 'supermarket', $1)
           on conflict do nothing""", community_id)


# ---- nobody pays themself -------------------------------------------------------------------

# Transfers that pay a person for something (a manager's adjustment, an award for attendance or a
# report, a service, a reversal giving value back). Their actor must never be the person credited.
PAYING_KINDS = frozenset({"adjustment", "award", "service", "reversal"})


def refuse_self_payment(actor_id: int | None, beneficiary_id: int | None) -> None:
    """The one rule of issue 16 finding 3: whoever acts is never the one paid. Every act that pays
    someone (adjustment, attendance mark, station scan, report verification, service confirmation,
    an adjustment's approval ...) calls it before it writes anything, and `_insert` below applies it
    to every posted transfer of a paying kind, so a path that forgets the call still cannot pay its
    actor. Redemption decisions have the same rule in domain/supermarket/rules.py require_decider."""
    if actor_id is not None and actor_id == beneficiary_id:
        raise DomainError("forbidden", details={"why": "nobody pays themself: another manager must do this",
                                                "rule": "self_payment"})


class Balance(msgspec.Struct, frozen=True):
    balance: int
    held: int
    available: int


async def balances(conn: asyncpg.Connection, user_id: int) -> dict[str, Balance]:
    rows = await conn.fetch(
        "select unit, balance, held from accounts where user_id = $1 and kind = 'user'", user_id)
    found = {r["unit"]: Balance(r["balance"], r["held"], r["balance"] - r["held"]) for r in rows}
    return {u: found.get(u, Balance(0, 0, 0)) for u in UNITS}


RUNNING = ("user", "pool")  # account kinds with a running balance (and holds); the others are hot
_RUNNING_SQL = ", ".join(f"'{kind}'" for kind in RUNNING)


async def _check_and_lock(conn: asyncpg.Connection, unit: str, debit: int, credit: int, *,
                          holds: bool) -> dict[int, asyncpg.Record]:
    """Check both accounts exist and carry `unit`, and lock the running-balance ones, in one query.

    The `locked` part takes the row locks in id order and returns the balances as they are once
    the locks are held; the hot accounts (issuing, supermarket) are only read, never locked.
    Returns the locked rows by id, like `_lock`.
    """
    # Two plain parameters (not an array) and the kinds written out: PostgreSQL then keeps one
    # generic plan for this statement instead of planning it again on every call.
    rows = await conn.fetch(
        f"""with locked as (
               select id, balance, held from accounts
               where id in ($1, $2) and kind in ({_RUNNING_SQL}) order by id for update)
           select a.id, a.unit, a.kind, a.user_id, l.id is not null as locked, l.balance, l.held
           from accounts a left join locked l on l.id = a.id
           where a.id in ($1, $2)""", debit, credit)
    found = {r["id"]: r for r in rows}
    for account in (debit, credit):
        if account not in found:
            raise DomainError("not_found", details={"what": "account", "id": account})
        if found[account]["unit"] != unit:
            raise DomainError("validation_failed", field="unit",
                              details={"problem": f"account {account} holds {found[account]['unit']}, not {unit}"})
    if holds and found[debit]["kind"] not in RUNNING:
        raise DomainError("validation_failed", field="account",
                          details={"problem": "only user and pool accounts can hold"})
    return {account: row for account, row in found.items() if row["locked"]}


async def _lock(conn: asyncpg.Connection, *account_ids: int) -> dict[int, asyncpg.Record]:
    """Lock the accounts that keep a running balance, in id order; others are never locked."""
    rows = await conn.fetch(
        "select id, kind, balance, held from accounts where id = any($1::bigint[]) "
        "and kind = any($2::text[]) order by id for update", sorted(set(account_ids)), list(RUNNING))
    return {r["id"]: r for r in rows}


def _require_available(locked: dict[int, asyncpg.Record], account: int, amount: int) -> None:
    row = locked.get(account)
    if row is not None and row["balance"] - row["held"] < amount:
        raise DomainError("insufficient_balance",
                          details={"available": row["balance"] - row["held"], "needed": amount})


# ---- writes ---------------------------------------------------------------------------------

async def _used(conn: asyncpg.Connection, key: str | None) -> bool:
    return key is not None and bool(await conn.fetchval("select 1 from transfers where idem_key = $1", key))


async def _replay(conn: asyncpg.Connection, key: str, expect: dict) -> Transfer:
    row = await conn.fetchrow(f"select {_COLUMNS} from transfers where idem_key = $1", key)
    first = _transfer(row)
    for field, value in expect.items():
        if getattr(first, field) != value:
            raise DomainError("idempotency_conflict", details={"field": field})
    return first


async def _insert(conn: asyncpg.Connection, *, state: str, unit: Unit, debit: int, credit: int,
                  amount: int, kind: str, cause: tuple[str, int] | None, memo: str | None,
                  actor_id: int | None, reason: str | None, key: str | None,
                  reverses: int | None = None, expires_at: datetime | None = None) -> Transfer:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError("validation_failed", field="amount", details={"problem": "must be a positive integer"})
    if debit == credit:
        raise DomainError("validation_failed", field="account", details={"problem": "debit equals credit"})
    expect = {"unit": unit, "debit_account": debit, "credit_account": credit, "kind": kind,
              "held_amount" if state == "pending" else "amount": amount}
    locked = await _check_and_lock(conn, unit, debit, credit, holds=state == "pending")
    if state == "posted" and kind in PAYING_KINDS:
        refuse_self_payment(actor_id, locked[credit]["user_id"] if credit in locked else None)
    try:
        _require_available(locked, debit, amount)
    except DomainError:
        # A retry whose first call went through (earlier, or while we waited for the lock) spent
        # the balance itself: it replays rather than reading as an overdraft.
        if await _used(conn, key):
            return await _replay(conn, key, expect)
        raise
    # A retry with enough balance left finds its key taken by the insert's ON CONFLICT below.
    cause_type, cause_id = cause if cause else (None, None)
    row = await conn.fetchrow(
        f"""insert into transfers (unit, debit_account, credit_account, amount, held_amount, kind, state,
                cause_type, cause_id, memo, actor_id, reason, reverses, idem_key, expires_at, created_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            on conflict (idem_key) do nothing
            returning {_COLUMNS}""",
        unit, debit, credit, amount, amount if state == "pending" else None, kind, state,
        cause_type, cause_id, memo, actor_id, reason, reverses, key, expires_at, clock.now())
    if row is None:  # the key is taken: a retry, or a concurrent call with the key committed first
        return await _replay(conn, key, expect)
    return _transfer(row)


async def post(conn: asyncpg.Connection, *, unit: Unit, debit: int, credit: int, amount: int, kind: str,
               cause: tuple[str, int] | None = None, memo: str | None = None, actor_id: int | None = None,
               reason: str | None = None, key: str | None = None) -> Transfer:
    """Move `amount` from `debit` to `credit` now."""
    return await _insert(conn, state="posted", unit=unit, debit=debit, credit=credit, amount=amount,
                         kind=kind, cause=cause, memo=memo, actor_id=actor_id, reason=reason, key=key)


async def hold(conn: asyncpg.Connection, *, unit: Unit, debit: int, credit: int, amount: int, kind: str,
               cause: tuple[str, int] | None = None, memo: str | None = None, actor_id: int | None = None,
               reason: str | None = None, key: str | None = None,
               expires_at: datetime | None = None) -> Transfer:
    """Reserve `amount` on `debit` (available drops, balance does not) until posted or voided.

    Set `expires_at` only when nothing else tracks the hold: the ledger sweeper then voids it.
    """
    return await _insert(conn, state="pending", unit=unit, debit=debit, credit=credit, amount=amount,
                         kind=kind, cause=cause, memo=memo, actor_id=actor_id, reason=reason, key=key,
                         expires_at=expires_at)


async def _pending(conn: asyncpg.Connection, transfer_id: int) -> asyncpg.Record:
    # Accounts first (sorted), then the transfer: the same order as every other writer.
    accounts = await conn.fetchrow("select debit_account, credit_account from transfers where id = $1",
                                   transfer_id)
    if accounts is None:
        raise DomainError("not_found", details={"what": "transfer"})
    await _lock(conn, *accounts.values())
    row = await conn.fetchrow(f"select {_COLUMNS} from transfers where id = $1 for update", transfer_id)
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def post_pending(conn: asyncpg.Connection, transfer_id: int, amount: int | None = None) -> Transfer:
    """Post a hold in full, or for less (the rest is released)."""
    row = await _pending(conn, transfer_id)
    amount = row["amount"] if amount is None else amount
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= row["amount"]:
        raise DomainError("validation_failed", field="amount",
                          details={"problem": f"must be between 1 and {row['amount']}"})
    updated = await conn.fetchrow(
        f"update transfers set state = 'posted', amount = $2, resolved_at = $3 where id = $1 returning {_COLUMNS}",
        transfer_id, amount, clock.now())
    return _transfer(updated)


async def void_pending(conn: asyncpg.Connection, transfer_id: int, *, expired: bool = False) -> Transfer:
    """Release a hold; nothing moves."""
    await _pending(conn, transfer_id)
    updated = await conn.fetchrow(
        f"update transfers set state = $2, resolved_at = $3 where id = $1 returning {_COLUMNS}",
        transfer_id, "expired" if expired else "voided", clock.now())
    return _transfer(updated)


async def reverse(conn: asyncpg.Connection, transfer_id: int, *, actor_id: int | None, reason: str,
                  key: str | None = None) -> Transfer:
    """Correct a posted transfer by a new one in the other direction that points at it."""
    if not reason or not reason.strip():
        raise DomainError("validation_failed", field="reason", details={"problem": "required"})
    original = await conn.fetchrow(f"select {_COLUMNS} from transfers where id = $1", transfer_id)
    if original is None:
        raise DomainError("not_found", details={"what": "transfer"})
    expect = {"unit": original["unit"], "debit_account": original["credit_account"],
              "credit_account": original["debit_account"], "amount": original["amount"], "kind": "reversal",
              "reverses": transfer_id}
    # Lock first: a concurrent reversal of the same transfer then has committed (or not) before we
    # look, so the loser hears `invalid_state` instead of an overdraft caused by the winner.
    await _lock(conn, original["debit_account"], original["credit_account"])
    if await _used(conn, key):
        return await _replay(conn, key, expect)
    existing = await conn.fetchval("select id from transfers where reverses = $1", transfer_id)
    if original["state"] != "posted" or original["kind"] == "reversal" or existing is not None:
        raise DomainError("invalid_state", details={"state": original["state"], "kind": original["kind"],
                                                    "reversed_by": existing})
    try:
        return await _insert(
            conn, state="posted", unit=original["unit"], debit=original["credit_account"],
            credit=original["debit_account"], amount=original["amount"], kind="reversal",
            cause=("reversal", transfer_id), memo=original["memo"], actor_id=actor_id, reason=reason,
            key=key, reverses=transfer_id)
    except asyncpg.UniqueViolationError:  # reversed concurrently (no running account serialised us)
        raise DomainError("invalid_state", details={"state": "reversed"}) from None


async def expire_holds(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Void holds whose expires_at has passed, one short transaction each, until none is left.

    Safe with many processes: each hold is re-checked under its locks, and one another sweeper
    resolved first is skipped (invalid_state). Returns how many holds this call expired.
    """
    expired = 0
    while True:
        ids = await pool.fetch("select id from transfers where state = 'pending' and expires_at <= $1 "
                               "order by expires_at, id limit $2", now, batch)
        for r in ids:
            async with pool.acquire() as conn, conn.transaction():
                try:
                    await void_pending(conn, r["id"], expired=True)
                    expired += 1
                except DomainError:
                    pass
        if len(ids) < batch:  # every hold of a short batch was handled: nothing older is left
            return expired


SWEEPS = (expire_holds,)  # listed in api/capabilities.py

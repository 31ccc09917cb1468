"""The writer of the ledger: post, hold, post_pending, void_pending, reverse; and for a person's
value, which is kept per issuing community (migrations/018, docs/cross-community.md), `spend` (one
transfer per account drawn on, in a fixed order) with post_group, void_group and reverse_group.

Each function runs inside the caller's transaction (a check-in and its credit commit together) and:
1. checks the accounts exist and carry the transfer's unit (`validation_failed`, not a raw error);
2. locks the running-balance accounts it touches, in ascending id order (no deadlocks between
   two movements over the same accounts) - for a new transfer, 1 and 2 are one query;
3. re-reads what a concurrent call may have changed while it waited for the lock (a transfer
   already reversed), then checks the available balance, so the caller gets `invalid_state` or
   `insufficient_balance` rather than a raw constraint error (the database CHECKs and triggers
   stay the real guard);
4. inserts the transfer through `ledger_insert_transfer` (domain/ledger/sql/ledger.sql), or resolves
   it; the ledger's triggers there apply it.
A scan's one-call write (`checkin_award`, domain/checkin/sql/checkin.sql) writes its award through
the same `ledger_insert_transfer`, and the same triggers apply it and refuse what they refuse
(missing accounts, mixed units, self-payment): the ledger's functions are the only writers of value.
An `idem_key` makes a retried call return the first transfer and move nothing; the same key with
a different movement is `idempotency_conflict`. A new transfer does not look its key up first: the
insert's ON CONFLICT finds a used key, and the key is looked up only when the balance check fails
(a retried spend whose first call already spent the balance replays, it is no overdraft).
"""

from datetime import datetime
from functools import partial
from typing import Literal

import asyncpg
import msgspec

from domain.core import clock, metrics, queries
from domain.core.errors import DomainError

Q = queries.load("ledger")

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
#
# A person holds one account per unit AND issuing community (migrations/018): value keeps the
# community that issued it. Credits name the issuing community (`user_account`); spending goes
# through `spend`, which draws from the sub-accounts in a fixed order. The wallet is their sum.

async def user_account(conn: asyncpg.Connection, user_id: int, unit: Unit, community_id: int) -> int:
    """The person's `unit` account for value issued by `community_id`, opened on first use."""
    account = await conn.fetchval(
        Q.user_account,
        user_id, unit, community_id)
    if account is not None:
        return account
    # A concurrent first credit waits on the unique index and then finds the row: no duplicate.
    await conn.execute(
        """Insert into accounts (unit, kind, user_id, org_id)
           select $2, 'user', u.id, o.id from users u, orgs o
            where u.id = $1 and o.id = $3 and o.kind = 'community'
           on conflict do nothing""", user_id, unit, community_id)
    account = await conn.fetchval(
        Q.user_account,
        user_id, unit, community_id)
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
    """Nothing to open at registration any more: a person's accounts of a community open when they
    join it (`open_member_accounts`) or with their first credit from it (`user_account`)."""


async def open_member_accounts(conn: asyncpg.Connection, user_id: int, community_id: int) -> None:
    """Open a new member's accounts of their community up front, so a check-in does not have to."""
    await conn.execute(
        """Insert into accounts (unit, kind, user_id, org_id) select u, 'user', $1, $2 from unnest($3::text[]) u
           on conflict do nothing""", user_id, community_id, list(UNITS))


async def open_many_user_accounts(conn: asyncpg.Connection, user_ids: list[int], community_id: int) -> None:
    """The accounts of many new members of one community in one statement (a bulk import of residents)."""
    await conn.execute(
        "insert into accounts (unit, kind, user_id, org_id) select u, 'user', p, $3 from unnest($1::bigint[]) p "
        "cross join unnest($2::text[]) u on conflict do nothing", user_ids, list(UNITS), community_id)


async def open_community_accounts(conn: asyncpg.Connection, community_id: int) -> None:
    await conn.execute(
        """Insert into accounts (unit, kind, org_id) values
           ('points', 'issuing', $1), ('minutes', 'issuing', $1),
           ('minutes', 'pool', $1), ('points', 'supermarket', $1)
           on conflict do nothing""", community_id)


class CommunityBalance(msgspec.Struct, frozen=True):
    """The part of a wallet issued by one community."""
    community_id: int
    community_name: str
    balance: int
    held: int
    available: int


# ---- nobody pays themself -------------------------------------------------------------------

# Transfers that pay a person for something (a manager's adjustment, an award for attendance or a
# report, a service, a reversal giving value back). Their actor must never be the person credited.
PAYING_KINDS = frozenset({"adjustment", "award", "service", "reversal"})


def refuse_self_payment(actor_id: int | None, beneficiary_id: int | None) -> None:
    """The one rule: whoever acts is never the one paid. Every act that pays
    someone (adjustment, attendance mark, station scan, report verification, service confirmation,
    an adjustment's approval ...) calls it before it writes anything, and `_insert` below applies it
    to every posted transfer of a paying kind, so a path that forgets the call still cannot pay its
    actor; the ledger's trigger (migrations/024) refuses the same kinds for every writer, also the
    scans' one-call writes. Redemption decisions have the same rule in domain/supermarket/rules.py
    require_decider."""
    if actor_id is not None and actor_id == beneficiary_id:
        raise DomainError("forbidden", details={"why": "nobody pays themself: another manager must do this",
                                                "rule": "self_payment"})


class Balance(msgspec.Struct, frozen=True):
    """总额 (balance), 冻结中 (held: reserved for a pending redemption or service until it is decided),
    可用 (available = balance - held): the one definition every page shows."""
    balance: int
    held: int
    available: int


async def _account_rows(conn: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """Select a.unit, a.org_id, o.name, a.balance, a.held from accounts a join orgs o on o.id = a.org_id
           where a.user_id = $1 and a.kind = 'user' order by a.unit, a.org_id""", user_id)


async def balances(conn: asyncpg.Connection, user_id: int) -> dict[str, Balance]:
    """The wallet per unit: the sum of the person's accounts of every issuing community."""
    rows = await _account_rows(conn, user_id)
    result: dict[str, Balance] = {}
    for unit in UNITS:
        total = sum(r["balance"] for r in rows if r["unit"] == unit)
        held = sum(r["held"] for r in rows if r["unit"] == unit)
        result[unit] = Balance(total, held, total - held)
    return result


class Wallet(msgspec.Struct, frozen=True):
    """GET /api/me/balances: the totals, and the part of each issued by each community."""
    points: Balance
    minutes: Balance
    by_community: dict[str, list[CommunityBalance]]


async def wallet(conn: asyncpg.Connection, user_id: int) -> Wallet:
    rows = await _account_rows(conn, user_id)
    totals = {}
    parts: dict[str, list[CommunityBalance]] = {u: [] for u in UNITS}
    for unit in UNITS:
        mine = [r for r in rows if r["unit"] == unit]
        total, held = sum(r["balance"] for r in mine), sum(r["held"] for r in mine)
        totals[unit] = Balance(total, held, total - held)
        parts[unit] = [CommunityBalance(r["org_id"], r["name"], r["balance"], r["held"], r["balance"] - r["held"])
                       for r in mine if r["balance"] or r["held"]]
    return Wallet(totals["points"], totals["minutes"], parts)


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
        if key is not None and await _used(conn, key):  # `is not None` only tells mypy what _used checks
            return await _replay(conn, key, expect)
        raise
    # A retry with enough balance left finds its key taken by the insert's ON CONFLICT below.
    cause_type, cause_id = cause if cause else (None, None)
    row = await conn.fetchrow(  # the one INSERT of a transfer (sql/ledger.sql), also the scans'
        f"""select {_COLUMNS} from ledger_insert_transfer(
                p_unit => $1, p_debit => $2, p_credit => $3, p_amount => $4, p_held_amount => $5, p_kind => $6,
                p_state => $7, p_cause_type => $8, p_cause_id => $9, p_memo => $10, p_actor => $11,
                p_reason => $12, p_reverses => $13, p_key => $14, p_expires_at => $15, p_at => $16)""",
        unit, debit, credit, amount, amount if state == "pending" else None, kind, state,
        cause_type, cause_id, memo, actor_id, reason, reverses, key, expires_at, clock.now())
    if row is None:  # the key is taken: a retry, or a concurrent call with the key committed first
        assert key is not None  # ON CONFLICT (idem_key) fires only for a key; NULLs never conflict
        return await _replay(conn, key, expect)
    if state == "posted":
        metrics.transfer_posted(conn, unit, kind, amount)
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
    metrics.transfer_posted(conn, updated["unit"], updated["kind"], amount)
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
    if key is not None and await _used(conn, key):  # `is not None` only tells mypy what _used checks
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


# ---- spending from a person's accounts per issuing community ------------------------------------
#
# Value issued by community A is spent in community B only when B lies in A's spending area (a
# street or district policy, domain/ledger/areas.py); callers pass the area of the spending
# community. The ORDER in which a spend draws from the person's accounts is fixed:
#   1. the spending community's own account (points issued where they are spent);
#   2. then the other communities of the area, by ascending community id.
# Holds draw in the same order, and posting a hold for less than it reserved (a service confirmed
# below its estimate) uses the parts in that same order and releases the rest.
# A spend locks all of the person's accounts of the unit (and the credited account when it keeps a
# running balance) in one statement, in id order, before it plans: concurrent spends of one person
# take turns, and no two movements wait for each other's rows in opposite orders.


def _part_keys(key: str) -> tuple[str, str]:
    # A spend's first part carries the caller's key, the others key#<community>: the range
    # [key#, key$) finds them all ('$' follows '#') without LIKE and its escapes.
    return key + "#", key + "$"


async def _parts_by_key(conn: asyncpg.Connection, key: str) -> list[Transfer]:
    low, high = _part_keys(key)
    rows = await conn.fetch(f"select {_COLUMNS} from transfers where idem_key = $1 "
                            "or (idem_key >= $2 and idem_key < $3) order by id", key, low, high)
    return [_transfer(r) for r in rows]


async def _replay_spend(conn: asyncpg.Connection, key: str, unit: str, kind: str, amount: int) -> list[Transfer] | None:
    parts = await _parts_by_key(conn, key)
    if not parts:
        return None
    total = sum(p.held_amount or p.amount for p in parts)
    if parts[0].unit != unit or parts[0].kind != kind or total != amount:
        raise DomainError("idempotency_conflict", details={"field": "amount" if total != amount else "kind"})
    return parts


def spending_order(where: int | None, area: set[int] | frozenset[int] | list[int]) -> list[int]:
    """The documented order: the spending community first, then the rest of the area by id."""
    rest = sorted(set(area) - {where})
    return ([where] if where is not None else []) + rest


async def spend(conn: asyncpg.Connection, *, user_id: int, unit: Unit, amount: int, where: int | None,
                area: set[int] | frozenset[int] | list[int], kind: str, credit: int | None = None,
                to_user: int | None = None, cause: tuple[str, int] | None = None, memo: str | None = None,
                actor_id: int | None = None, reason: str | None = None, key: str | None = None,
                hold: bool = False, expires_at: datetime | None = None) -> list[Transfer]:
    """Move (or, with `hold`, reserve) `amount` of a person's `unit` spent in community `where`,
    drawing on their accounts of the communities in `area` in `spending_order`.

    The value goes to `credit` (a supermarket, a pool, a volunteer's account), or with `to_user` to
    that person's account of the SAME issuing community (a gift keeps where it was issued).
    Returns one transfer per account drawn on, in the order drawn. Refusals: `insufficient_balance`
    when the person has not enough at all, `not_spendable_here` when they have enough only counting
    value issued outside the area (details name both amounts).
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError("validation_failed", field="amount", details={"problem": "must be a positive integer"})
    if (credit is None) == (to_user is None):
        raise ValueError("spend needs exactly one of credit, to_user")
    order = spending_order(where, area)
    receivers: dict[int, int] = {}
    if to_user is not None:
        if to_user == user_id:
            raise DomainError("validation_failed", field="to_user", details={"problem": "nobody pays themself"})
        held_in = await conn.fetch("select org_id from accounts where user_id = $1 and unit = $2 and kind = 'user' "
                                   "and balance > held and org_id = any($3::bigint[])", user_id, unit, order)
        for r in held_in:
            receivers[r["org_id"]] = await user_account(conn, to_user, unit, r["org_id"])
    extra = [credit] if credit is not None else list(receivers.values())
    rows = await conn.fetch(
        """Select id, kind, org_id, user_id, unit, balance, held from accounts
            where (user_id = $1 and unit = $2 and kind = 'user') or id = any($3::bigint[])
            order by id for update""", user_id, unit, extra)
    if key is not None:
        replayed = await _replay_spend(conn, key, unit, kind, amount)
        if replayed is not None:
            return replayed
    mine = {r["org_id"]: r for r in rows if r["user_id"] == user_id and r["kind"] == "user" and r["unit"] == unit}
    if credit is not None and credit in {r["id"] for r in mine.values()}:
        raise DomainError("validation_failed", field="account", details={"problem": "nobody pays themself"})
    plan: list[tuple[int, int, int]] = []  # (community, account, amount)
    left = amount
    for community in order:
        row = mine.get(community)
        if row is None or left == 0:
            continue
        take = min(row["balance"] - row["held"], left)
        if take > 0:
            plan.append((community, row["id"], take))
            left -= take
    if left:
        here = amount - left
        total = sum(r["balance"] - r["held"] for r in mine.values())
        if total >= amount:
            raise DomainError("not_spendable_here", details={
                "available_here": here, "available": total, "needed": amount, "unit": unit, "community_id": where})
        raise DomainError("insufficient_balance", details={"available": here, "needed": amount})
    transfers = []
    for i, (community, account, take) in enumerate(plan):
        part_key = None if key is None else key if i == 0 else f"{key}#{community}"
        transfers.append(await _insert(
            conn, state="pending" if hold else "posted", unit=unit, debit=account,
            credit=credit if credit is not None else receivers[community], amount=take, kind=kind, cause=cause,
            memo=memo, actor_id=actor_id, reason=reason, key=part_key, expires_at=expires_at))
    return transfers


async def parts_of(conn: asyncpg.Connection, cause: tuple[str, int], kind: str, state: str) -> list[int]:
    """The transfers of one spend (its parts), by cause, in the order they were drawn."""
    rows = await conn.fetch("select id from transfers where cause_type = $1 and cause_id = $2 and kind = $3 "
                            "and state = $4 order by id", cause[0], cause[1], kind, state)
    return [r["id"] for r in rows]


async def _lock_group(conn: asyncpg.Connection, transfer_ids: list[int]) -> None:
    # Every account of every part, in one id-ordered statement (see the note above `spend`).
    rows = await conn.fetch("select debit_account, credit_account from transfers where id = any($1::bigint[])",
                            transfer_ids)
    await _lock(conn, *{a for r in rows for a in (r["debit_account"], r["credit_account"])})


async def post_group(conn: asyncpg.Connection, transfer_ids: list[int], amount: int | None = None) -> list[Transfer]:
    """Post the holds of one spend; with `amount`, only that much, taking the parts in order and
    releasing what is left (a part not needed at all is voided)."""
    if not transfer_ids:
        raise DomainError("invalid_state", details={"state": "no pending hold"})
    await _lock_group(conn, transfer_ids)
    held = {r["id"]: r["amount"] for r in await conn.fetch(
        "select id, amount from transfers where id = any($1::bigint[]) and state = 'pending'", transfer_ids)}
    if len(held) != len(transfer_ids):
        raise DomainError("invalid_state", details={"state": "not pending"})
    left = sum(held.values()) if amount is None else amount
    if not isinstance(left, int) or isinstance(left, bool) or not 0 < left <= sum(held.values()):
        raise DomainError("validation_failed", field="amount",
                          details={"problem": f"must be between 1 and {sum(held.values())}"})
    done = []
    for transfer_id in sorted(transfer_ids):
        take = min(held[transfer_id], left)
        if take:
            done.append(await post_pending(conn, transfer_id, take))
            left -= take
        else:
            done.append(await void_pending(conn, transfer_id))
    return done


async def void_group(conn: asyncpg.Connection, transfer_ids: list[int], *, expired: bool = False) -> list[Transfer]:
    await _lock_group(conn, transfer_ids)
    return [await void_pending(conn, t, expired=expired) for t in sorted(transfer_ids)]


async def reverse_group(conn: asyncpg.Connection, transfer_ids: list[int], *, actor_id: int | None, reason: str,
                        key: str | None = None) -> list[Transfer]:
    """Reverse every posted part of one spend; the first reversal carries `key`, the others key#<id>."""
    await _lock_group(conn, transfer_ids)
    return [await reverse(conn, t, actor_id=actor_id, reason=reason,
                          key=None if key is None else key if i == 0 else f"{key}#{t}")
            for i, t in enumerate(sorted(transfer_ids))]


async def expire_holds(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Void holds whose expires_at has passed, one short transaction each, until none is left.

    Safe with many processes: each hold is re-checked under its locks, and one another sweeper
    resolved first is skipped (invalid_state). Returns how many holds this call expired.
    """
    from domain.core import sweeper  # the sweeper imports this module

    async def expire(conn: asyncpg.Connection, transfer_id: int) -> bool:
        try:
            await void_pending(conn, transfer_id, expired=True)
            return True
        except DomainError:  # resolved meanwhile by another sweeper or its owner
            return False

    expired = 0
    failed: list[int] = []  # holds that failed this call (logged and counted): not picked again
    while True:
        ids = await pool.fetch("select id from transfers where state = 'pending' and expires_at <= $1 "
                               "and id <> all($3::bigint[]) order by expires_at, id limit $2", now, batch, failed)
        for r in ids:
            result = await sweeper.one_row(pool, "expire_holds", r["id"], partial(expire, transfer_id=r["id"]))
            if result is None:
                failed.append(r["id"])
            expired += bool(result)
        if len(ids) < batch:  # every hold of a short batch was handled: nothing older is left
            return expired


SWEEPS = (expire_holds,)  # listed in api/capabilities.py


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

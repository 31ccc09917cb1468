"""扣分, deductions with due process.

1. A manager of the community proposes a deduction under a 扣分项 of the rulebook in force there,
   with evidence (text, and a photo if there is one). Its amount is the item's. The person is told
   at once and sees it on their deductions page.
2. The person may appeal, with a reason, within rules.APPEAL_DAYS.
3. A second manager decides in the held queue (kind "deduction"): never the proposer, never the
   person deducted. They decide once the person has appealed or the window has passed.
4. Only an approval posts it: the ledger moves what the person has of the community's points (kind
   and cause 'deduction'), never below zero, and the rest is recorded as unrecovered, not owed.
   The quarter's ranking counts the whole amount (domain/rankings: earned minus deductions posted).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import ledger, notify
from domain.core import audit, clock
from domain.core.actor import Actor, PersonRef
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.recognition import rulebook, rules


class Deduction(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    community_name: str
    person: PersonRef
    rule: rulebook.RuleRef
    clause: str | None
    amount: int
    evidence: str
    has_photo: bool
    proposer: PersonRef
    proposed_at: datetime
    appeal_until: datetime
    appeal_reason: str | None
    appealed_at: datetime | None
    state: str                   # proposed | posted | rejected
    decided_at: datetime | None
    decision_reason: str | None
    taken: int | None            # what the posting took from the balance
    unrecovered: int | None      # the rest, recorded, not owed
    transfer_id: int | None
    can_appeal: bool


_SQL = """
    select d.*, o.name as community_name, u.name as user_name, p.name as proposer_name, d.photo is not null as has_photo
      from deductions d join orgs o on o.id = d.community_id join users u on u.id = d.user_id
      join users p on p.id = d.proposed_by"""


async def _load(conn: asyncpg.Connection, rows: list[asyncpg.Record], viewer: int) -> list[Deduction]:
    items = {i: await rulebook.item(conn, i) for i in {r["rule_item_id"] for r in rows}}
    now = clock.now()
    out = []
    for r in rows:
        it = items[r["rule_item_id"]]
        out.append(Deduction(
            id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
            person=PersonRef(r["user_id"], r["user_name"]),
            rule=rulebook.RuleRef(it.id, it.code, it.title, it.version_id, it.version, it.org_name, it.label),
            clause=it.clause, amount=r["amount"], evidence=r["evidence"], has_photo=r["has_photo"],
            proposer=PersonRef(r["proposed_by"], r["proposer_name"]), proposed_at=r["proposed_at"],
            appeal_until=r["appeal_until"], appeal_reason=r["appeal_reason"], appealed_at=r["appealed_at"],
            state=r["state"], decided_at=r["decided_at"], decision_reason=r["decision_reason"], taken=r["taken"],
            unrecovered=r["unrecovered"], transfer_id=r["transfer_id"],
            can_appeal=viewer == r["user_id"] and r["state"] == "proposed"
            and rules.may_appeal(now, r["appeal_until"], r["appealed_at"] is not None)))
    return out


async def get(conn: asyncpg.Connection, actor: Actor, deduction_id: int) -> Deduction:
    """The person deducted, and the managers of the community (and above it), see a deduction."""
    from domain import oversight
    row = await conn.fetchrow(_SQL + " where d.id = $1", deduction_id)
    if row is None or not (row["user_id"] == actor.id or oversight.may_check(actor, row["community_id"])):
        raise not_found("deduction")
    return (await _load(conn, [row], actor.id))[0]


async def photo(conn: asyncpg.Connection, actor: Actor, deduction_id: int) -> bytes:
    await get(conn, actor, deduction_id)
    jpeg = await conn.fetchval("select photo from deductions where id = $1", deduction_id)
    if jpeg is None:
        raise not_found("photo")
    return jpeg


async def mine(conn: asyncpg.Connection, actor: Actor) -> list[Deduction]:
    rows = await conn.fetch(_SQL + " where d.user_id = $1 order by d.id desc limit 200", actor.id)
    return await _load(conn, rows, actor.id)


async def propose(conn: asyncpg.Connection, actor: Actor, *, community_id: int, user_id: int, rule_item_id: int,
                  evidence: str, photo: bytes | None = None, ip: str | None = None) -> Deduction:
    orgs.require_manager(actor, community_id)
    if user_id == actor.id:
        raise forbidden("nobody proposes a deduction of themself")
    if community_id not in await orgs.member_communities(conn, user_id):
        raise invalid("user_id", "a member of this community")
    text = " ".join((evidence or "").split())
    if not 1 <= len(text) <= 1000:
        raise invalid("evidence", "1 to 1000 characters: what happened")
    item = await rulebook.deduct_item(conn, community_id, rule_item_id)
    now = clock.now()
    async with conn.transaction():
        deduction_id = await conn.fetchval(
            """Insert into deductions (community_id, user_id, rule_item_id, amount, evidence, photo, proposed_by,
                                       proposed_at, appeal_until, state)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'proposed') returning id""",
            community_id, user_id, item.id, item.points, text, photo, actor.id, now, rules.appeal_until(now))
        await audit.record(conn, actor, "deduction_propose", community_id=community_id, target=("user", user_id),
                           after={"deduction_id": deduction_id, "rule_item_id": item.id, "amount": item.points},
                           ip=ip)
        await notify.send(conn, user_id, "deduction_proposed", community_id=community_id,
                          params={"rule": item.label, "points": item.points, "days": rules.APPEAL_DAYS},
                          link=f"/deductions.html#d-{deduction_id}")
    return await get(conn, actor, deduction_id)


async def appeal(conn: asyncpg.Connection, actor: Actor, deduction_id: int, reason: str) -> Deduction:
    """The person deducted objects, once, with a reason, within the window; the managers are told."""
    text = " ".join((reason or "").split())
    if not 1 <= len(text) <= 1000:
        raise invalid("reason", "1 to 1000 characters")
    async with conn.transaction():
        row = await conn.fetchrow("select * from deductions where id = $1 for update", deduction_id)
        if row is None or row["user_id"] != actor.id:
            raise not_found("deduction")
        if row["state"] != "proposed" or not rules.may_appeal(clock.now(), row["appeal_until"],
                                                              row["appealed_at"] is not None):
            raise DomainError("invalid_state", details={
                "state": row["state"], "why": "appealed" if row["appealed_at"] else "appeal_window_closed"})
        await conn.execute("update deductions set appeal_reason = $2, appealed_at = $3 where id = $1",
                           deduction_id, text, clock.now())
        await notify.send_to_managers(conn, row["community_id"], "deduction_appealed",
                                      params={"item": deduction_id, "reason": text[:100]}, link="/held.html")
    return await get(conn, actor, deduction_id)


async def open_ids(conn: asyncpg.Connection, scope: list[int] | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """Select d.*, o.name as community_name, u.name as user_name, p.name as proposer_name from deductions d
           join orgs o on o.id = d.community_id join users u on u.id = d.user_id join users p on p.id = d.proposed_by
           where d.state = 'proposed' and ($1::bigint[] is null or d.community_id = any($1)) order by d.id""", scope)


async def decide(conn: asyncpg.Connection, actor: Actor, deduction_id: int, *, approve: bool, reason: str | None,
                 ip: str | None = None) -> Deduction:
    """Post (approve) or drop (reject) a proposed deduction. Inside the caller's transaction."""
    from domain import oversight
    row = await conn.fetchrow("select * from deductions where id = $1 for update", deduction_id)
    if row is None or not oversight.may_check(actor, row["community_id"]):
        raise not_found("held item")
    if actor.id == row["user_id"]:
        raise forbidden("nobody decides a deduction of themself")
    if actor.id == row["proposed_by"]:
        raise forbidden("nobody decides their own proposal: another manager must")
    if row["state"] != "proposed":
        raise DomainError("invalid_state", details={"state": row["state"]})
    now = clock.now()
    if not rules.decidable(now, row["appeal_until"], row["appealed_at"] is not None):
        raise DomainError("invalid_state", details={"why": "appeal_window_open",
                                                    "appeal_until": row["appeal_until"].isoformat()})
    taken = unrecovered = transfer_id = None
    if approve:
        account = await ledger.user_account(conn, row["user_id"], "points", row["community_id"])
        available = await conn.fetchval("select balance - held from accounts where id = $1 for update", account)
        taken, unrecovered = rules.take(row["amount"], available)
        if taken:
            item = await rulebook.item(conn, row["rule_item_id"])
            transfer = await ledger.post(
                conn, unit="points", debit=account,
                credit=await ledger.org_account(conn, row["community_id"], "issuing", "points"), amount=taken,
                kind="deduction", cause=("deduction", deduction_id), memo=f"扣分：{item.title}", actor_id=actor.id,
                reason=reason, key=f"deduction:{deduction_id}")
            transfer_id = transfer.id
    await conn.execute(
        """Update deductions set state = $2, decided_by = $3, decided_at = $4, decision_reason = $5, taken = $6,
                  unrecovered = $7, transfer_id = $8 where id = $1""",
        deduction_id, "posted" if approve else "rejected", actor.id, now, reason, taken, unrecovered, transfer_id)
    await audit.record(conn, actor, "deduction_post" if approve else "deduction_reject",
                       community_id=row["community_id"], target=("user", row["user_id"]),
                       after={"deduction_id": deduction_id, "amount": row["amount"], "taken": taken,
                              "unrecovered": unrecovered, "maker_id": row["proposed_by"]}, reason=reason, ip=ip)
    await notify.send(conn, row["user_id"], "deduction_decided", community_id=row["community_id"],
                      params={"points": taken or 0, "amount": row["amount"],
                              "decision_zh": "已执行" if approve else "已撤销",
                              "decision_en": "posted" if approve else "dropped", "reason": reason or ""},
                      link=f"/deductions.html#d-{deduction_id}")
    return await get(conn, actor, deduction_id)

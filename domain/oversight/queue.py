"""One queue of what is held: every act waiting for a second person, with its maker and
evidence, for the other managers of the community and the managers of its street or district; and
their decision, after which the maker is told (an inbox message through the notify outbox).

Each kind of held item is one `Source` in SOURCES: how to list the open ones of some communities,
how to approve and how to reject one. Adding a kind (e.g. late presence under review) is adding a
Source; the page and the API need no change.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from domain import checkin, notify, oversight, supermarket
from domain.checkin import activities, fraud, review
from domain.core import audit, clock
from domain.core.actor import Actor, PersonRef
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.oversight import adjustments
from domain.people import joining


class HeldItem(msgspec.Struct, kw_only=True):
    kind: str                     # adjustment | mark | activity | own_credit | policy | redemption | presence
                                  # | rulebook | deduction | selection
    id: int                       # the id within its kind
    community_id: int
    community_name: str
    maker: PersonRef | None       # who did the act (none for an automatic check-out)
    subject: PersonRef | None     # who would be credited, when one person is
    summary: dict[str, Any]       # what approval does: amounts, title, changes
    evidence: dict[str, Any]      # why it was held: thresholds, the day's totals, times
    created_at: datetime
    can_decide: bool              # the viewer may approve it (never its maker, never its beneficiary)


class HeldQueue(msgspec.Struct):
    items: list[HeldItem]
    pending: int


@dataclass(frozen=True)
class Decided:
    """What a decision tells the maker."""
    maker_id: int | None
    community_id: int
    what_zh: str
    what_en: str


Lister = Callable[[asyncpg.Connection, Actor, list[int] | None], Awaitable[list[HeldItem]]]
# (connection, who decides, the item's id, the reason (None: an approval without one), the address)
Decider = Callable[[asyncpg.Connection, Actor, int, str | None, str | None], Awaitable[Decided]]


@dataclass(frozen=True)
class Source:
    list: Lister
    approve: Decider
    reject: Decider


def _json(value: Any) -> dict[str, Any]:
    return msgspec.json.decode(value) if isinstance(value, str) else dict(value or {})


def _person(pid: int | None, name: str | None) -> PersonRef | None:
    return PersonRef(pid, name or "") if pid is not None else None


def _can(actor: Actor, community_id: int, *people: int | None) -> bool:
    return oversight.may_check(actor, community_id) and actor.id not in people


# ---- adjustments (their own table) ------------------------------------------------------------

async def _adjustments(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    rows = await conn.fetch(
        """Select r.*, u.name as user_name, m.name as maker_name, o.name as community_name
           from adjustment_requests r join users u on u.id = r.user_id join users m on m.id = r.requested_by
           join orgs o on o.id = r.community_id
           where r.state = 'pending' and ($1::bigint[] is null or r.community_id = any($1)) order by r.id""", scope)
    limits = {c: await oversight.limits(conn, c) for c in {r["community_id"] for r in rows}}
    return [HeldItem(kind="adjustment", id=r["id"], community_id=r["community_id"],
                     community_name=r["community_name"], maker=_person(r["requested_by"], r["maker_name"]),
                     subject=_person(r["user_id"], r["user_name"]),
                     summary={"unit": r["unit"], "amount": r["amount"], "reason": r["reason"]},
                     evidence={"why": r["why"], "threshold": limits[r["community_id"]].threshold(r["unit"]),
                               "daily_limit": limits[r["community_id"]].daily(r["unit"])},
                     created_at=r["created_at"], can_decide=_can(actor, r["community_id"], r["requested_by"], r["user_id"]))
            for r in rows]


async def _adjustment_decided(conn: asyncpg.Connection, request_id: int) -> Decided:
    row = await conn.fetchrow("select requested_by, community_id, unit, amount from adjustment_requests where id = $1",
                              request_id)
    unit_zh = "积分" if row["unit"] == "points" else "分钟"
    return Decided(row["requested_by"], row["community_id"], f"调整 {row['amount']} {unit_zh}",
                   f"adjustment of {row['amount']} {row['unit']}")


async def _approve_adjustment(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                              ip: str | None) -> Decided:
    await adjustments.approve(conn, actor, item_id, ip=ip)
    return await _adjustment_decided(conn, item_id)


async def _reject_adjustment(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                             ip: str | None) -> Decided:
    await adjustments.reject(conn, actor, item_id, reason or "", ip=ip)
    return await _adjustment_decided(conn, item_id)


# ---- held acts (held_acts: marks, activities, own credits, policy changes) -------------------------

WHAT = {"mark": ("补录签到", "attendance mark"), "activity": ("活动发布", "activity publication"),
        "own_credit": ("本人签到积分", "own check-in credit"), "policy": ("社区规则变更", "community rule change"),
        "pool_credit": ("公益时间池拨入", "community time pool credit")}


def _held_acts(kind: str) -> Lister:
    async def list_(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
        rows = await conn.fetch(
            """Select h.*, m.name as maker_name, s.name as subject_name, o.name as community_name
               from held_acts h join users m on m.id = h.maker_id left join users s on s.id = h.subject_id
               join orgs o on o.id = h.community_id
               where h.state = 'pending' and h.kind = $2 and ($1::bigint[] is null or h.community_id = any($1))
               order by h.id""", scope, kind)
        return [HeldItem(kind=kind, id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
                         maker=_person(r["maker_id"], r["maker_name"]), subject=_person(r["subject_id"], r["subject_name"]),
                         summary=_json(r["payload"]), evidence=_json(r["evidence"]), created_at=r["created_at"],
                         can_decide=_can(actor, r["community_id"], r["maker_id"], r["subject_id"])
                         and actor.id not in _json(r["payload"]).get("user_ids", []))
                for r in rows]
    return list_


async def _lock_held(conn: asyncpg.Connection, actor: Actor, held_id: int, kind: str) -> asyncpg.Record:
    row = await conn.fetchrow("select * from held_acts where id = $1 and kind = $2 for update", held_id, kind)
    if row is None or not oversight.may_check(actor, row["community_id"]):
        raise not_found("held item")
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def _apply(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record, reason: str | None,
                 ip: str | None) -> dict[str, Any]:
    """What approving a held act does, per kind; returns what it did (kept on the row and audited)."""
    payload = _json(row["payload"])
    kind = row["kind"]
    if kind == "mark":
        if actor.id in payload["user_ids"]:
            raise forbidden("nobody approves a mark that credits themself")
        activity = await activities.load(conn, payload["activity_id"], lock=True)
        members = [u for u in payload["user_ids"] if activity.community_id in await _communities(conn, u)]
        marked = await checkin.record_marks(conn, actor, activity, members, payload["minutes"], payload["reason"],
                                            recorded_by=row["maker_id"])
        return {"attendances": list(marked.values()), "minutes": payload["minutes"]}
    if kind == "activity":
        published = await activities.publish(conn, actor, payload["activity_id"], held_id=row["id"], ip=ip)
        return {"activity_id": published.id, "state": published.state}
    if kind == "own_credit":
        return await checkin.credit_held(conn, actor, payload["attendance_id"], points=payload["points"],
                                         minutes=payload["minutes"], key=f"held:{row['id']}", reason=reason)
    if kind == "pool_credit":  # posted now by the second person, once (the held act's key)
        from domain import timebank
        transfer = await timebank.post_pool_credit(
            conn, actor, row["community_id"], payload["minutes"], payload["reason"], key=f"held:{row['id']}",
            extra={"held_id": row["id"], "maker_id": row["maker_id"]}, act="adjustment_approve")
        return {"transfer_id": transfer.id, "minutes": payload["minutes"]}
    if payload["policy"] == "adjustment":
        await adjustments.apply_policy(conn, actor, row["community_id"], payload["changes"], held_id=row["id"], ip=ip)
        return {"changes": payload["changes"]}
    await joining.apply_policy(conn, actor, row["community_id"], payload["auto_approve"], held_id=row["id"], ip=ip)
    return {"auto_approve": payload["auto_approve"]}


async def _communities(conn: asyncpg.Connection, user_id: int) -> list[int]:
    from domain.people import orgs
    return await orgs.member_communities(conn, user_id)


def _held_decider(kind: str, approve: bool) -> Decider:
    async def decide(conn: asyncpg.Connection, actor: Actor, held_id: int, reason: str | None,
                     ip: str | None) -> Decided:
        row = await _lock_held(conn, actor, held_id, kind)
        if approve and actor.id == row["maker_id"]:
            raise forbidden("nobody approves their own act: another manager must")
        if approve and actor.id == row["subject_id"]:
            raise forbidden("nobody approves a credit to themself")
        result = await _apply(conn, actor, row, reason, ip) if approve else None
        await conn.execute(
            """Update held_acts set state = $2, decided_by = $3, decided_at = $4, decision_reason = $5,
                      result = $6::text::jsonb where id = $1""",
            held_id, "approved" if approve else "rejected", actor.id, clock.now(), reason,
            msgspec.json.encode(result).decode() if result is not None else None)
        await audit.record(conn, actor, "held_approve" if approve else "held_reject", community_id=row["community_id"],
                           target=("user", row["subject_id"]) if row["subject_id"] else ("org", row["community_id"]),
                           after={"held_id": held_id, "kind": kind, "maker_id": row["maker_id"],
                                  **({"result": result} if result is not None else {})}, reason=reason, ip=ip)
        zh, en = WHAT[kind]
        return Decided(row["maker_id"], row["community_id"], zh, en)
    return decide


# ---- on-the-spot redemptions held for a second manager ---------------------------------------------

async def _redemptions(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    rows = await conn.fetch(
        """Select r.id, r.community_id, o.name as community_name, r.held_maker, m.name as maker_name, r.user_id,
                  u.name as user_name, r.reward_name, r.quantity, r.points, r.requested_at
           from redemptions r join orgs o on o.id = r.community_id join users m on m.id = r.held_maker
           join users u on u.id = r.user_id
           where r.held_maker is not null and r.state = 'requested'
             and ($1::bigint[] is null or r.community_id = any($1)) order by r.id""", scope)
    return [HeldItem(kind="redemption", id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
                     maker=_person(r["held_maker"], r["maker_name"]), subject=_person(r["user_id"], r["user_name"]),
                     summary={"reward": r["reward_name"], "quantity": r["quantity"], "points": r["points"]},
                     evidence={"own_resident": True}, created_at=r["requested_at"],
                     can_decide=_can(actor, r["community_id"], r["held_maker"], r["user_id"])) for r in rows]


async def _redemption_decided(conn: asyncpg.Connection, redemption_id: int) -> Decided:
    row = await conn.fetchrow("select held_maker, community_id, reward_name from redemptions where id = $1",
                              redemption_id)
    if row is None or row["held_maker"] is None:
        raise not_found("held item")
    return Decided(row["held_maker"], row["community_id"], f"现场兑换「{row['reward_name']}」",
                   f"on-the-spot redemption of “{row['reward_name']}”")


async def _approve_redemption(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                              ip: str | None) -> Decided:
    decided = await _redemption_decided(conn, item_id)
    await supermarket.approve(conn, actor, item_id)
    return decided


async def _reject_redemption(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                             ip: str | None) -> Decided:
    decided = await _redemption_decided(conn, item_id)
    await supermarket.reject(conn, actor, item_id, reason or "")
    return decided


# ---- presence under review (scan flags that hold a credit) -----------------------------------------

# The review list's flags whose credit waits for a manager: an automatic check-out credited only up
# to the last proof of presence, and a late scan held for review (domain/checkin/fraud.HELD_REASONS,
# the one list; review.resolve decides both).
PRESENCE_REASONS = fraud.HELD_REASONS


async def _presence(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    rows = await conn.fetch(
        """Select f.id, f.reason, f.details, f.created_at, f.user_id, u.name as user_name, a.community_id,
                  o.name as community_name, a.id as activity_id, a.title, t.minutes
           from scan_flags f join activities a on a.id = f.activity_id join orgs o on o.id = a.community_id
           join users u on u.id = f.user_id join attendances t on t.id = f.attendance_id
           where f.resolved_at is null and f.reason = any($2::text[])
             and ($1::bigint[] is null or a.community_id = any($1)) order by f.id""", scope, list(PRESENCE_REASONS))
    return [HeldItem(kind="presence", id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
                     maker=None, subject=_person(r["user_id"], r["user_name"]),
                     summary={"activity_id": r["activity_id"], "title": r["title"], "minutes": r["minutes"],
                              "reason": r["reason"]},
                     evidence=_json(r["details"]), created_at=r["created_at"],
                     can_decide=actor.can_manage(r["community_id"]) and actor.id != r["user_id"]) for r in rows]


def _presence_decider(action: review.Resolution) -> Decider:
    async def decide(conn: asyncpg.Connection, actor: Actor, flag_id: int, reason: str | None,
                     ip: str | None) -> Decided:
        flag = await review.resolve(conn, actor, flag_id, action, reason or "", ip=ip)
        community_id = await conn.fetchval("select a.community_id from scan_flags f join activities a "
                                           "on a.id = f.activity_id where f.id = $1", flag.id)
        return Decided(None, community_id, "", "")
    return decide


# ---- the rulebook and deductions ---------------------------------------------------------

async def _rulebooks(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    from domain.recognition import rulebook
    out = []
    for version_id in await rulebook.checkable(conn, actor, scope):
        v = await rulebook.version(conn, version_id)
        out.append(HeldItem(
            kind="rulebook", id=v.id, community_id=v.org_id, community_name=v.org_name, maker=v.proposer,
            subject=None, summary={"title": v.title, "version": v.version, "base_id": v.base_id,
                                   "items": [msgspec.to_builtins(i) for i in v.items]},
            evidence={"items": len(v.items)}, created_at=v.created_at, can_decide=v.proposer.id != actor.id))
    return out


def _rulebook_decider(approve: bool) -> Decider:
    async def decide(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                     ip: str | None) -> Decided:
        from domain.recognition import rulebook
        v = await rulebook.decide(conn, actor, item_id, approve=approve, reason=reason, ip=ip)
        return Decided(v.proposer.id, v.org_id, f"积分细则第{v.version}版", f"rulebook version {v.version}")
    return decide


async def _deductions(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    from domain.recognition import deductions
    from domain.recognition import rules as recognition_rules
    rows = await deductions.open_ids(conn, scope)
    now = clock.now()
    out = []
    for r in rows:
        d = await deductions.get(conn, actor, r["id"]) if oversight.may_check(actor, r["community_id"]) else None
        if d is None:
            continue
        out.append(HeldItem(
            kind="deduction", id=d.id, community_id=d.community_id, community_name=d.community_name,
            maker=d.proposer, subject=d.person,
            summary={"amount": d.amount, "rule": d.rule.label, "clause": d.clause, "evidence": d.evidence,
                     "has_photo": d.has_photo},
            evidence={"appeal_until": d.appeal_until.isoformat(), "appeal_reason": d.appeal_reason},
            created_at=d.proposed_at,
            can_decide=_can(actor, d.community_id, d.proposer.id, d.person.id)
            and recognition_rules.decidable(now, d.appeal_until, d.appealed_at is not None)))
    return out


async def _selections(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[HeldItem]:
    from domain.recognition import selections
    out = []
    for r in await selections.proposed(conn, scope):
        chosen = await conn.fetch(
            """Select coalesce(u.name, h.name) as name, c.choice_reason, c.score,
                      (select count(*) from selection_votes v where v.selection_id = c.selection_id
                        and c.id = any(v.candidate_ids)) as votes
               from selection_candidates c left join users u on u.id = c.user_id
               left join households h on h.id = c.household_id where c.selection_id = $1 and c.chosen order by c.id""",
            r["id"])
        out.append(HeldItem(
            kind="selection", id=r["id"], community_id=r["community_id"], community_name=r["community_name"],
            maker=_person(r["proposed_by"], r["proposer_name"]), subject=None,
            summary={"quarter": r["quarter"], "title": r["title"], "kind": r["kind"],
                     "chosen": [{"name": c["name"], "reason": c["choice_reason"], "score": c["score"],
                                 "votes": c["votes"]} for c in chosen]},
            evidence={"selection_id": r["id"]}, created_at=r["proposed_at"],
            can_decide=_can(actor, r["community_id"], r["proposed_by"])
            and actor.id not in await selections.subjects(conn, r["id"])))
    return out


def _selection_decider(approve: bool) -> Decider:
    async def decide(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                     ip: str | None) -> Decided:
        from domain.recognition import selections
        row = await selections.decide(conn, actor, item_id, approve=approve, reason=reason, ip=ip)
        return Decided(row["proposed_by"], row["community_id"], f"{row['quarter']}「{row['title']}」评选决定",
                       f"the {row['quarter']} selection decision")
    return decide


def _deduction_decider(approve: bool) -> Decider:
    async def decide(conn: asyncpg.Connection, actor: Actor, item_id: int, reason: str | None,
                     ip: str | None) -> Decided:
        from domain.recognition import deductions
        d = await deductions.decide(conn, actor, item_id, approve=approve, reason=reason, ip=ip)
        return Decided(d.proposer.id, d.community_id, f"扣分 {d.amount} 积分", f"deduction of {d.amount} points")
    return decide


SOURCES: dict[str, Source] = {
    "adjustment": Source(_adjustments, _approve_adjustment, _reject_adjustment),
    **{kind: Source(_held_acts(kind), _held_decider(kind, True), _held_decider(kind, False))
       for kind in ("mark", "activity", "own_credit", "policy", "pool_credit")},
    "redemption": Source(_redemptions, _approve_redemption, _reject_redemption),
    "presence": Source(_presence, _presence_decider("credit"), _presence_decider("dismiss")),
    "rulebook": Source(_rulebooks, _rulebook_decider(True), _rulebook_decider(False)),
    "deduction": Source(_deductions, _deduction_decider(True), _deduction_decider(False)),
    "selection": Source(_selections, _selection_decider(True), _selection_decider(False)),
}


def _scope(actor: Actor, community_id: int | None) -> list[int] | None:
    if community_id is not None:
        if not oversight.may_check(actor, community_id):
            raise forbidden("not a manager of this community or above it")
        return [community_id]
    if actor.is_admin:
        return None
    if not actor.manages and not actor.oversees:
        raise forbidden("managers only")
    return sorted(actor.manages | actor.oversees)


async def held_queue(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None = None,
                     kind: str | None = None) -> HeldQueue:
    """Every open held item of the communities the viewer manages or oversees, oldest first."""
    if kind is not None and kind not in SOURCES:
        raise invalid("kind", " | ".join(SOURCES))
    scope = _scope(actor, community_id)
    items: list[HeldItem] = []
    for name, source in SOURCES.items():
        if kind is None or kind == name:
            items += await source.list(conn, actor, scope)
    items.sort(key=lambda i: (i.created_at, i.kind, i.id))
    return HeldQueue(items=items[:500], pending=len(items))


async def decide(conn: asyncpg.Connection, actor: Actor, kind: str, item_id: int, *, approve: bool, reason: str,
                 ip: str | None = None) -> Decided:
    """Approve or reject one held item, in one transaction with its audit row and the message to its maker."""
    source = SOURCES.get(kind)
    if source is None:
        raise not_found("held item")
    text = clean_reason(reason, required=not approve)  # a rejection says why; an approval may
    async with conn.transaction():
        decided = await (source.approve if approve else source.reject)(conn, actor, item_id, text, ip)
        if decided.maker_id is not None and decided.maker_id != actor.id:
            await notify.send(conn, decided.maker_id, "held_decided", community_id=decided.community_id,
                              params={"item": item_id, "what_zh": decided.what_zh, "what_en": decided.what_en,
                                      "decision_zh": "通过" if approve else "驳回",
                                      "decision_en": "approved" if approve else "rejected",
                                      "reason": text or ""},
                              link="/held.html")
    return decided

"""积分细则, the published points rulebook.

A street or district publishes a base version; a community's version extends the base in force
above it when proposed (base_id) with its own items. A version is proposed (pending) and takes
effect only when a second person approves it through the held queue (domain/oversight/queue.py,
kind "rulebook"): another manager of the same organisation, a manager above it, or an admin; never
its proposer. The version it replaces is then superseded.

The rulebook a community works under is its own version in force (base items + its own), or else
the nearest base in force above it (street, then district). Every credit and deduction made under
it names its item, and the item its version: an activity keeps `rule_item_id` (its check-ins'
awards are caused by the activity's attendances), a deduction keeps its item, a verified courier
report and a case's bonus the item they were paid under (an item's `applies_to` says it pays for
them; `items_for`). `rules_of` reads the rule behind ledger transfers by their cause, the one place
statements and tests ask.
"""

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from domain.core import audit, clock, queries
from domain.core.actor import Actor, PersonRef
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.recognition import rules

Q = queries.load("recognition")


class RuleItem(msgspec.Struct, frozen=True):
    id: int
    code: str
    kind: str                 # earn | deduct
    title: str
    points: int
    daily_cap: int | None
    evidence: str
    clause: str | None
    version_id: int
    version: int
    org_id: int
    org_name: str
    label: str                # 《XX积分细则》第N版 CODE 标题
    # What an earning item pays for besides activities (rules.APPLIES_TO): a courier report of a kind
    # (report_hazard ...) or the reporter's bonus for a case closed in time (case_in_time); None: activities.
    applies_to: str | None = None


class RulebookVersion(msgspec.Struct, frozen=True):
    id: int
    org_id: int
    org_name: str
    version: int
    title: str
    state: str                # pending | in_force | superseded | rejected
    base_id: int | None
    proposer: PersonRef
    created_at: datetime
    decided_at: datetime | None
    items: list[RuleItem]     # its own items (a community's version: without its base's)


class Rulebook(msgspec.Struct, frozen=True):
    """What applies in an organisation now: its version in force (or the base above it), all items."""
    org_id: int
    org_name: str
    in_force: RulebookVersion | None
    base: RulebookVersion | None
    items: list[RuleItem]     # base items first, then the community's own
    pending: list[RulebookVersion]  # proposed versions waiting for a second person (managers only)
    can_propose: bool


class RuleRef(msgspec.Struct, frozen=True):
    """The rule a ledger line was made under."""
    item_id: int
    code: str
    title: str
    version_id: int
    version: int
    org_name: str
    label: str
    # Where a cause made several transfers, the one made under the rule (a case: its reporter's bonus,
    # not its handler's minutes); None: every transfer of the cause.
    transfer_id: int | None = None


_ITEM_SQL = """
    select i.*, v.version, v.org_id, o.name as org_name from rule_items i
      join rulebook_versions v on v.id = i.version_id join orgs o on o.id = v.org_id"""


def _item(r: asyncpg.Record) -> RuleItem:
    return RuleItem(id=r["id"], code=r["code"], kind=r["kind"], title=r["title"], points=r["points"],
                    daily_cap=r["daily_cap"], evidence=r["evidence"], clause=r["clause"], version_id=r["version_id"],
                    version=r["version"], org_id=r["org_id"], org_name=r["org_name"],
                    label=rules.rule_label(r["org_name"], r["version"], r["code"], r["title"]),
                    applies_to=r["applies_to"])


async def _versions(conn: asyncpg.Connection, where: str, *args: Any) -> list[RulebookVersion]:
    rows = await conn.fetch(
        f"""select v.*, o.name as org_name, u.name as proposer_name from rulebook_versions v
            join orgs o on o.id = v.org_id join users u on u.id = v.created_by where {where} order by v.id""", *args)
    items = await conn.fetch(_ITEM_SQL + " where i.version_id = any($1::bigint[]) order by i.version_id, i.position",
                             [r["id"] for r in rows])
    return [RulebookVersion(id=r["id"], org_id=r["org_id"], org_name=r["org_name"], version=r["version"],
                            title=r["title"], state=r["state"], base_id=r["base_id"],
                            proposer=PersonRef(r["created_by"], r["proposer_name"]), created_at=r["created_at"],
                            decided_at=r["decided_at"],
                            items=[_item(i) for i in items if i["version_id"] == r["id"]]) for r in rows]


async def version(conn: asyncpg.Connection, version_id: int) -> RulebookVersion:
    found = await _versions(conn, "v.id = $1", version_id)
    if not found:
        raise not_found("rulebook version")
    return found[0]


async def _chain(conn: asyncpg.Connection, org_id: int) -> list[int]:
    """The organisation and those above it, nearest first (community, street, district, ...)."""
    rows = await conn.fetch(
        """With recursive up(id, parent_id, depth) as (
               select id, parent_id, 0 from orgs where id = $1
               union all select o.id, o.parent_id, up.depth + 1 from orgs o join up on o.id = up.parent_id
               where up.depth < 6)
           select id from up order by depth""", org_id)
    return [r["id"] for r in rows]


async def _in_force_id(conn: asyncpg.Connection, org_id: int) -> int | None:
    return await conn.fetchval("select id from rulebook_versions where org_id = $1 and state = 'in_force'", org_id)


async def applying(conn: asyncpg.Connection, org_id: int) -> tuple[RulebookVersion | None, RulebookVersion | None]:
    """(the version in force here or nearest above, its base): what an organisation works under."""
    for org in await _chain(conn, org_id):
        found = await _in_force_id(conn, org)
        if found is not None:
            current = await version(conn, found)
            base = await version(conn, current.base_id) if current.base_id is not None else None
            return current, base
    return None, None


async def items_in_force(conn: asyncpg.Connection, community_id: int) -> list[RuleItem]:
    current, base = await applying(conn, community_id)
    if current is None:
        return []
    return (base.items if base else []) + current.items


async def may_propose(conn: asyncpg.Connection, actor: Actor, org: orgs.Org) -> bool:
    if org.kind == "community":
        return actor.can_manage(org.id)
    if org.kind in ("street", "district"):
        try:
            await orgs.require_level_manager(conn, actor, org.id)
            return True
        except DomainError:
            return False
    return False


async def read(conn: asyncpg.Connection, actor: Actor, org_id: int) -> Rulebook:
    """Anyone signed in reads a rulebook (residents read the rules they are paid and deducted by);
    versions waiting for approval only those who may propose or approve one."""
    org = await orgs.get_org(conn, org_id)
    if org.kind not in ("community", "street", "district"):
        raise invalid("org_id", "a community, street or district")
    current, base = await applying(conn, org_id)
    proposer = await may_propose(conn, actor, org)
    checker = await _may_check(conn, actor, org)
    pending = await _versions(conn, "v.org_id = $1 and v.state = 'pending'", org_id) if proposer or checker else []
    return Rulebook(org_id=org.id, org_name=org.name, in_force=current, base=base,
                    items=((base.items if base else []) + current.items) if current else [],
                    pending=pending, can_propose=proposer)


async def propose(conn: asyncpg.Connection, actor: Actor, org_id: int, title: str, items: list[dict[str, Any]],
                  *, ip: str | None = None) -> RulebookVersion:
    """A new version of the organisation's rulebook, waiting for a second person. A community's
    version extends the base in force above it now (its codes may not repeat the base's)."""
    org = await orgs.get_org(conn, org_id)
    if org.kind not in ("community", "street", "district"):
        raise invalid("org_id", "a community, street or district")
    if not await may_propose(conn, actor, org):
        raise forbidden("only a manager of this organisation proposes its rulebook")
    title = " ".join((title or "").split())
    if not 1 <= len(title) <= 100:
        raise invalid("title", "1 to 100 characters")
    base = None
    if org.kind == "community":
        above, _ = await applying(conn, org.parent_id) if org.parent_id else (None, None)
        base = above
    try:
        rules.check_items(items, [i.code for i in base.items] if base else [])
    except rules.RuleProblem as problem:
        raise invalid(problem.field, problem.problem) from None
    async with conn.transaction():
        # One proposer at a time per organisation: the version numbers stay dense and unique.
        await conn.execute("select 1 from orgs where id = $1 for update", org_id)
        number = await conn.fetchval("select coalesce(max(version), 0) + 1 from rulebook_versions where org_id = $1",
                                     org_id)
        version_id = await conn.fetchval(
            """Insert into rulebook_versions (org_id, version, base_id, title, state, created_by, created_at)
               values ($1, $2, $3, $4, 'pending', $5, $6) returning id""",
            org_id, number, base.id if base else None, title, actor.id, clock.now())
        for position, item in enumerate(items, start=1):
            await conn.execute(
                """Insert into rule_items (version_id, position, code, kind, title, points, daily_cap, evidence, clause,
                                         applies_to)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                version_id, position, item["code"], item["kind"], item["title"].strip(), item["points"],
                item.get("daily_cap"), (item.get("evidence") or "").strip(),
                (item.get("clause") or "").strip() or None, item.get("applies_to"))
        await audit.record(conn, actor, "rulebook_propose", community_id=org.community_id, target=("org", org_id),
                           after={"version_id": version_id, "version": number, "items": len(items),
                                  "base_id": base.id if base else None}, ip=ip)
    return await version(conn, version_id)


async def _may_check(conn: asyncpg.Connection, actor: Actor, org: orgs.Org) -> bool:
    """The second person on a version: a manager of the organisation or above it, or an admin."""
    from domain import oversight
    if org.kind == "community":
        return oversight.may_check(actor, org.id)
    return await may_propose(conn, actor, org)


async def checkable(conn: asyncpg.Connection, actor: Actor, scope: list[int] | None) -> list[int]:
    """The pending versions this viewer may see in the held queue: of the communities in `scope`
    (None: every one), and of the streets and districts they manage or sit under."""
    return [r["id"] for r in await conn.fetch(
        """Select v.id from rulebook_versions v join orgs o on o.id = v.org_id
            where v.state = 'pending'
              and ($1::bigint[] is null
                   or (o.kind = 'community' and o.id = any($1))
                   or (o.kind <> 'community' and exists (
                         select 1 from org_managers m where m.user_id = $2
                            and (m.org_id = o.id or m.org_id = o.parent_id))))
            order by v.id""", scope, actor.id)]


async def decide(conn: asyncpg.Connection, actor: Actor, version_id: int, *, approve: bool, reason: str | None,
                 ip: str | None = None) -> RulebookVersion:
    """Approve (it takes effect, the version in force before is superseded) or reject a proposed version."""
    row = await conn.fetchrow("select * from rulebook_versions where id = $1 for update", version_id)
    if row is None:
        raise not_found("held item")
    org = await orgs.get_org(conn, row["org_id"])
    if not await _may_check(conn, actor, org):
        raise not_found("held item")
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    if approve and actor.id == row["created_by"]:
        raise forbidden("nobody approves their own rulebook: another manager or the street must")
    now = clock.now()
    if approve:
        await conn.execute("update rulebook_versions set state = 'superseded' where org_id = $1 and state = 'in_force'",
                           row["org_id"])
    await conn.execute(
        """Update rulebook_versions set state = $2, decided_by = $3, decided_at = $4, decision_reason = $5
           where id = $1""", version_id, "in_force" if approve else "rejected", actor.id, now, reason)
    await audit.record(conn, actor, "rulebook_approve" if approve else "rulebook_reject",
                       community_id=org.community_id, target=("org", row["org_id"]),
                       after={"version_id": version_id, "version": row["version"], "maker_id": row["created_by"]},
                       reason=reason, ip=ip)
    return await version(conn, version_id)


async def earn_item(conn: asyncpg.Connection, community_id: int, item_id: int) -> RuleItem:
    """An item that earns by activities, of the rulebook the community works under now (activities
    are created under it; an item for reports or cases is not theirs)."""
    for item in await items_in_force(conn, community_id):
        if item.id == item_id and item.kind == "earn" and item.applies_to is None:
            return item
    raise invalid("rule_item_id", "an item that earns by activities, of the rulebook in force in this community")


async def items_for(conn: asyncpg.Connection, community_id: int) -> dict[str, RuleItem]:
    """The earning items in force in a community for reports and cases, by what they pay for
    (rules.APPLIES_TO). A community's own item takes the place of its base's for the same purpose
    (base items come first). Where none is listed, the report settings' amounts apply."""
    return {item.applies_to: item for item in await items_in_force(conn, community_id) if item.applies_to}


async def deduct_item(conn: asyncpg.Connection, community_id: int, item_id: int) -> RuleItem:
    for item in await items_in_force(conn, community_id):
        if item.id == item_id and item.kind == "deduct":
            return item
    raise invalid("rule_item_id", "a deduction item (扣分项) of the rulebook in force in this community")


async def has_rulebook(conn: asyncpg.Connection, community_id: int) -> bool:
    current, _ = await applying(conn, community_id)
    return current is not None


async def item(conn: asyncpg.Connection, item_id: int) -> RuleItem:
    row = await conn.fetchrow(_ITEM_SQL + " where i.id = $1", item_id)
    if row is None:
        raise not_found("rule item")
    return _item(row)


async def rules_of(conn: asyncpg.Connection, causes: list[tuple[str | None, int | None]]
                   ) -> dict[tuple[str, int], RuleRef]:
    """The rule (and version) behind ledger transfers, by their cause: a check-in's award names its
    activity's item, a deduction its own, a verified report the item its points were paid under, a
    case the item of its reporter's bonus (that transfer only: RuleRef.transfer_id). Causes made
    under no rule are absent."""
    def ids(kind: str) -> list[int]:
        return sorted({i for t, i in causes if t == kind and i is not None})
    checkins, deductions, reports, cases = ids("checkin"), ids("deduction"), ids("report"), ids("case")
    if not (checkins or deductions or reports or cases):
        return {}
    rows = await conn.fetch(
        Q.rule_items_of_causes, checkins, deductions, reports, cases)
    out = {}
    for r in rows:
        it = _item(r)
        out[(r["cause_type"], r["cause_id"])] = RuleRef(it.id, it.code, it.title, it.version_id, it.version,
                                                        it.org_name, it.label, r["transfer_id"])
    return out

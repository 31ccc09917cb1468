"""Public posting (公示) of a quarter's top list, and appeals against it.

A manager publishes the top N of a community (or household) ranking for a number of days. The
list is frozen at publication (posting_entries) with names masked, and shown on a public page
without login. During the posting a member of the community may appeal with a reason (one open
appeal per person at a time); the manager answers once; everything stays on record.
Outside the posting period appeals are refused with `invalid_state` (details.why: posting_ended
or posting_not_started).
"""

from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain import notify, rankings
from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.rankings import rules

Q = queries.load("rankings")

CLOSED_NAME = "已注销用户"  # as domain/people/privacy.py writes it into a closed account

MAX_TOP_N = 100
MAX_DAYS = 30


class PublicEntry(msgspec.Struct, frozen=True):
    rank: int
    name: str      # masked: 张*明; 已注销用户 once the person closed their account
    closed: bool   # the person closed their account since: pages show it in the reader's language
    amount: int
    medals: list[str] = []       # the person's medals, not for households
    party_household: bool = False  # 党员户: a party member of the household chose to show it (亮身份)


class Posting(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    community_name: str
    street_name: str | None
    scope: str
    unit: str
    quarter: str
    top_n: int
    starts_at: datetime
    ends_at: datetime
    status: str                # open | ended | upcoming, at the time of the request
    items: list[PublicEntry]
    appeals: int               # how many appeals were lodged (their content is not public)
    selection_id: int | None = None  # scope 'selection': the result of a quarterly selection
    title: str | None = None         # its title: 道德模范 | 最美家庭


class Appeal(msgspec.Struct, frozen=True):
    id: int
    posting_id: int
    user_id: int
    name: str
    reason: str
    created_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


def status_at(starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    if now < starts_at:
        return "upcoming"
    return "open" if now < ends_at else "ended"


async def publish(conn: asyncpg.Connection, actor: Actor, *, community_id: int, quarter: str, top_n: int,
                  days: int, scope: str = "community", unit: str = "points") -> Posting:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "a community")
    orgs.require_manager(actor, community_id)
    if scope not in ("community", "household"):
        raise invalid("scope", "community or household")
    if unit not in ("points", "minutes"):
        raise invalid("unit", "points or minutes")
    if not 1 <= top_n <= MAX_TOP_N:
        raise invalid("top_n", f"1 to {MAX_TOP_N}")
    if not 1 <= days <= MAX_DAYS:
        raise invalid("days", f"1 to {MAX_DAYS}")
    q = rules.parse_quarter(quarter)
    now = clock.now()
    if q.bounds()[0] > now:
        raise invalid("quarter", "has not started yet")
    items = await rankings.compute(conn, scope, community_id, q, unit)
    shown = items[:rules.top_with_ties([i.rank for i in items], top_n)]
    async with conn.transaction():
        posting_id = await conn.fetchval(
            """Insert into postings (community_id, scope, unit, quarter, top_n, starts_at, ends_at, created_by,
                                     created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $6) returning id""",
            community_id, scope, unit, str(q), top_n, now, now + timedelta(days=days), actor.id)
        await conn.executemany(
            Q.insert_posting_entries,
            [(posting_id, pos, i.rank, None if scope == "household" else i.id, i.id if scope == "household" else None,
              # A household's name is a family name like 刘家: mask it as a name too.
              rules.mask_name(i.name), i.amount) for pos, i in enumerate(shown, start=1)])
        await audit.record(conn, actor, "posting_publish", community_id=community_id, target=("posting", posting_id),
                           after={"quarter": str(q), "scope": scope, "unit": unit, "top_n": top_n, "days": days,
                                  "shown": len(shown)})
    return await public(conn, posting_id)


async def public(conn: asyncpg.Connection, posting_id: int) -> Posting:
    """What anyone may see, without login: masked names, amounts, the period and its status."""
    row = await conn.fetchrow(
        """Select p.*, c.name as community_name, s.name as street_name,
                  (select count(*) from posting_appeals a where a.posting_id = p.id) as appeals
           from postings p join orgs c on c.id = p.community_id left join orgs s on s.id = c.parent_id
           where p.id = $1""", posting_id)
    if row is None:
        raise not_found("posting")
    # The list is frozen at publication, but a person who closed their account since is no longer named.
    entries = await conn.fetch(
        """Select e.rank, e.masked_name, e.amount, e.user_id, e.household_id, u.closed_at is not null as closed
           from posting_entries e left join users u on u.id = e.user_id
           where e.posting_id = $1 order by e.position""", posting_id)
    from domain.recognition import medals, selections  # recognition reads rankings: imported late
    held = await medals.of_people(conn, [e["user_id"] for e in entries if e["user_id"]])
    party = await selections.party_households(conn, [e["household_id"] for e in entries if e["household_id"]])
    title = await conn.fetchval("select title from selections where id = $1", row["selection_id"]) \
        if row["selection_id"] else None
    return Posting(id=row["id"], community_id=row["community_id"], community_name=row["community_name"],
                   street_name=row["street_name"], scope=row["scope"], unit=row["unit"], quarter=row["quarter"],
                   top_n=row["top_n"], starts_at=row["starts_at"], ends_at=row["ends_at"],
                   status=status_at(row["starts_at"], row["ends_at"], clock.now()),
                   items=[PublicEntry(e["rank"], CLOSED_NAME if e["closed"] else e["masked_name"], e["closed"], e["amount"],
                                      medals=held.get(e["user_id"], []) if not e["closed"] else [],
                                      party_household=e["household_id"] in party)
                          for e in entries],
                   appeals=row["appeals"], selection_id=row["selection_id"], title=title)


async def list_for(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[Posting]:
    """The community's postings, newest first: for its residents (公示 is for them, on the
    home and rankings pages), its managers and the managers above it."""
    if not actor.reads(community_id) and community_id not in await orgs.member_communities(conn, actor.id):
        raise forbidden("a resident or manager of this community")
    ids = await conn.fetch("select id from postings where community_id = $1 order by id desc limit 50", community_id)
    return [await public(conn, r["id"]) for r in ids]


_APPEAL_SQL = """
    select a.id, a.posting_id, a.user_id, u.name, a.reason, a.created_at, a.answer, m.name as answered_by,
           a.answered_at
      from posting_appeals a join users u on u.id = a.user_id left join users m on m.id = a.answered_by"""


async def _appeal(conn: asyncpg.Connection, appeal_id: int) -> Appeal:
    row = await conn.fetchrow(_APPEAL_SQL + " where a.id = $1", appeal_id)
    if row is None:
        raise not_found("appeal")
    return Appeal(**row)


async def appeal(conn: asyncpg.Connection, actor: Actor, posting_id: int, reason: str) -> Appeal:
    """A member of the posting's community objects, with a reason, while the posting is up."""
    posting = await conn.fetchrow("select community_id, starts_at, ends_at from postings where id = $1", posting_id)
    if posting is None:
        raise not_found("posting")
    reason = " ".join((reason or "").split())
    if not 1 <= len(reason) <= 1000:
        raise invalid("reason", "1 to 1000 characters")
    if posting["community_id"] not in await orgs.member_communities(conn, actor.id):
        raise DomainError("not_member")
    status = status_at(posting["starts_at"], posting["ends_at"], clock.now())
    if status != "open":
        raise DomainError("invalid_state", details={
            "why": "posting_ended" if status == "ended" else "posting_not_started"})
    appeal_id = await conn.fetchval(
        """Insert into posting_appeals (posting_id, user_id, reason, created_at) values ($1, $2, $3, $4)
           on conflict (posting_id, user_id) where answered_at is null do nothing returning id""",
        posting_id, actor.id, reason, clock.now())
    if appeal_id is None:
        raise DomainError("invalid_state", details={"why": "appeal_pending"})
    return await _appeal(conn, appeal_id)


async def answer(conn: asyncpg.Connection, actor: Actor, appeal_id: int, text: str) -> Appeal:
    """The manager of the posting's community answers an appeal, once (also after the posting ended)."""
    row = await conn.fetchrow(
        """Select p.community_id, a.answered_at, a.user_id, a.posting_id from posting_appeals a
           join postings p on p.id = a.posting_id where a.id = $1 for update of a""", appeal_id)
    if row is None:
        raise not_found("appeal")
    orgs.require_manager(actor, row["community_id"])
    text = (text or "").strip()
    if not 1 <= len(text) <= 1000:
        raise invalid("answer", "1 to 1000 characters")
    if row["answered_at"] is not None:
        raise DomainError("invalid_state", details={"why": "already_answered"})
    async with conn.transaction():
        await conn.execute("update posting_appeals set answer = $2, answered_by = $3, answered_at = $4 where id = $1",
                           appeal_id, text, actor.id, clock.now())
        await audit.record(conn, actor, "appeal_answer", community_id=row["community_id"],
                           target=("appeal", appeal_id), after={"answer": text[:200]})
        await notify.send(conn, row["user_id"], "appeal_answered", community_id=row["community_id"],
                          params={"answer": text[:100]}, link=f"/posting.html?id={row['posting_id']}")
    return await _appeal(conn, appeal_id)


async def appeals(conn: asyncpg.Connection, actor: Actor, posting_id: int) -> list[Appeal]:
    """The community's manager sees every appeal of a posting; anyone else only their own."""
    community_id = await conn.fetchval("select community_id from postings where id = $1", posting_id)
    if community_id is None:
        raise not_found("posting")
    if actor.can_manage(community_id):
        rows = await conn.fetch(_APPEAL_SQL + " where a.posting_id = $1 order by a.id", posting_id)
    else:
        rows = await conn.fetch(_APPEAL_SQL + " where a.posting_id = $1 and a.user_id = $2 order by a.id",
                                posting_id, actor.id)
    return [Appeal(**r) for r in rows]

"""评选, the quarterly selection of 道德模范 (persons) and 最美家庭 (households).

1. open: a manager opens a selection for a quarter. Candidates: the top `top_n` of the quarter's
   ranking (earned minus deductions) with a positive score; the ranking's candidates are told.
2. nominate: a resident in a household of the community nominates a person or household, with a
   reason: one nomination per household.
3. vote: until `votes_until`, one vote per household (the second is refused), for 1..max_votes.
4. propose: after the vote, a manager writes the committee's choices, a reason for each; it is
   held (kind "selection") until a second manager confirms: the committee is two or more. Nobody
   proposes or confirms a selection they are the subject of (a candidate, or in a candidate's
   household).
5. confirm: the result is posted as 公示 (postings, scope 'selection') with an appeal window; the
   residents appeal through the postings' own flow, the manager answers there.
6. final: once the 公示 ended and every appeal is answered, the selection is final: each selected
   person (each member of a selected household) gets a medal and a line of record (commendations,
   which certificates and records show).
The ranking, the votes and the decision are one CSV (export_csv) for the street's records.
"""

from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain import notify, rankings
from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.rankings import rules as ranking_rules
from domain.recognition import medals, rules

Q = queries.load("recognition")

RANKINGS = queries.load("rankings")

POSTING_DAYS = 7  # the 公示's appeal window
MAX_DAYS = 30


class Candidate(msgspec.Struct, frozen=True):
    id: int
    user_id: int | None
    household_id: int | None
    name: str                     # in full for managers, masked (张*明) for residents
    members: list[str] | None     # a household's members (masked for residents)
    party_household: bool         # 党员户: a party member in it chose to show it (亮身份)
    from_ranking: bool
    rank: int | None
    score: int
    nominated: bool
    reason: str | None            # the nomination's reason
    votes: int | None             # households that voted for it (managers; everyone once posted)
    chosen: bool | None
    choice_reason: str | None


class Selection(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    community_name: str
    quarter: str
    kind: str                     # person | household
    title: str                    # 道德模范 | 最美家庭
    top_n: int
    max_votes: int
    votes_until: datetime
    state: str                    # open | proposed | posted | final
    voting: bool                  # votes are accepted now
    posting_id: int | None
    candidates: list[Candidate]
    households_voted: int
    my_household_id: int | None
    my_vote: list[int] | None     # the candidates my household voted for
    my_household_nominated: bool
    can_manage: bool


class SelectionRef(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    quarter: str
    kind: str
    title: str
    state: str
    votes_until: datetime
    posting_id: int | None


async def _member_household(conn: asyncpg.Connection, user_id: int, community_id: int) -> int | None:
    return await conn.fetchval("""select h.id from household_members m join households h on h.id = m.household_id
                                  where m.user_id = $1 and h.community_id = $2""", user_id, community_id)


async def _load_row(conn: asyncpg.Connection, selection_id: int, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow("select * from selections where id = $1" + (" for update" if lock else ""), selection_id)
    if row is None:
        raise not_found("selection")
    return row


async def _may_read(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    if not actor.reads(community_id) and community_id not in await orgs.member_communities(conn, actor.id):
        raise forbidden("a resident or manager of this community")


async def _subjects(conn: asyncpg.Connection, selection_id: int) -> set[int]:
    """Everyone a selection is about: its candidate persons and the members of its candidate households."""
    return {r["user_id"] for r in await conn.fetch(
        """Select c.user_id from selection_candidates c where c.selection_id = $1 and c.user_id is not null
           union select m.user_id from selection_candidates c join household_members m on m.household_id = c.household_id
           where c.selection_id = $1""", selection_id)}


async def party_households(conn: asyncpg.Connection, household_ids: list[int]) -> set[int]:
    return {r["household_id"] for r in await conn.fetch(
        """Select distinct m.household_id from household_members m join party_identity p on p.user_id = m.user_id
           where m.household_id = any($1::bigint[]) and p.shown
             and exists (select 1 from unit_members u where u.user_id = m.user_id and u.party_member and u.confirmed)""",
        household_ids)}


async def get(conn: asyncpg.Connection, actor: Actor, selection_id: int) -> Selection:
    row = await _load_row(conn, selection_id)
    community_id = row["community_id"]
    await _may_read(conn, actor, community_id)
    manager = actor.reads(community_id)
    now = clock.now()
    cands = await conn.fetch(
        """Select c.*, coalesce(u.name, h.name) as name,
                  (select array_agg(x.name order by x.name) from household_members hm join users x on x.id = hm.user_id
                    where hm.household_id = c.household_id) as members,
                  (select count(*) from selection_votes v where v.selection_id = c.selection_id
                    and c.id = any(v.candidate_ids)) as votes
           from selection_candidates c left join users u on u.id = c.user_id left join households h on h.id = c.household_id
           where c.selection_id = $1 order by c.from_ranking desc, c.rank nulls last, c.id""", selection_id)
    party = await party_households(conn, [c["household_id"] for c in cands if c["household_id"]])
    show_votes = manager or row["state"] in ("posted", "final")
    mask = (lambda n: n) if manager else ranking_rules.mask_name
    household = await _member_household(conn, actor.id, community_id)
    vote = await conn.fetchval("select candidate_ids from selection_votes where selection_id = $1 and household_id = $2",
                               selection_id, household) if household else None
    nominated = bool(household and await conn.fetchval(
        Q.nominated_by_household, selection_id, household))
    voted = await conn.fetchval("select count(*) from selection_votes where selection_id = $1", selection_id)
    return Selection(
        id=row["id"], community_id=community_id,
        community_name=await conn.fetchval("select name from orgs where id = $1", community_id),
        quarter=row["quarter"], kind=row["kind"], title=row["title"], top_n=row["top_n"], max_votes=row["max_votes"],
        votes_until=row["votes_until"], state=row["state"], voting=row["state"] == "open" and now < row["votes_until"],
        posting_id=row["posting_id"],
        candidates=[Candidate(
            id=c["id"], user_id=c["user_id"], household_id=c["household_id"], name=mask(c["name"]),
            members=[mask(m) for m in c["members"] or []] if c["household_id"] else None,
            party_household=c["household_id"] in party, from_ranking=c["from_ranking"], rank=c["rank"],
            score=c["score"], nominated=c["nominated_by"] is not None, reason=c["reason"],
            votes=c["votes"] if show_votes else None,
            chosen=c["chosen"] if manager or row["state"] in ("posted", "final") else None,
            choice_reason=c["choice_reason"] if manager or row["state"] in ("posted", "final") else None)
            for c in cands],
        households_voted=voted, my_household_id=household, my_vote=list(vote) if vote else None,
        my_household_nominated=nominated, can_manage=actor.can_manage(community_id))


async def list_for(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[SelectionRef]:
    await _may_read(conn, actor, community_id)
    rows = await conn.fetch("select * from selections where community_id = $1 order by id desc limit 50", community_id)
    return [SelectionRef(r["id"], r["community_id"], r["quarter"], r["kind"], r["title"], r["state"], r["votes_until"],
                         r["posting_id"]) for r in rows]


async def open_selection(conn: asyncpg.Connection, actor: Actor, *, community_id: int, kind: str, quarter: str,
                         top_n: int, max_votes: int, days: int, ip: str | None = None) -> Selection:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "a community")
    orgs.require_manager(actor, community_id)
    if kind not in rules.SELECTION_TITLES:
        raise invalid("kind", "person or household")
    if not 1 <= days <= MAX_DAYS:
        raise invalid("days", f"1 to {MAX_DAYS}")
    q = ranking_rules.parse_quarter(quarter)
    now = clock.now()
    if q.bounds()[0] > now:
        raise invalid("quarter", "has not started yet")
    ranking = await rankings.compute(conn, "household" if kind == "household" else "community", community_id, q, "points")
    top = [i for i in ranking if i.amount > 0][:ranking_rules.top_with_ties([i.rank for i in ranking if i.amount > 0],
                                                                             top_n)]
    until = now + timedelta(days=days)
    async with conn.transaction():
        selection_id = await conn.fetchval(
            """Insert into selections (community_id, quarter, kind, title, top_n, max_votes, votes_until, state,
                                       opened_by, opened_at)
               values ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)
               on conflict (community_id, quarter, kind) do nothing returning id""",
            community_id, str(q), kind, rules.SELECTION_TITLES[kind], top_n, max_votes, until, actor.id, now)
        if selection_id is None:
            raise DomainError("invalid_state", details={"why": "selection_exists"})
        for item in top:
            await conn.execute(
                """Insert into selection_candidates (selection_id, user_id, household_id, from_ranking, rank, score)
                   values ($1, $2, $3, true, $4, $5)""", selection_id, None if kind == "household" else item.id,
                item.id if kind == "household" else None, item.rank, item.amount)
        await audit.record(conn, actor, "selection_open", community_id=community_id, target=("org", community_id),
                           after={"selection_id": selection_id, "quarter": str(q), "kind": kind,
                                  "candidates": len(top)}, ip=ip)
        told = [i.id for i in top] if kind == "person" else [r["user_id"] for r in await conn.fetch(
            "select user_id from household_members where household_id = any($1::bigint[])", [i.id for i in top])]
        for user_id in told:
            await notify.send(conn, user_id, "selection_open", community_id=community_id,
                              params={"quarter": str(q), "title": rules.SELECTION_TITLES[kind],
                                      "why": "季度积分排名", "until": clock.local_time(until).strftime("%m-%d %H:%M")},
                              link=f"/selection.html?id={selection_id}")
    return await get(conn, actor, selection_id)


async def _voter(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record) -> int:
    """The household a resident acts for; refused unless the selection is taking votes."""
    household = await _member_household(conn, actor.id, row["community_id"])
    if household is None:
        if row["community_id"] in await orgs.member_communities(conn, actor.id):
            raise DomainError("invalid_state", details={"why": "no_household"})
        raise DomainError("not_member")
    if row["state"] != "open" or clock.now() >= row["votes_until"]:
        raise DomainError("invalid_state", details={"why": "voting_closed", "state": row["state"]})
    return household


async def nominate(conn: asyncpg.Connection, actor: Actor, selection_id: int, *, user_id: int | None,
                   household_id: int | None, reason: str) -> Selection:
    text = " ".join((reason or "").split())
    if not 1 <= len(text) <= 500:
        raise invalid("reason", "1 to 500 characters")
    async with conn.transaction():
        row = await _load_row(conn, selection_id, lock=True)
        household = await _voter(conn, actor, row)
        if row["kind"] == "household" and household_id is None and user_id is not None:
            # 最美家庭: a resident may name the household by one of its members (pages offer people)
            household_id = await _member_household(conn, user_id, row["community_id"])
            if household_id is None:
                raise invalid("user_id", "a resident who lives in a household of this community")
            user_id = None
        if (user_id is None) == (household_id is None) or (row["kind"] == "person") != (user_id is not None):
            raise invalid("user_id" if row["kind"] == "person" else "household_id",
                          "a person" if row["kind"] == "person" else "a household")
        if user_id is not None:
            if user_id == actor.id:
                raise invalid("user_id", "someone else: nobody nominates themself")
            if row["community_id"] not in await orgs.member_communities(conn, user_id):
                raise invalid("user_id", "a resident of this community")
        else:
            if household_id == household:
                raise invalid("household_id", "another household: nobody nominates their own")
            if await conn.fetchval("select community_id from households where id = $1", household_id) != row["community_id"]:
                raise invalid("household_id", "a household of this community")
        if await conn.fetchval(Q.nominated_by_household,
                               selection_id, household):
            raise DomainError("invalid_state", details={"why": "household_nominated"})
        existing = await conn.fetchval(
            "select id from selection_candidates where selection_id = $1 and (user_id = $2 or household_id = $3)",
            selection_id, user_id, household_id)
        if existing is not None:  # already a candidate: the nomination adds its reason
            await conn.execute(
                """Update selection_candidates set nominated_by = coalesce(nominated_by, $2),
                          nominating_household = coalesce(nominating_household, $3), reason = coalesce(reason, $4)
                   where id = $1""", existing, actor.id, household, text)
            if await conn.fetchval("select nominating_household from selection_candidates where id = $1",
                                   existing) != household:
                raise DomainError("invalid_state", details={"why": "already_nominated"})
        else:
            await conn.execute(
                """Insert into selection_candidates (selection_id, user_id, household_id, from_ranking, nominated_by,
                                                     nominating_household, reason)
                   values ($1, $2, $3, false, $4, $5, $6)""",
                selection_id, user_id, household_id, actor.id, household, text)
        # The nominated are told (a household's members), with the way to the selection.
        told = [user_id] if user_id is not None else [r["user_id"] for r in await conn.fetch(
            "select user_id from household_members where household_id = $1", household_id)]
        for person in told:
            await notify.send(conn, person, "selection_open", community_id=row["community_id"],
                              params={"quarter": row["quarter"], "title": row["title"], "why": "居民提名",
                                      "until": clock.local_time(row["votes_until"]).strftime("%m-%d %H:%M")},
                              link=f"/selection.html?id={selection_id}")
    return await get(conn, actor, selection_id)


async def vote(conn: asyncpg.Connection, actor: Actor, selection_id: int, candidate_ids: list[int]) -> Selection:
    async with conn.transaction():
        row = await _load_row(conn, selection_id, lock=True)
        household = await _voter(conn, actor, row)
        allowed = {r["id"] for r in await conn.fetch("select id from selection_candidates where selection_id = $1",
                                                     selection_id)}
        try:
            rules.check_ballot(candidate_ids, allowed, row["max_votes"])
        except rules.RuleProblem as problem:
            raise invalid(problem.field, problem.problem) from None
        done = await conn.fetchval(
            """Insert into selection_votes (selection_id, household_id, voter_id, candidate_ids, created_at)
               values ($1, $2, $3, $4, $5) on conflict (selection_id, household_id) do nothing returning 1""",
            selection_id, household, actor.id, candidate_ids, clock.now())
        if done is None:
            raise DomainError("invalid_state", details={"why": "household_voted"})
    return await get(conn, actor, selection_id)


async def propose(conn: asyncpg.Connection, actor: Actor, selection_id: int, choices: list[dict],
                  ip: str | None = None) -> Selection:
    """The committee's choices, a reason for each, by a manager; held until a second manager confirms."""
    async with conn.transaction():
        row = await _load_row(conn, selection_id, lock=True)
        orgs.require_manager(actor, row["community_id"])
        if not rules.committee_may_decide(actor.id, await _subjects(conn, selection_id)):
            raise forbidden("nobody decides a selection they are the subject of")
        if row["state"] != "open" or clock.now() < row["votes_until"]:
            raise DomainError("invalid_state", details={"why": "voting_open" if row["state"] == "open" else row["state"]})
        ids = {r["id"] for r in await conn.fetch("select id from selection_candidates where selection_id = $1",
                                                 selection_id)}
        if not choices:
            raise invalid("choices", "at least one")
        picked = {}
        for i, choice in enumerate(choices):
            reason = " ".join((choice.get("reason") or "").split())
            if choice.get("candidate_id") not in ids or choice["candidate_id"] in picked:
                raise invalid(f"choices[{i}].candidate_id", "a candidate of this selection, once")
            if not 1 <= len(reason) <= 500:
                raise invalid(f"choices[{i}].reason", "1 to 500 characters: why this choice")
            picked[choice["candidate_id"]] = reason
        await conn.execute("update selection_candidates set chosen = false, choice_reason = null where selection_id = $1",
                           selection_id)
        for candidate_id, reason in picked.items():
            await conn.execute("update selection_candidates set chosen = true, choice_reason = $2 where id = $1",
                               candidate_id, reason)
        await conn.execute("update selections set state = 'proposed', proposed_by = $2, proposed_at = $3 where id = $1",
                           selection_id, actor.id, clock.now())
        await audit.record(conn, actor, "selection_propose", community_id=row["community_id"],
                           target=("org", row["community_id"]),
                           after={"selection_id": selection_id, "chosen": sorted(picked)}, ip=ip)
    return await get(conn, actor, selection_id)


async def proposed(conn: asyncpg.Connection, scope: list[int] | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """Select s.*, o.name as community_name, u.name as proposer_name from selections s
           join orgs o on o.id = s.community_id join users u on u.id = s.proposed_by
           where s.state = 'proposed' and ($1::bigint[] is null or s.community_id = any($1)) order by s.id""", scope)


async def subjects(conn: asyncpg.Connection, selection_id: int) -> set[int]:
    return await _subjects(conn, selection_id)


async def decide(conn: asyncpg.Connection, actor: Actor, selection_id: int, *, approve: bool, reason: str | None,
                 ip: str | None = None) -> asyncpg.Record:
    """The second committee member confirms (the result is posted as 公示) or sends it back (open)."""
    from domain import oversight
    row = await _load_row(conn, selection_id, lock=True)
    if not oversight.may_check(actor, row["community_id"]):
        raise not_found("held item")
    if row["state"] != "proposed":
        raise DomainError("invalid_state", details={"state": row["state"]})
    if not rules.committee_may_decide(actor.id, await _subjects(conn, selection_id)):
        raise forbidden("nobody decides a selection they are the subject of")
    if approve and actor.id == row["proposed_by"]:
        raise forbidden("the committee is two or more: another manager confirms")
    now = clock.now()
    if not approve:
        await conn.execute("update selections set state = 'open', proposed_by = null, proposed_at = null where id = $1",
                           selection_id)
        await audit.record(conn, actor, "selection_confirm", community_id=row["community_id"],
                           target=("org", row["community_id"]), after={"selection_id": selection_id, "confirmed": False},
                           reason=reason, ip=ip)
        return row
    chosen = await conn.fetch(
        """Select c.*, coalesce(u.name, h.name) as name from selection_candidates c left join users u on u.id = c.user_id
           left join households h on h.id = c.household_id where c.selection_id = $1 and c.chosen
           order by c.rank nulls last, c.id""", selection_id)
    posting_id = await conn.fetchval(
        """Insert into postings (community_id, scope, unit, quarter, top_n, starts_at, ends_at, created_by, created_at,
                                 selection_id)
           values ($1, 'selection', 'points', $2, $3, $4, $5, $6, $4, $7) returning id""",
        row["community_id"], row["quarter"], len(chosen), now, now + timedelta(days=POSTING_DAYS), actor.id, selection_id)
    await conn.executemany(
        RANKINGS.insert_posting_entries,
        [(posting_id, pos, pos, c["user_id"], c["household_id"], ranking_rules.mask_name(c["name"]), c["score"])
         for pos, c in enumerate(chosen, start=1)])
    await conn.execute("update selections set state = 'posted', confirmed_by = $2, posting_id = $3 where id = $1",
                       selection_id, actor.id, posting_id)
    await audit.record(conn, actor, "selection_confirm", community_id=row["community_id"],
                       target=("posting", posting_id), after={"selection_id": selection_id, "confirmed": True,
                                                              "proposed_by": row["proposed_by"]}, reason=reason, ip=ip)
    for user_id in await _people_of(conn, chosen):
        await notify.send(conn, user_id, "selection_result", community_id=row["community_id"],
                          params={"quarter": row["quarter"], "title": row["title"], "name": "您"},
                          link=f"/posting.html?id={posting_id}")
    return row


async def _people_of(conn: asyncpg.Connection, chosen: list[asyncpg.Record]) -> list[int]:
    people = [c["user_id"] for c in chosen if c["user_id"]]
    households = [c["household_id"] for c in chosen if c["household_id"]]
    if households:
        people += [r["user_id"] for r in await conn.fetch(
            "select user_id from household_members where household_id = any($1::bigint[]) order by user_id", households)]
    return people


async def finalize(conn: asyncpg.Connection, actor: Actor, selection_id: int, ip: str | None = None) -> Selection:
    """After the 公示 ended with every appeal answered: final; the selected get a medal and a record line."""
    async with conn.transaction():
        row = await _load_row(conn, selection_id, lock=True)
        orgs.require_manager(actor, row["community_id"])
        if row["state"] != "posted":
            raise DomainError("invalid_state", details={"state": row["state"]})
        posting = await conn.fetchrow("select ends_at from postings where id = $1", row["posting_id"])
        if clock.now() < posting["ends_at"]:
            raise DomainError("invalid_state", details={"why": "posting_open", "ends_at": posting["ends_at"].isoformat()})
        if await conn.fetchval("select count(*) from posting_appeals where posting_id = $1 and answered_at is null",
                               row["posting_id"]):
            raise DomainError("invalid_state", details={"why": "appeals_unanswered"})
        chosen = await conn.fetch("select * from selection_candidates where selection_id = $1 and chosen order by id",
                                  selection_id)
        name = f"{row['quarter'][:4]}年第{row['quarter'][-1]}季度{row['title']}"
        today = clock.local_day(clock.now())
        for user_id in await _people_of(conn, chosen):
            await medals.award(conn, user_id, row["community_id"], f"selected:{selection_id}", name)
            await conn.execute(
                """Insert into commendations (community_id, user_id, title, awarded_on, note, awarded_by, created_at)
                   values ($1, $2, $3, $4, $5, $6, $7)""", row["community_id"], user_id, name, today,
                "社区季度评选，经公示无异议", actor.id, clock.now())
        await conn.execute("update selections set state = 'final', finalized_at = $2 where id = $1",
                           selection_id, clock.now())
        await audit.record(conn, actor, "selection_final", community_id=row["community_id"],
                           target=("org", row["community_id"]), after={"selection_id": selection_id,
                                                                       "chosen": [c["id"] for c in chosen]}, ip=ip)
    return await get(conn, actor, selection_id)


async def export_csv(conn: asyncpg.Connection, actor: Actor, selection_id: int) -> bytes:
    """The ranking, the votes and the decision side by side: one row per candidate."""
    row = await _load_row(conn, selection_id)
    orgs.require_reader(actor, row["community_id"])
    s = await get(conn, actor, selection_id)
    header = ["评选", "季度", "候选", "成员", "党员户", "来源", "排名", "季度积分(已减扣分)", "提名理由", "得票(户)",
              "委员会决定", "决定理由", "状态"]
    rows = ([s.title, s.quarter, c.name, "、".join(c.members or []), "是" if c.party_household else "",
             "排名" + ("+提名" if c.nominated else "") if c.from_ranking else "居民提名", c.rank or "", c.score,
             c.reason or "", c.votes or 0, ("待定" if c.chosen is None else "入选" if c.chosen else "未入选"), c.choice_reason or "",
             s.state] for c in s.candidates)
    return ranking_rules.to_csv(header, rows)


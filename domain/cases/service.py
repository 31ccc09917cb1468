"""The grid loop (闭环): cases (事项) from a courier's verified hazard report or a resident's
提事, sorted by the community, dispatched by the street (吹哨派单) to a handler organisation (a partner,
domain/partners) with a deadline from the street's categories, handled, fed back and rated; overdue
cases escalate to the street and the district. The state machine and the amounts are in rules.py.

Who sees a case: its reporter and followers, the managers of its community and above (street,
district), the staff of its current handler, and (proposals only) the residents of its community.
To anyone else it does not exist (404). Who acts:
- the community's managers sort, merge, send up, take up a proposal, open and publish its vote, and
  dispatch to the community's own partners;
- the street's managers (or the district's) dispatch cases sent up to the street;
- the handler's staff accept or return, add notes and photos, and mark done;
- the reporter rates (never their own handling); residents follow, comment and vote (one a household).
Every step is a case_events row in the act's transaction; a manager's or handler's act also writes its
audit row. Messages go through domain/notify in the same transaction.
"""

import asyncio
import io
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from PIL import Image

from domain import ledger, notify
from domain.cases import rules
from domain.core import audit, clock, photos, queries, sweeper
from domain.core.actor import Actor, OrgRef, PersonRef
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.rankings import rules as ranking_rules

Q = queries.load("cases")
PEOPLE = queries.load("people")

# ---- types ----------------------------------------------------------------------------------


class Category(msgspec.Struct, frozen=True):
    id: int
    name: str
    deadline_hours: int
    active: bool


class Vote(msgspec.Struct, frozen=True, kw_only=True):
    scope: str
    closes_at: datetime
    open: bool
    yes: int | None          # counted once the vote is closed
    no: int | None
    published: bool
    my_vote: str | None      # what my household voted


class CaseEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    act: str
    actor: PersonRef | None  # None: the system (the escalation sweep)
    from_state: str | None
    to_state: str | None
    note: str | None
    data: dict | None
    at: datetime
    photo_ids: list[int]


class Case(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    number: str
    source: str
    kind: str
    title: str
    text: str
    place: str
    state: str
    level: str
    priority: str
    category: Category | None
    reporter: PersonRef
    community: OrgRef
    grid: OrgRef | None
    street_id: int
    handler: OrgRef | None
    deadline: datetime | None
    overdue: bool
    escalation: int
    reopened: bool
    done_at: datetime | None
    closed_in_time: bool | None
    rating: str | None
    merged_into: int | None
    report_id: int | None
    meeting_note: str | None
    vote: Vote | None
    photo_ids: list[int]
    following: bool
    can: list[str]           # what the viewer may do now (for the pages; the API checks again)
    created_at: datetime
    history: list[CaseEvent] = []


class CasePage(msgspec.Struct, frozen=True):
    items: list[Case]
    next_cursor: str | None


class FigureRow(msgspec.Struct, frozen=True):
    id: int | None
    name: str
    figures: rules.Figures


class FigureTable(msgspec.Struct, frozen=True):
    org_id: int
    by: str
    since: date
    until: date
    total: rules.Figures
    rows: list[FigureRow]


class NewCase(msgspec.Struct, frozen=True, kw_only=True):
    kind: str                     # problem or proposal
    title: str
    text: str
    place: str = ""
    community_id: int | None = None   # needed only by a member of several communities


# ---- reading --------------------------------------------------------------------------------


class _Viewer(msgspec.Struct, frozen=True):
    """What the viewer is to one case."""
    reporter: bool
    follower: bool
    community_manager: bool
    reader: bool             # a manager of the community or above it (read only above)
    street_manager: bool
    handler_staff: bool
    resident: bool

    @property
    def sees(self) -> bool:
        return (self.reporter or self.follower or self.reader or self.street_manager or self.handler_staff
                or self.resident)


async def _manages_street(conn: asyncpg.Connection, actor: Actor, street_id: int) -> bool:
    if actor.is_admin:
        return True
    return await conn.fetchval(
        """Select exists (select 1 from org_managers m join orgs s on s.id = $1
                          where m.user_id = $2 and (m.org_id = s.id or m.org_id = s.parent_id))""",
        street_id, actor.id)


async def _is_resident(conn: asyncpg.Connection, user_id: int, community_id: int) -> bool:
    return await conn.fetchval(
        """Select exists (select 1 from org_members m join orgs o on o.id = m.org_id
                          where m.user_id = $1 and (o.id = $2 or (o.kind = 'grid' and o.parent_id = $2)))""",
        user_id, community_id)


async def _viewer(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record) -> _Viewer:
    flags = await conn.fetchrow(
        """Select exists (select 1 from case_followers f where f.case_id = $1 and f.user_id = $2) as follower,
                  exists (select 1 from partner_staff s where s.partner_id = $3 and s.user_id = $2) as staff""",
        row["id"], actor.id, row["handler_id"])
    resident = row["kind"] == "proposal" and await _is_resident(conn, actor.id, row["community_id"])
    return _Viewer(reporter=row["reporter_id"] == actor.id, follower=flags["follower"],
                   community_manager=actor.can_manage(row["community_id"]), reader=actor.reads(row["community_id"]),
                   street_manager=await _manages_street(conn, actor, row["street_id"]),
                   handler_staff=flags["staff"], resident=resident)


def _acts(row: asyncpg.Record, v: _Viewer, actor_id: int, now: datetime) -> list[str]:
    state, level = row["state"], row["level"]
    acts = []
    voting = row["vote_closes_at"] is not None and row["result_published_at"] is None
    if v.community_manager and level == "community" and state in ("reported", "sorted"):
        acts += ["sort", "merge", "send_up"]
        if row["kind"] == "proposal":
            acts += ["meeting"] + (["vote_open"] if row["vote_closes_at"] is None and state == "sorted" else [])
    if voting and v.community_manager and now >= row["vote_closes_at"]:
        acts.append("publish")
    if not voting and state in rules.TRANSITIONS["dispatch"][0] and (
            (level == "community" and v.community_manager) or (level == "street" and v.street_manager)):
        acts.append("dispatch")
    if v.handler_staff:
        acts += {"dispatched": ["accept", "return"], "accepted": ["note", "done", "return"]}.get(state, [])
    if v.reporter and state == "done" and row["done_by"] != actor_id:
        acts.append("rate")
    if not (v.reporter or v.follower or v.reader or v.street_manager or v.handler_staff) \
            and state not in ("merged", "rated"):
        acts.append("follow")  # offered to residents; the managers and the handler hear of it anyway
    if row["kind"] == "proposal" and (v.resident or v.community_manager) and state in rules.OPEN:
        acts.append("comment")
        if voting and now < row["vote_closes_at"] and v.resident:
            acts.append("vote")
    return acts


async def _vote(conn: asyncpg.Connection, row: asyncpg.Record, actor: Actor, now: datetime) -> Vote | None:
    if row["vote_closes_at"] is None:
        return None
    mine = await conn.fetchval(
        "select choice from case_votes where case_id = $1 and voter_key = $2", row["id"],
        rules.voter_key(actor.id, await _household(conn, actor.id)))
    published = row["result_published_at"] is not None
    return Vote(scope=row["vote_scope"], closes_at=row["vote_closes_at"], open=now < row["vote_closes_at"],
                yes=row["votes_yes"] if published else None, no=row["votes_no"] if published else None,
                published=published, my_vote=mine)


async def _case(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record, viewer: _Viewer | None = None,
                *, history: bool = False) -> Case:
    now = clock.now()
    viewer = viewer or await _viewer(conn, actor, row)
    category = (Category(row["category_id"], row["category_name"], row["deadline_hours"], row["category_active"])
                if row["category_id"] else None)
    events: list[CaseEvent] = []
    if history:
        event_rows = await conn.fetch(
            """Select e.id, e.act, e.actor_id, u.name as actor_name, e.from_state, e.to_state, e.note, e.data, e.at,
                      array(select p.id from case_photos p where p.event_id = e.id order by p.id) as photo_ids
               from case_events e left join users u on u.id = e.actor_id where e.case_id = $1 order by e.id""",
            row["id"])
        events = [CaseEvent(id=e["id"], act=e["act"], actor=PersonRef(e["actor_id"], e["actor_name"])
                            if e["actor_id"] else None, from_state=e["from_state"], to_state=e["to_state"],
                            note=e["note"], data=e["data"], at=e["at"], photo_ids=list(e["photo_ids"]))
                  for e in event_rows]
    return Case(
        id=row["id"], number=row["number"], source=row["source"], kind=row["kind"], title=row["title"],
        text=row["text"], place=row["place"], state=row["state"], level=row["level"], priority=row["priority"],
        category=category, reporter=PersonRef(row["reporter_id"], row["reporter_name"]),
        community=OrgRef(row["community_id"], row["community_name"]),
        grid=OrgRef(row["grid_id"], row["grid_name"]) if row["grid_id"] else None, street_id=row["street_id"],
        handler=OrgRef(row["handler_id"], row["handler_name"]) if row["handler_id"] else None,
        deadline=row["deadline"], overdue=_overdue(row, now), escalation=row["escalation"],
        reopened=row["reopened"], done_at=row["done_at"], closed_in_time=row["closed_in_time"],
        rating=row["rating"], merged_into=row["merged_into"], report_id=row["report_id"],
        meeting_note=row["meeting_note"], vote=await _vote(conn, row, actor, now),
        photo_ids=list(row["photo_ids"]), following=viewer.follower, can=_acts(row, viewer, actor.id, now),
        created_at=row["created_at"], history=events)


def _overdue(row: asyncpg.Record, now: datetime) -> bool:
    return row["state"] in ("dispatched", "accepted") and row["deadline"] is not None and row["deadline"] < now


async def _load(conn: asyncpg.Connection, case_id: int, *, lock: bool = False) -> asyncpg.Record:
    if lock:  # the case row alone
        await conn.execute("select 1 from cases where id = $1 for update", case_id)
    row = await conn.fetchrow(Q.case_with_names + " where k.id = $1", case_id)
    if row is None:
        raise not_found("case")
    return row


async def _visible(conn: asyncpg.Connection, actor: Actor, case_id: int, *,
                   lock: bool = False) -> tuple[asyncpg.Record, _Viewer]:
    row = await _load(conn, case_id, lock=lock)
    viewer = await _viewer(conn, actor, row)
    if not viewer.sees:
        raise not_found("case")
    return row, viewer


async def get_case(conn: asyncpg.Connection, actor: Actor, case_id: int) -> Case:
    row, viewer = await _visible(conn, actor, case_id)
    return await _case(conn, actor, row, viewer, history=True)


async def photo(conn: asyncpg.Connection, actor: Actor, case_id: int, photo_id: int) -> bytes:
    await _visible(conn, actor, case_id)
    jpeg = await conn.fetchval("select jpeg from case_photos where id = $1 and case_id = $2", photo_id, case_id)
    if jpeg is None:
        raise not_found("photo")
    return jpeg


VIEWS = ("mine", "community", "street", "handler", "proposals")


async def list_cases(conn: asyncpg.Connection, actor: Actor, *, view: str, org_id: int | None = None,
                     state: str | None = None, limit: int = 20, offset: int = 0) -> CasePage:
    """A queue. mine: my cases and those I follow. community / street (org_id): the cases of a
    community or the ones sent up to a street (its managers and those above). handler (org_id = a
    partner): the cases dispatched to it (its staff). proposals (org_id = a community): its residents'
    proposals. Open cases past their deadline come first, then the newest."""
    if view not in VIEWS:
        raise invalid("view", f"one of {', '.join(VIEWS)}")
    if state is not None and state not in rules.STATES and state not in ("open", "closed"):
        raise invalid("state", "a case state, open or closed")
    args: list[Any] = []
    if view == "mine":
        # A union, not an OR: each side uses its own index (an OR read every case: 5 s at 10^5, bench/README.md).
        where = """k.id in (select r.id from cases r where r.reporter_id = $1
                            union all select f.case_id from case_followers f where f.user_id = $1)"""
        args.append(actor.id)
    else:
        if org_id is None:
            raise invalid("org_id", "required for this view")
        args.append(org_id)
        if view == "community":
            orgs.require_reader(actor, org_id)
            where = "k.community_id = $1"
        elif view == "street":
            if not await _manages_street(conn, actor, org_id):
                raise forbidden("not a manager of this street")
            where = "k.street_id = $1 and k.level = 'street'"
        elif view == "handler":
            if not actor.is_admin and await conn.fetchval(
                    "select role from partner_staff where partner_id = $1 and user_id = $2", org_id, actor.id) is None:
                raise forbidden("not staff of this organisation")
            where = "k.handler_id = $1"
        else:
            if not (actor.reads(org_id) or await _is_resident(conn, actor.id, org_id)):
                raise forbidden("not a resident of this community")
            where = "k.community_id = $1 and k.kind = 'proposal' and k.state <> 'merged'"
    if state == "open":
        where += " and k.state in ('reported', 'sorted', 'dispatched', 'accepted', 'returned')"
    elif state == "closed":
        where += " and k.state in ('done', 'rated')"
    elif state is not None:
        args.append(state)
        where += f" and k.state = ${len(args)}"
    args += [clock.now(), limit + 1, offset, actor.id]
    n = len(args)
    order = f"(k.state in ('dispatched', 'accepted') and k.deadline < ${n - 3}) desc, k.id desc"
    # The page is cut first and joined after: names, photos and the viewer's relation to each case
    # are read for its 21 rows, not for every case of a street (bench/README.md).
    rows = await conn.fetch(
        Q.case_with_names.replace("from cases k", f"""
           , exists (select 1 from case_followers f where f.case_id = k.id and f.user_id = ${n}) as v_follower,
           exists (select 1 from partner_staff s where s.partner_id = k.handler_id and s.user_id = ${n}) as v_staff
           from (select * from cases k where {where} order by {order} limit ${n - 2} offset ${n - 1}) k""", 1)
        + f" order by {order}", *args)
    streets: dict[int, bool] = {}
    homes: dict[int, bool] = {}
    items = []
    for r in rows[:limit]:
        if r["street_id"] not in streets:
            streets[r["street_id"]] = await _manages_street(conn, actor, r["street_id"])
        resident = False
        if r["kind"] == "proposal":
            if r["community_id"] not in homes:
                homes[r["community_id"]] = await _is_resident(conn, actor.id, r["community_id"])
            resident = homes[r["community_id"]]
        viewer = _Viewer(reporter=r["reporter_id"] == actor.id, follower=r["v_follower"],
                         community_manager=actor.can_manage(r["community_id"]), reader=actor.reads(r["community_id"]),
                         street_manager=streets[r["street_id"]], handler_staff=r["v_staff"], resident=resident)
        items.append(await _case(conn, actor, r, viewer))
    return CasePage(items, str(offset + limit) if len(rows) > limit else None)


# ---- helpers for acts -----------------------------------------------------------------------

async def _event(conn: asyncpg.Connection, case_id: int, act: str, actor_id: int | None, *,
                 from_state: str | None = None, to_state: str | None = None, note: str | None = None,
                 data: dict | None = None) -> int:
    return await conn.fetchval(
        """Insert into case_events (case_id, act, actor_id, from_state, to_state, note, data, at)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning id""",
        case_id, act, actor_id, from_state, to_state, note, data, clock.now())


async def _move(conn: asyncpg.Connection, row: asyncpg.Record, act: str, actor_id: int | None, *,
                note: str | None = None, data: dict | None = None, event: str | None = None, **columns: Any) -> str:
    """Move the case by `act` (rules.next_state), set `columns`, write the event; returns the new state."""
    to = columns.pop("state", None) or rules.next_state(act, row["state"])
    sets = {"state": to, "updated_at": clock.now(), **columns}
    names = list(sets)
    await conn.execute(
        f"update cases set {', '.join(f'{c} = ${i + 2}' for i, c in enumerate(names))} where id = $1",
        row["id"], *[sets[c] for c in names])
    event = event or {"sort": "sorted", "merge": "merged", "send_up": "sent_up", "dispatch": "dispatched",
             "accept": "accepted", "return": "returned", "done": "done", "rate": "rated",
             "reopen": "reopened"}[act]
    await _event(conn, row["id"], event, actor_id, from_state=row["state"], to_state=to, note=note, data=data)
    return to


def _text(value: str | None, field: str, limit: int, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise invalid(field, "required")
        return None
    if len(text) > limit:
        raise invalid(field, f"at most {limit} characters")
    return text


async def _tell(conn: asyncpg.Connection, row: asyncpg.Record, kind: str, params: dict[str, object]) -> None:
    """The reporter and every follower: the outcome of what they raised (never a whole grid)."""
    people = await conn.fetch(
        "select $2::bigint as user_id union select user_id from case_followers where case_id = $1",
        row["id"], row["reporter_id"])
    for p in people:
        await notify.send(conn, p["user_id"], kind, community_id=row["community_id"],
                          params={"number": row["number"], "title": row["title"], **params},
                          link=f"/cases.html#case-{row['id']}")


async def _staff(conn: asyncpg.Connection, partner_id: int) -> list[int]:
    return [r["user_id"] for r in await conn.fetch("select user_id from partner_staff where partner_id = $1",
                                                   partner_id)]


async def _managers(conn: asyncpg.Connection, org_id: int) -> list[int]:
    return [r["user_id"] for r in await conn.fetch("select user_id from org_managers where org_id = $1", org_id)]


async def _household(conn: asyncpg.Connection, user_id: int) -> int | None:
    return await conn.fetchval("select household_id from household_members where user_id = $1", user_id)


async def amounts(conn: asyncpg.Connection, community_id: int) -> tuple[int, int]:
    """(reporter's bonus, handler's minutes) from the community's report settings (PUT
    /api/communities/{id}/report-settings), the defaults in rules.py when unset."""
    row = await conn.fetchrow("select case_bonus_points, handler_minutes from report_settings where community_id = $1",
                              community_id)
    bonus = row["case_bonus_points"] if row and row["case_bonus_points"] is not None else rules.DEFAULT_CASE_BONUS
    minutes = row["handler_minutes"] if row and row["handler_minutes"] is not None else rules.DEFAULT_HANDLER_MINUTES
    return bonus, minutes


async def _bonus(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> tuple[int, int | None]:
    """(points, rulebook item) of the reporter's bonus for a case closed in time: the rulebook's item
    for it (applies_to case_in_time) where the community's rulebook in force has one, its
    daily cap counting the bonuses paid to the reporter under that item today; else the report
    settings' amount (item None). The caller holds the reporter's account row, so two closures at
    once cannot both pass the cap."""
    from domain.recognition import rulebook  # recognition reads cases' figures; imported late
    from domain.recognition import rules as recognition_rules
    item = (await rulebook.items_for(conn, row["community_id"])).get(recognition_rules.CASE_IN_TIME)
    if item is None:
        bonus, _ = await amounts(conn, row["community_id"])
        return bonus, None
    if item.daily_cap is None:
        return item.points, item.id
    day = clock.local_day(now)
    paid = await conn.fetchval(
        """Select coalesce(sum(t.amount), 0) from cases k join transfers t on t.id = k.bonus_transfer_id
            where k.reporter_id = $1 and k.community_id = $2 and k.bonus_rule_item_id = $3
              and t.created_at >= $4 and t.created_at < $5""",
        row["reporter_id"], row["community_id"], item.id, clock.local_midnight(day),
        clock.local_midnight(day + timedelta(days=1)))
    return max(0, min(item.points, item.daily_cap - paid)), item.id


def _local_day(at: datetime) -> str:
    return clock.local_day(at).strftime("%Y%m%d")


async def _insert(conn: asyncpg.Connection, *, source: str, kind: str, report_id: int | None, reporter_id: int,
                  grid_id: int | None, community_id: int, title: str, text: str, place: str,
                  lat: float | None, lng: float | None, created_at: datetime) -> int:
    street_id = await conn.fetchval("select parent_id from orgs where id = $1", community_id)
    now = clock.now()
    case_id = await conn.fetchval(
        """Insert into cases (source, kind, report_id, reporter_id, grid_id, community_id, street_id, title, text,
                              place, lat, lng, state, created_at, updated_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'reported', $13, $14) returning id""",
        source, kind, report_id, reporter_id, grid_id, community_id, street_id, title, text, place, lat, lng,
        created_at, now)
    await conn.execute("update cases set number = $2 where id = $1", case_id, rules.number(_local_day(created_at), case_id))
    await conn.execute(
        """Insert into case_events (case_id, act, actor_id, to_state, at) values ($1, 'reported', $2, 'reported', $3)""",
        case_id, reporter_id, created_at)
    return case_id


# ---- opening --------------------------------------------------------------------------------

async def open_from_report(conn: asyncpg.Connection, report: asyncpg.Record) -> int:
    """A verified hazard report becomes a case in its community's queue (called by reports.verify, in
    its transaction). The report's photo is the case's first photo."""
    text = report["text"]
    title = text if len(text) <= 50 else text[:49] + "…"
    case_id = await _insert(conn, source="report", kind="hazard", report_id=report["id"],
                            reporter_id=report["courier_id"], grid_id=report["grid_id"],
                            community_id=report["community_id"], title=title, text=text, place=report["place"],
                            lat=report["lat"], lng=report["lng"], created_at=report["created_at"])
    await conn.execute(
        """Insert into case_photos (case_id, event_id, jpeg, width, height)
           select $1, (select min(id) from case_events where case_id = $1), p.jpeg, p.width, p.height
           from report_photos p where p.report_id = $2""", case_id, report["id"])
    return case_id


async def raise_case(conn: asyncpg.Connection, actor: Actor, new: NewCase) -> Case:
    """A resident's 提事: a problem or a proposal for the community they live in."""
    if new.kind not in ("problem", "proposal"):
        raise invalid("kind", "problem or proposal")
    title = _text(new.title, "title", 100)
    text = _text(new.text, "text", 1000)
    place = " ".join(new.place.split())
    if len(place) > 200:
        raise invalid("place", "at most 200 characters")
    homes = await conn.fetch(
        """Select case when o.kind = 'grid' then o.parent_id else o.id end as community_id,
                  case when o.kind = 'grid' then o.id end as grid_id
           from org_members m join orgs o on o.id = m.org_id where m.user_id = $1 order by m.created_at, o.id""",
        actor.id)
    if not homes:
        raise forbidden("only residents of a community raise a matter there")
    home = homes[0] if new.community_id is None else next(
        (h for h in homes if h["community_id"] == new.community_id), None)
    if home is None:
        raise DomainError("forbidden", field="community_id", details={"why": "not a resident of this community"})
    assert title is not None and text is not None
    async with conn.transaction():
        case_id = await _insert(conn, source="resident", kind=new.kind, report_id=None, reporter_id=actor.id,
                                grid_id=home["grid_id"], community_id=home["community_id"], title=title, text=text,
                                place=place, lat=None, lng=None, created_at=clock.now())
        await notify.send_to_managers(conn, home["community_id"], "case_new",
                                      params={"number": await conn.fetchval("select number from cases where id = $1",
                                                                            case_id), "title": title},
                                      link=f"/cases.html#case-{case_id}")
    return await get_case(conn, actor, case_id)


# ---- sorting (the community) ----------------------------------------------------------------

async def _community_act(conn: asyncpg.Connection, actor: Actor, case_id: int) -> asyncpg.Record:
    row, viewer = await _visible(conn, actor, case_id, lock=True)
    if not viewer.community_manager:
        raise forbidden("not a manager of this case's community")
    if row["level"] != "community":
        raise DomainError("invalid_state", details={"state": row["state"], "level": row["level"]})
    return row


async def _category(conn: asyncpg.Connection, street_id: int, category_id: int) -> asyncpg.Record:
    cat = await conn.fetchrow("select * from case_categories where id = $1 and street_id = $2", category_id, street_id)
    if cat is None or not cat["active"]:
        raise invalid("category_id", "an active category of this street")
    return cat


async def sort(conn: asyncpg.Connection, actor: Actor, case_id: int, *, category_id: int | None,
               priority: str | None, send_up: bool = False) -> Case:
    """梳理: set the category and priority; with send_up, pass it to the street to dispatch."""
    if priority is not None and priority not in rules.PRIORITIES:
        raise invalid("priority", "normal or urgent")
    async with conn.transaction():
        row = await _community_act(conn, actor, case_id)
        if send_up and row["vote_closes_at"] is not None and row["result_published_at"] is None:
            raise DomainError("invalid_state", details={"problem": "the vote is not published yet"})
        columns: dict[str, Any] = {}
        if category_id is not None:
            columns["category_id"] = (await _category(conn, row["street_id"], category_id))["id"]
        if priority is not None:
            columns["priority"] = priority
        if send_up:
            columns["level"] = "street"
        to = await _move(conn, row, "send_up" if send_up else "sort", actor.id, data=columns or None, **columns)
        await audit.record(conn, actor, "case_sort", community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"]}, after={"state": to, **columns})
        if send_up:
            for user_id in await _managers(conn, row["street_id"]):
                await notify.send(conn, user_id, "case_sent_up", community_id=row["community_id"],
                                  params={"number": row["number"], "title": row["title"]},
                                  link=f"/cases.html#case-{case_id}")
    return await get_case(conn, actor, case_id)


async def merge(conn: asyncpg.Connection, actor: Actor, case_id: int, into: int) -> Case:
    """A duplicate folds into another open case of the same community: its reporter follows that one."""
    if into == case_id:
        raise invalid("into", "another case")
    async with conn.transaction():
        # Both rows locked in id order, so two merges of a pair at once cannot deadlock.
        await conn.execute("select 1 from cases where id = any($1::bigint[]) order by id for update",
                           [case_id, into])
        row = await _community_act(conn, actor, case_id)
        target = await conn.fetchrow("select id, community_id, state from cases where id = $1", into)
        if target is None or target["community_id"] != row["community_id"]:
            raise invalid("into", "a case of the same community")
        if target["state"] not in rules.OPEN:
            raise DomainError("invalid_state", field="into", details={"state": target["state"]})
        await _move(conn, row, "merge", actor.id, data={"into": into}, merged_into=into)
        # The duplicate's reporter and followers follow the case it joined (its own reporter is told anyway).
        await conn.execute(
            """Insert into case_followers (case_id, user_id, created_at)
               select $1, p.user_id, $3::timestamptz
               from (select $2::bigint as user_id union select f.user_id from case_followers f where f.case_id = $4) p
               where p.user_id <> (select reporter_id from cases where id = $1)
               on conflict do nothing""", into, row["reporter_id"], clock.now(), case_id)
        await _event(conn, into, "merged_in", actor.id, data={"from": case_id})
        await audit.record(conn, actor, "case_merge", community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"]}, after={"merged_into": into})
        await _tell(conn, row, "case_progress", {"what": "case_merged"})
    return await get_case(conn, actor, case_id)


# ---- dispatch (吹哨派单) ------------------------------------------------------------------------

async def dispatch(conn: asyncpg.Connection, actor: Actor, case_id: int, *, handler_id: int,
                   category_id: int | None = None) -> Case:
    """The street (a case sent up) or the community (its own) names a handler; the deadline is the
    category's hours from now."""
    async with conn.transaction():
        row = await _load(conn, case_id, lock=True)
        viewer = await _viewer(conn, actor, row)
        allowed = viewer.street_manager if row["level"] == "street" else viewer.community_manager
        if not allowed:
            if not viewer.sees:
                raise not_found("case")
            raise forbidden("not a manager of the level this case waits at")
        if row["vote_closes_at"] is not None and row["result_published_at"] is None:
            raise DomainError("invalid_state", details={"problem": "the vote is not published yet"})
        rules.next_state("dispatch", row["state"])
        parent = row["street_id"] if row["level"] == "street" else row["community_id"]
        partner = await conn.fetchrow("select id, kind, name, parent_id from partners where id = $1", handler_id)
        if partner is None or partner["parent_id"] != parent or partner["kind"] not in rules.HANDLER_KINDS:
            raise invalid("handler_id", "a handling organisation of this street or community")
        category = await _category(conn, row["street_id"], category_id or row["category_id"] or 0) \
            if (category_id or row["category_id"]) else None
        if category is None:
            raise invalid("category_id", "required: the category sets the deadline")
        now = clock.now()
        deadline = rules.deadline_for(now, category["deadline_hours"])
        await _move(conn, row, "dispatch", actor.id, data={"handler_id": handler_id, "deadline": deadline.isoformat()},
                    handler_id=handler_id, category_id=category["id"], deadline=deadline, dispatched_by=actor.id,
                    escalation=0)
        await audit.record(conn, actor, "case_dispatch",
                           community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"], "handler_id": row["handler_id"]},
                           after={"handler_id": handler_id, "deadline": deadline.isoformat()})
        for user_id in await _staff(conn, handler_id):
            await notify.send(conn, user_id, "case_dispatched", community_id=row["community_id"],
                              params={"number": row["number"], "title": row["title"],
                                      "hours": category["deadline_hours"]}, link=f"/cases.html#case-{case_id}")
        await _tell(conn, row, "case_progress", {"what": "case_dispatched"})
    return await get_case(conn, actor, case_id)


# ---- handling (承接办理) ----------------------------------------------------------------------

async def _handler_act(conn: asyncpg.Connection, actor: Actor, case_id: int) -> asyncpg.Record:
    row, viewer = await _visible(conn, actor, case_id, lock=True)
    if not viewer.handler_staff:
        raise forbidden("not staff of this case's handler")
    return row


async def accept(conn: asyncpg.Connection, actor: Actor, case_id: int) -> Case:
    async with conn.transaction():
        row = await _handler_act(conn, actor, case_id)
        await _move(conn, row, "accept", actor.id)
        await audit.record(conn, actor, "case_handle", community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"]}, after={"state": "accepted"})
        await _tell(conn, row, "case_progress", {"what": "case_accepted"})
    return await get_case(conn, actor, case_id)


async def give_back(conn: asyncpg.Connection, actor: Actor, case_id: int, reason: str) -> Case:
    """退回: the handler returns the case (not theirs to handle) to the level that dispatched it."""
    note = _text(reason, "reason", 500)
    async with conn.transaction():
        row = await _handler_act(conn, actor, case_id)
        # The handler stays named (it sees what it gave back) until the next dispatch names another.
        await _move(conn, row, "return", actor.id, note=note, deadline=None)
        await audit.record(conn, actor, "case_handle", community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"], "handler_id": row["handler_id"]},
                           after={"state": "returned"}, reason=note)
        level_org = row["street_id"] if row["level"] == "street" else row["community_id"]
        for user_id in await _managers(conn, level_org):
            await notify.send(conn, user_id, "case_returned", community_id=row["community_id"],
                              params={"number": row["number"], "title": row["title"], "reason": note},
                              link=f"/cases.html#case-{case_id}")
    return await get_case(conn, actor, case_id)


async def prepare_photo(data: bytes) -> tuple[bytes, int, int]:
    jpeg = await asyncio.to_thread(photos.process_photo, data)
    with Image.open(io.BytesIO(jpeg)) as image:  # our own output: reading its header is safe
        width, height = image.size
    return jpeg, width, height


async def add_note(conn: asyncpg.Connection, actor: Actor, case_id: int, note: str | None,
                   photo: tuple[bytes, int, int] | None) -> Case:
    """A working note and/or a photo, by the handler's staff while they handle it (or its managers)."""
    text = _text(note, "note", 1000, required=photo is None)
    async with conn.transaction():
        row, viewer = await _visible(conn, actor, case_id, lock=True)
        if not (viewer.handler_staff or viewer.community_manager or viewer.street_manager):
            raise forbidden("only the handler and the managers add notes")
        if row["state"] not in rules.OPEN:
            raise DomainError("invalid_state", details={"state": row["state"]})
        event_id = await _event(conn, case_id, "note", actor.id, note=text)
        if photo:
            await conn.execute("insert into case_photos (case_id, event_id, jpeg, width, height) values ($1, $2, $3, $4, $5)",
                               case_id, event_id, *photo)
        await audit.record(conn, actor, "case_handle", community_id=row["community_id"], target=("case", case_id),
                           after={"note": bool(text), "photo": photo is not None})
    return await get_case(conn, actor, case_id)


async def mark_done(conn: asyncpg.Connection, actor: Actor, case_id: int, note: str | None) -> Case:
    """办结. Closed by its deadline, a courier's report earns its reporter a bonus now, from the
    community's issuing account (rules.bonus_due; never the reporter's own rating, and never paid to
    the one who marks it done)."""
    text = _text(note, "note", 1000, required=False)
    async with conn.transaction():
        row = await _handler_act(conn, actor, case_id)
        now = clock.now()
        in_time = rules.closed_in_time(now, row["deadline"])
        await _move(conn, row, "done", actor.id, note=text, done_at=now, done_by=actor.id, closed_in_time=in_time)
        bonus, rule_item_id = 0, None
        if rules.bonus_due(row["source"], in_time, row["bonus_transfer_id"] is not None) and row["reporter_id"] != actor.id:
            account = await ledger.user_account(conn, row["reporter_id"], "points", row["community_id"])
            await conn.execute("select 1 from accounts where id = $1 for update", account)
            bonus, rule_item_id = await _bonus(conn, row, now)
            if bonus:
                transfer = await ledger.post(
                    conn, unit="points",
                    debit=await ledger.org_account(conn, row["community_id"], "issuing", "points"),
                    credit=account, amount=bonus, kind="award", cause=("case", case_id), memo="上报事项按时办结奖励",
                    actor_id=actor.id, key=f"case:{case_id}:bonus")
                # The item it was paid under, which the credit's statement line names (rulebook.rules_of).
                await conn.execute("update cases set bonus_transfer_id = $2, bonus_rule_item_id = $3 where id = $1",
                                   case_id, transfer.id, rule_item_id)
        await audit.record(conn, actor, "case_handle", community_id=row["community_id"], target=("case", case_id),
                           before={"state": row["state"]},
                           after={"state": "done", "in_time": in_time, "bonus": bonus,
                                  **({"rule_item_id": rule_item_id} if rule_item_id else {})})
        await _tell(conn, row, "case_done", {})
        if bonus:
            await notify.send(conn, row["reporter_id"], "case_bonus", community_id=row["community_id"],
                              params={"number": row["number"], "points": bonus}, link=f"/cases.html#case-{case_id}")
    return await get_case(conn, actor, case_id)


# ---- feedback (评事) ---------------------------------------------------------------------------

async def rate(conn: asyncpg.Connection, actor: Actor, case_id: int, rating: str, comment: str | None = None) -> Case:
    """The reporter rates a done case. 不满意 reopens it once (back to its handler, a new deadline).
    A work unit's handler earns 双报到 service minutes for a case closed in time and rated well."""
    text = _text(comment, "comment", 500, required=False)
    async with conn.transaction():
        row, viewer = await _visible(conn, actor, case_id, lock=True)
        handled_by = [r["actor_id"] for r in await conn.fetch(
            "select distinct actor_id from case_events where case_id = $1 and act in ('accepted', 'done', 'note')",
            case_id)]
        rules.may_rate(actor.id, row["reporter_id"], handled_by)
        rules.next_state("rate", row["state"])
        outcome = rules.rate(rating, row["reopened"])
        if outcome.reopens:
            hours = row["deadline_hours"] or int((row["deadline"] - row["created_at"]).total_seconds() // 3600) or 24
            await _move(conn, row, "reopen", actor.id, note=text, data={"rating": rating},
                        rating=rating, rated_at=clock.now(), reopened=True, done_at=None, done_by=None,
                        closed_in_time=None, escalation=0,
                        deadline=rules.deadline_for(clock.now(), hours))
            for user_id in await _staff(conn, row["handler_id"]):
                await notify.send(conn, user_id, "case_dispatched", community_id=row["community_id"],
                                  params={"number": row["number"], "title": row["title"], "hours": hours},
                                  link=f"/cases.html#case-{case_id}")
        else:
            await _move(conn, row, "rate", actor.id, note=text, data={"rating": rating}, rating=rating,
                        rated_at=clock.now())
            partner_kind = row["handler_kind"]
            if rules.handler_minutes_due(partner_kind, row["closed_in_time"], rating) and row["done_by"] != actor.id:
                _, minutes = await amounts(conn, row["community_id"])
                if minutes:
                    await ledger.post(
                        conn, unit="minutes",
                        debit=await ledger.org_account(conn, row["community_id"], "issuing", "minutes"),
                        credit=await ledger.user_account(conn, row["done_by"], "minutes", row["community_id"]),
                        amount=minutes, kind="award", cause=("case", case_id), memo="双报到事项办理服务",
                        actor_id=actor.id, key=f"case:{case_id}:handler")
    return await get_case(conn, actor, case_id)


async def follow(conn: asyncpg.Connection, actor: Actor, case_id: int) -> Case:
    async with conn.transaction():
        row, viewer = await _visible(conn, actor, case_id)
        if viewer.reporter:
            raise DomainError("invalid_state", details={"problem": "the reporter is told anyway"})
        added = await conn.fetchval(
            "insert into case_followers (case_id, user_id, created_at) values ($1, $2, $3) on conflict do nothing "
            "returning user_id", case_id, actor.id, clock.now())
        if added:
            await _event(conn, case_id, "followed", actor.id)
    return await get_case(conn, actor, case_id)


# ---- proposals (议事, 定事) --------------------------------------------------------------------

async def comment(conn: asyncpg.Connection, actor: Actor, case_id: int, text: str) -> Case:
    body = _text(text, "text", 1000)
    async with conn.transaction():
        row, viewer = await _visible(conn, actor, case_id)
        if row["kind"] != "proposal" or not (viewer.resident or viewer.community_manager):
            raise forbidden("residents discuss their community's proposals")
        if row["state"] not in rules.OPEN:
            raise DomainError("invalid_state", details={"state": row["state"]})
        await _event(conn, case_id, "comment", actor.id, note=body)
    return await get_case(conn, actor, case_id)


async def meeting(conn: asyncpg.Connection, actor: Actor, case_id: int, note: str) -> Case:
    """议事: the community takes a proposal up and records its meeting's note."""
    body = _text(note, "note", 2000)
    async with conn.transaction():
        row = await _community_act(conn, actor, case_id)
        if row["kind"] != "proposal":
            raise DomainError("invalid_state", details={"problem": "only proposals are discussed"})
        await _move(conn, row, "sort", actor.id, note=body, event="meeting", meeting_note=body)
        await audit.record(conn, actor, "case_meeting", community_id=row["community_id"], target=("case", case_id),
                           after={"state": "sorted"})
    return await get_case(conn, actor, case_id)


async def open_vote(conn: asyncpg.Connection, actor: Actor, case_id: int, *, hours: int, scope: str) -> Case:
    """定事: put a proposal taken up to the vote of its grid's or community's households."""
    if scope not in ("grid", "community"):
        raise invalid("scope", "grid or community")
    if not rules.VOTE_HOURS[0] <= hours <= rules.VOTE_HOURS[1]:
        raise invalid("hours", f"{rules.VOTE_HOURS[0]} to {rules.VOTE_HOURS[1]}")
    async with conn.transaction():
        row = await _community_act(conn, actor, case_id)
        if row["kind"] != "proposal" or row["state"] != "sorted" or row["vote_closes_at"] is not None:
            raise DomainError("invalid_state", details={"state": row["state"], "problem": "a proposal taken up, not yet voted"})
        if scope == "grid" and row["grid_id"] is None:
            raise invalid("scope", "this proposal names no grid")
        closes = clock.now() + timedelta(hours=hours)
        await conn.execute("update cases set vote_scope = $2, vote_closes_at = $3, updated_at = $4 where id = $1",
                           case_id, scope, closes, clock.now())
        await _event(conn, case_id, "vote_opened", actor.id, data={"scope": scope, "closes_at": closes.isoformat()})
        await audit.record(conn, actor, "case_vote_open", community_id=row["community_id"], target=("case", case_id),
                           after={"scope": scope, "closes_at": closes.isoformat()})
    return await get_case(conn, actor, case_id)


async def vote(conn: asyncpg.Connection, actor: Actor, case_id: int, choice: str) -> Case:
    """One vote per household while the vote is open; a second from the same household is refused (409)."""
    if choice not in ("yes", "no"):
        raise invalid("choice", "yes or no")
    async with conn.transaction():
        row, viewer = await _visible(conn, actor, case_id, lock=True)
        if row["vote_closes_at"] is None or clock.now() >= row["vote_closes_at"]:
            raise DomainError("invalid_state", details={"problem": "no vote is open"})
        in_scope = await conn.fetchval(
            """Select exists (select 1 from org_members m join orgs o on o.id = m.org_id where m.user_id = $1
                              and (($3 = 'grid' and o.id = $4)
                                   or ($3 = 'community' and (o.id = $2 or (o.kind = 'grid' and o.parent_id = $2)))))""",
            actor.id, row["community_id"], row["vote_scope"], row["grid_id"])
        if not in_scope:
            raise forbidden("only residents of the vote's grid or community vote")
        key = rules.voter_key(actor.id, await _household(conn, actor.id))
        stored = await conn.fetchval(
            """Insert into case_votes (case_id, voter_key, user_id, choice, created_at) values ($1, $2, $3, $4, $5)
               on conflict (case_id, voter_key) do nothing returning voter_key""",
            case_id, key, actor.id, choice, clock.now())
        if stored is None:
            raise DomainError("conflict", details={"problem": "your household has voted", "rule": "one_vote_per_household"})
    return await get_case(conn, actor, case_id)


async def publish(conn: asyncpg.Connection, actor: Actor, case_id: int) -> Case:
    """After the vote closes, count it and publish the result to the community."""
    async with conn.transaction():
        row = await _community_act(conn, actor, case_id)
        if row["vote_closes_at"] is None or row["result_published_at"] is not None:
            raise DomainError("invalid_state", details={"problem": "no vote waits to be published"})
        if clock.now() < row["vote_closes_at"]:
            raise DomainError("invalid_state", details={"problem": "the vote is still open",
                                                        "closes_at": row["vote_closes_at"].isoformat()})
        counts = await conn.fetchrow(
            "select count(*) filter (where choice = 'yes')::int as yes, count(*) filter (where choice = 'no')::int as no "
            "from case_votes where case_id = $1", case_id)
        await conn.execute("update cases set votes_yes = $2, votes_no = $3, result_published_at = $4, updated_at = $4 "
                           "where id = $1", case_id, counts["yes"], counts["no"], clock.now())
        await _event(conn, case_id, "published", actor.id, data=dict(counts))
        await audit.record(conn, actor, "case_publish", community_id=row["community_id"], target=("case", case_id),
                           after=dict(counts))
        await _tell(conn, row, "case_progress", {"what": "case_published"})
    return await get_case(conn, actor, case_id)


# ---- categories (a street's table) ----------------------------------------------------------

async def categories(conn: asyncpg.Connection, actor: Actor, street_id: int) -> list[Category]:
    org = await orgs.get_org(conn, street_id)
    if org.kind != "street":
        raise invalid("street_id", "a street")
    if not (await _manages_street(conn, actor, street_id) or await conn.fetchval(
            PEOPLE.manages_a_community_under,
            street_id, list(actor.manages))):
        raise forbidden("not a manager of this street or below it")
    rows = await conn.fetch("select id, name, deadline_hours, active from case_categories where street_id = $1 "
                            "order by active desc, name, id", street_id)
    return [Category(**r) for r in rows]


async def set_category(conn: asyncpg.Connection, actor: Actor, street_id: int, *, name: str, deadline_hours: int,
                       active: bool = True) -> list[Category]:
    """Add a category or change one (by name): its deadline, or retire it."""
    org = await orgs.get_org(conn, street_id)
    if org.kind != "street":
        raise invalid("street_id", "a street")
    await orgs.require_level_manager(conn, actor, street_id)
    clean = _text(name, "name", 50)
    if not 1 <= deadline_hours <= 2160:
        raise invalid("deadline_hours", "1 to 2160")
    async with conn.transaction():
        before = await conn.fetchrow("select deadline_hours, active from case_categories where street_id = $1 and name = $2",
                                     street_id, clean)
        category_id = await conn.fetchval(
            """Insert into case_categories (street_id, name, deadline_hours, active, updated_by, updated_at)
               values ($1, $2, $3, $4, $5, $6)
               on conflict (street_id, name) do update set deadline_hours = $3, active = $4, updated_by = $5,
                   updated_at = $6 returning id""", street_id, clean, deadline_hours, active, actor.id, clock.now())
        await audit.record(conn, actor, "case_category", community_id=None, target=("case_category", category_id),
                           before=dict(before) if before else None,
                           after={"name": clean, "deadline_hours": deadline_hours, "active": active})
    return await categories(conn, actor, street_id)


# ---- escalation (the sweep) -----------------------------------------------------------------

async def _escalate(conn: asyncpg.Connection, case_id: int, now: datetime) -> int:
    row = await _load(conn, case_id, lock=True)
    if row["state"] not in ("dispatched", "accepted"):
        return 0
    level = rules.escalation_due(row["deadline"], row["escalation"], now)
    if level <= row["escalation"]:
        return 0
    await conn.execute("update cases set escalation = $2, updated_at = $3 where id = $1", case_id, level, now)
    district_id = await conn.fetchval("select parent_id from orgs where id = $1", row["street_id"])
    params = {"number": row["number"], "title": row["title"]}
    link = f"/cases.html#case-{case_id}"
    for step in range(row["escalation"] + 1, level + 1):
        await _event(conn, case_id, "escalated", None, data={"level": step})
        if step == 1:  # the handler is told first, and the street that dispatched it
            for user_id in await _staff(conn, row["handler_id"]):
                await notify.send(conn, user_id, "case_overdue", community_id=row["community_id"],
                                  params={**params, "level": "case_handler"}, link=link,
                                  dedup_key=f"case:{case_id}:{row['deadline'].isoformat()}:1")
            audience = await _managers(conn, row["street_id"])
            to = "case_street"
        else:
            audience = await _managers(conn, district_id)
            to = "case_district"
        for user_id in audience:
            await notify.send(conn, user_id, "case_escalated", community_id=row["community_id"],
                              params={**params, "level": to}, link=link,
                              dedup_key=f"case:{case_id}:{row['deadline'].isoformat()}:{step}")
    return 1


async def escalate_overdue(pool: asyncpg.Pool, now: datetime, *, case_ids: list[int] | None = None,
                           batch: int = 500) -> int:
    """Raise every overdue open case to the level it is due at (rules.escalation_due), each case in
    its own transaction. `case_ids` limits the sweep (tests own their rows)."""
    async with pool.acquire() as conn:
        ids = await conn.fetch(
            """Select id from cases where state in ('dispatched', 'accepted') and escalation < 2 and deadline <= $1
               and ($2::bigint[] is null or id = any($2::bigint[])) order by deadline limit $3""",
            now, case_ids, batch)
    done = 0
    for r in ids:
        case_id: int = r["id"]

        async def handle(conn: asyncpg.Connection, case_id: int = case_id) -> int:
            return await _escalate(conn, case_id, now)
        done += await sweeper.one_row(pool, "case_escalation", case_id, handle) or 0
    return done


async def sweep_escalations(pool: asyncpg.Pool, now: datetime) -> int:
    """The sweeper's round: every overdue case of the city."""
    return await escalate_overdue(pool, now)


SWEEPS = (sweep_escalations,)  # listed in api/capabilities.py


# ---- figures (dashboards, CSV) --------------------------------------------------------------

BY = ("grid", "community", "street", "handler")


def _figures(r: asyncpg.Record | dict) -> rules.Figures:
    median = r["median_hours"]
    return rules.Figures(opened=r["opened"], closed=r["closed"], closed_in_time=r["closed_in_time"],
                         overdue_open=r["overdue_open"],
                         median_hours_to_close=round(float(median), 1) if median is not None else None,
                         satisfied=r["satisfied"], fair=r["fair"], unsatisfied=r["unsatisfied"],
                         satisfaction=rules.satisfaction(r["satisfied"], r["fair"], r["unsatisfied"]))


async def figures(conn: asyncpg.Connection, actor: Actor, org_id: int, *, by: str | None = None,
                  since: date | None = None, until: date | None = None) -> FigureTable:
    """Cases opened, closed, closed in time, overdue, median hours to close and satisfaction, for the
    cases created in [since, until) (local days; default: this year so far) of a district, street or
    community, one row per grid, community, street or handler."""
    org = await orgs.get_org(conn, org_id)
    if org.kind == "community":
        orgs.require_reader(actor, org_id)
        scope, default_by = "k.community_id = $1", "grid"
    elif org.kind == "street":
        await orgs.require_level_manager(conn, actor, org_id)
        scope, default_by = "k.street_id = $1", "community"
    elif org.kind == "district":
        await orgs.require_level_manager(conn, actor, org_id)
        scope, default_by = "k.street_id in (select id from orgs where parent_id = $1)", "street"
    else:
        raise invalid("org_id", "a district, street or community")
    by = by or default_by
    if by not in BY:
        raise invalid("by", f"one of {', '.join(BY)}")
    today = clock.local_day(clock.now())
    since = since or date(today.year, 1, 1)
    until = until or today + timedelta(days=1)
    if until <= since:
        raise invalid("until", "after since")
    start, end = clock.local_midnight(since), clock.local_midnight(until)
    key = {"grid": "k.grid_id", "community": "k.community_id", "street": "k.street_id", "handler": "k.handler_id"}[by]
    args = (org_id, start, end, clock.now())
    # One scan: a row per group and, through the empty grouping set, the total.
    found = await conn.fetch(Q.figures.format(key=key, scope=scope, group=key), *args)
    rows = [r for r in found if not r["is_total"]]
    total = next((r for r in found if r["is_total"]), None) or {
        "opened": 0, "closed": 0, "closed_in_time": 0, "overdue_open": 0, "median_hours": None, "satisfied": 0,
        "fair": 0, "unsatisfied": 0}
    ids = [r["key"] for r in rows if r["key"] is not None]
    table = "partners" if by == "handler" else "orgs"
    names = {n["id"]: n["name"] for n in await conn.fetch(f"select id, name from {table} where id = any($1::bigint[])", ids)}
    out = [FigureRow(r["key"], names.get(r["key"], "") if r["key"] is not None else "", _figures(r)) for r in rows]
    out.sort(key=lambda f: (-f.figures.opened, f.name))
    return FigureTable(org_id=org_id, by=by, since=since, until=until, total=_figures(total), rows=out)


def figures_csv(table: FigureTable) -> bytes:
    header = ["名称", "受理", "办结", "按时办结", "超期未办", "办结用时中位数(小时)", "满意", "基本满意", "不满意", "满意率(%)"]

    def line(name: str, f: rules.Figures) -> list[object]:
        return [name, f.opened, f.closed, f.closed_in_time, f.overdue_open,
                "" if f.median_hours_to_close is None else f.median_hours_to_close, f.satisfied, f.fair,
                f.unsatisfied, "" if f.satisfaction is None else f.satisfaction]
    return ranking_rules.to_csv(header, [*(line(r.name or "—", r.figures) for r in table.rows),
                                         line("合计", table.total)])


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

"""双报到 and the city above the community.

- Work units (单位/党组织) hang under a street or district. Their administrators see their own
  confirmed members only: hours and points earned in any community, where each reported, and the
  unit's standing among the units of the same street or district.
- A person declares themself a (party) member of a unit and reports (报到) to the community and grid
  they live in; that community's managers approve or reject (audited). Approval makes the person a
  volunteer of the community: membership comes from the person's own request.
- Communities publish needs (需求清单) that reported members take on, and confirm each member's
  quarterly service card (服务登记卡); a street or district sets a yearly target of service hours.
- Street and district managers read every community below them (Actor.oversees) and compare them
  side by side; they change nothing inside a community unless they also manage it.
"""

from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from domain import notify
from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import invites, orgs
from domain.rankings import dashboard
from domain.rankings import rules as ranking_rules
from domain.units import needs, rules

Q = queries.load("units")


class Unit(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    kind: str
    parent_id: int
    parent_name: str
    is_admin: bool = False  # the viewer administers it


class Report(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    user_name: str
    phone: str | None           # masked
    unit_id: int
    unit_name: str
    party_member: bool
    community_id: int
    community_name: str
    grid_id: int | None
    grid_name: str | None
    state: str
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class MemberLine(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    name: str
    phone: str | None           # masked
    party_member: bool
    community_id: int | None    # where they reported (approved), if anywhere
    community_name: str | None
    report_state: str | None
    minutes: int                # earned in the quarter, in any community
    points: int
    minutes_year: int           # this year so far, against the target
    card_confirmed: bool        # a community confirmed their card for the quarter
    met_target: bool


class UnitRank(msgspec.Struct, frozen=True, kw_only=True):
    rank: int
    unit_id: int
    name: str
    minutes: int
    points: int
    members: int


class UnitView(msgspec.Struct, frozen=True, kw_only=True):
    unit: Unit
    quarter: str
    members: list[MemberLine]
    pending_claims: list[MemberLine]  # declared members the unit has not confirmed
    minutes: int
    points: int
    reported_rate: float        # 报到率, percent of confirmed members with an approved report
    target_minutes: int | None  # the yearly target set above the unit
    completion_rate: float      # 完成率, percent of confirmed members at or above the target
    rank: int | None
    units_ranked: int
    ranking: list[UnitRank]


class Need(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    community_id: int
    title: str
    description: str
    kind: str
    slots: int
    taken: int
    state: str
    mine: bool
    my_claim_id: int | None = None   # the viewer's live claim, and where it stands
    my_claim_state: str | None = None


class CommunityOverview(msgspec.Struct, frozen=True, kw_only=True):
    community_id: int
    name: str
    active_volunteers: int
    minutes: int
    points_issued: int
    points_redeemed: int
    redemption_wait_hours: float | None
    reports_verified: int
    reported_members: int


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    org_id: int
    org_name: str
    kind: str
    quarter: str
    communities: list[CommunityOverview]


class UnitServed(msgspec.Struct, frozen=True, kw_only=True):
    unit_id: int
    name: str
    reported: int
    served: int
    minutes: int
    points: int


class MyRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    quarter: str
    reports: list[Report]
    units: list[Unit]
    communities: list[dict[str, object]]  # per community: name, minutes, points, card_confirmed
    minutes: int
    points: int
    needs: list[dict[str, object]] = []  # needs the person served and the community confirmed, this quarter


# ---- units and their administrators -------------------------------------------------------------

def _quarter(quarter: str | None) -> ranking_rules.Quarter:
    return ranking_rules.parse_quarter(quarter) if quarter else clock.quarter_of(clock.now())


async def _level(conn: asyncpg.Connection, org_id: int) -> orgs.Org:
    org = await orgs.get_org(conn, org_id)
    if org.kind not in ("street", "district"):
        raise invalid("parent_id", "a street or a district")
    return org


async def create_unit(conn: asyncpg.Connection, actor: Actor, *, name: str, kind: str, parent_id: int) -> Unit:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 100:
        raise invalid("name", "1 to 100 characters")
    if kind not in rules.KINDS:
        raise invalid("kind", ", ".join(rules.KINDS))
    parent = await _level(conn, parent_id)
    await orgs.require_level_manager(conn, actor, parent_id)
    async with conn.transaction():
        unit_id = await conn.fetchval(
            "insert into units (name, kind, parent_id, created_at) values ($1, $2, $3, $4) returning id",
            name, kind, parent_id, clock.now())
        await audit.record(conn, actor, "unit_create", community_id=None, target=("unit", unit_id),
                           after={"name": name, "kind": kind, "parent_id": parent_id})
    return Unit(id=unit_id, name=name, kind=kind, parent_id=parent_id, parent_name=parent.name)


async def _unit(conn: asyncpg.Connection, unit_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select u.*, o.name as parent_name from units u join orgs o on o.id = u.parent_id "
                              "where u.id = $1", unit_id)
    if row is None:
        raise not_found("unit")
    return row


async def _require_unit_admin(conn: asyncpg.Connection, actor: Actor, unit_id: int) -> asyncpg.Record:
    unit = await _unit(conn, unit_id)
    if actor.is_admin or await conn.fetchval("select 1 from unit_admins where unit_id = $1 and user_id = $2",
                                             unit_id, actor.id):
        return unit
    raise forbidden("not an administrator of this unit")


async def grant_admin(conn: asyncpg.Connection, actor: Actor, unit_id: int, phone: str,
                      name: str | None = None) -> "invites.RoleInvite":
    """The street or district above the unit names its administrator by phone; the person accepts.
    The answer is the same whether the phone has an account or not (it names nobody the inviter did
    not name), and nobody administers a unit without having accepted."""
    return await invites.invite(conn, actor, kind="unit_admin", phone=phone, name=name or "单位管理员",
                                unit_id=unit_id)


async def list_units(conn: asyncpg.Connection, actor: Actor, *, under: int | None = None,
                     mine: bool = False) -> list[Unit]:
    """Units to choose from when reporting (any signed-in person may see names), or the viewer's own."""
    rows = await conn.fetch(
        """Select u.id, u.name, u.kind, u.parent_id, o.name as parent_name,
                  exists (select 1 from unit_admins a where a.unit_id = u.id and a.user_id = $3) as is_admin
           from units u join orgs o on o.id = u.parent_id
           where ($1::bigint is null or u.parent_id = $1 or o.parent_id = $1)
             and (not $2 or exists (select 1 from unit_admins a where a.unit_id = u.id and a.user_id = $3))
           order by u.name, u.id limit 500""", under, mine, actor.id)
    return [Unit(**dict(r)) for r in rows]


async def upload_roster(conn: asyncpg.Connection, actor: Actor, unit_id: int, data: bytes) -> dict[str, object]:
    """The unit's member list (phone, name): members who declare themselves and are on it are
    confirmed at once. Bad rows are listed by line; the good ones are stored (idempotent)."""
    await _require_unit_admin(conn, actor, unit_id)
    try:
        rows, problems = rules.parse_roster(data)
    except ValueError as exc:
        raise invalid("file", str(exc)) from None
    now = clock.now()
    async with conn.transaction():
        added = await conn.fetchval(
            """With incoming as (select * from unnest($2::text[], $3::text[]) as t(phone, name)),
                    inserted as (
                        insert into unit_roster (unit_id, phone, name, created_at)
                        select $1, phone, name, $4 from incoming on conflict (unit_id, phone) do nothing returning 1)
               select count(*) from inserted""",
            unit_id, [r.phone for r in rows], [r.name for r in rows], now)
        confirmed = await conn.execute(
            """Update unit_members m set confirmed = true from users u, unit_roster r
               where m.unit_id = $1 and not m.confirmed and u.id = m.user_id and r.unit_id = m.unit_id
                 and r.phone = u.phone""", unit_id)
        await audit.record(conn, actor, "unit_roster_upload", community_id=None, target=("unit", unit_id),
                           after={"rows": len(rows), "added": added, "problems": len(problems)})
    return {"rows": len(rows), "added": added, "confirmed": int(confirmed.split()[-1]),
            "problems": [{"line": p.line, "problem": p.problem} for p in problems]}


async def confirm_member(conn: asyncpg.Connection, actor: Actor, unit_id: int, user_id: int) -> None:
    await _require_unit_admin(conn, actor, unit_id)
    async with conn.transaction():
        if await conn.fetchval("update unit_members set confirmed = true where unit_id = $1 and user_id = $2 "
                               "and not confirmed returning true", unit_id, user_id) is None:
            raise not_found("member")
        await audit.record(conn, actor, "unit_member_confirm", community_id=None, target=("unit", unit_id),
                           after={"user_id": user_id})


# ---- 报到: a person reports to where they live ------------------------------------------------------

_REPORT_SQL = """
    select r.id, r.user_id, p.name as user_name, p.phone, r.unit_id, u.name as unit_name,
           coalesce(m.party_member, false) as party_member, r.community_id, c.name as community_name,
           r.grid_id, g.name as grid_name, r.state, r.reason, r.created_at, r.decided_at
    from unit_reports r join users p on p.id = r.user_id join units u on u.id = r.unit_id
    join orgs c on c.id = r.community_id left join orgs g on g.id = r.grid_id
    left join unit_members m on m.unit_id = r.unit_id and m.user_id = r.user_id"""


def _report(row: asyncpg.Record) -> Report:
    values = dict(row)
    values["phone"] = ranking_rules.mask_phone(values["phone"])
    return Report(**values)


async def _get_report(conn: asyncpg.Connection, report_id: int) -> Report:
    row = await conn.fetchrow(_REPORT_SQL + " where r.id = $1", report_id)
    if row is None:
        raise not_found("report")
    return _report(row)


async def declare(conn: asyncpg.Connection, actor: Actor, *, unit_id: int, community_id: int,
                  grid_id: int | None, party_member: bool) -> Report:
    """I am a member of this unit, and I report to the community (and grid) where I live."""
    await _unit(conn, unit_id)
    community = await orgs.get_org(conn, community_id)
    if community.kind != "community":
        raise invalid("community_id", "a community")
    if grid_id is not None:
        grid = await orgs.get_org(conn, grid_id)
        if grid.kind != "grid" or grid.parent_id != community_id:
            raise invalid("grid_id", "a grid of the chosen community")
    now = clock.now()
    async with conn.transaction():
        on_roster = await conn.fetchval(
            "select exists (select 1 from unit_roster r join users u on u.phone = r.phone "
            "where r.unit_id = $1 and u.id = $2)", unit_id, actor.id)
        await conn.execute(
            """Insert into unit_members (unit_id, user_id, party_member, confirmed, created_at)
               values ($1, $2, $3, $4, $5)
               on conflict (unit_id, user_id) do update set party_member = excluded.party_member,
                   confirmed = unit_members.confirmed or excluded.confirmed""",
            unit_id, actor.id, party_member, on_roster, now)
        report_id = await conn.fetchval(
            """Insert into unit_reports (user_id, unit_id, community_id, grid_id, state, created_at)
               values ($1, $2, $3, $4, 'pending', $5)
               on conflict (user_id) where state in ('pending', 'approved') do nothing returning id""",
            actor.id, unit_id, community_id, grid_id, now)
        if report_id is None:
            raise DomainError("invalid_state", details={"why": "already_reported"})
    return await _get_report(conn, report_id)


async def withdraw(conn: asyncpg.Connection, actor: Actor) -> None:
    """Moving house: the current report ends and the person may report elsewhere (none: nothing to do)."""
    await conn.execute("update unit_reports set state = 'withdrawn' where user_id = $1 "
                       "and state in ('pending', 'approved')", actor.id)


async def reports_queue(conn: asyncpg.Connection, actor: Actor, community_id: int,
                        state: str = "pending") -> list[Report]:
    orgs.require_manager(actor, community_id)
    if state not in ("pending", "approved", "rejected", "withdrawn"):
        raise invalid("state", "pending, approved, rejected or withdrawn")
    rows = await conn.fetch(_REPORT_SQL + " where r.community_id = $1 and r.state = $2 order by r.id limit 500",
                            community_id, state)
    return [_report(r) for r in rows]


async def decide(conn: asyncpg.Connection, actor: Actor, report_id: int, *, approve: bool,
                 reason: str | None = None) -> Report:
    """A manager of the community confirms (or turns down, with a reason) a person's 报到."""
    reason = " ".join((reason or "").split()) or None
    if not approve and not reason:
        raise invalid("reason", "required when rejecting")
    if reason and len(reason) > 500:
        raise invalid("reason", "at most 500 characters")
    async with conn.transaction():
        row = await conn.fetchrow("select * from unit_reports where id = $1 for update", report_id)
        if row is None:
            raise not_found("report")
        orgs.require_manager(actor, row["community_id"])
        if row["user_id"] == actor.id:
            raise forbidden("nobody decides on their own report")
        if row["state"] != "pending":
            raise DomainError("invalid_state", details={"state": row["state"]})
        now = clock.now()
        await conn.execute("update unit_reports set state = $2, reason = $3, decided_by = $4, decided_at = $5 "
                           "where id = $1", report_id, "approved" if approve else "rejected", reason, actor.id, now)
        if approve:  # the person asked to serve where they live: they become a volunteer there
            await conn.execute("insert into org_members (org_id, user_id, role) values ($1, $2, 'volunteer') "
                               "on conflict do nothing", row["community_id"], row["user_id"])
        await audit.record(conn, actor, "unit_report_approve" if approve else "unit_report_reject",
                           community_id=row["community_id"], target=("unit_report", report_id),
                           after={"user_id": row["user_id"], "unit_id": row["unit_id"]}, reason=reason)
        # Declined, the message opens the form to report again; confirmed, the page's status.
        await notify.send(conn, row["user_id"], "baodao_approved" if approve else "baodao_rejected",
                          community_id=row["community_id"], params={"reason": reason or ""},
                          link="/baodao.html" if approve else "/baodao.html#baodao-form-card")
    return await _get_report(conn, report_id)


# ---- what each side sees ------------------------------------------------------------------------

async def _target(conn: asyncpg.Connection, parent_id: int, year: int) -> int | None:
    """The target set by the unit's street or district, or by the district above its street."""
    return await conn.fetchval(
        """Select t.minutes from service_targets t join orgs o on o.id = $1
           where t.year = $2 and (t.org_id = o.id or t.org_id = o.parent_id)
           order by (t.org_id = o.id) desc limit 1""", parent_id, year)


async def unit_ranking(conn: asyncpg.Connection, parent_id: int, quarter: ranking_rules.Quarter) -> list[UnitRank]:
    """Units of one street or district by their confirmed members' service minutes in the quarter
    (points break no ties: equal minutes share a rank, as every ranking does)."""
    rows = await conn.fetch(Q.unit_totals, parent_id, quarter.first_day, quarter.end_day)
    ranks = ranking_rules.competition_ranks([r["minutes"] for r in rows])
    return [UnitRank(rank=rank, **dict(r)) for rank, r in zip(ranks, rows)]


async def unit_view(conn: asyncpg.Connection, actor: Actor, unit_id: int, quarter: str | None = None) -> UnitView:
    unit = await _require_unit_admin(conn, actor, unit_id)
    q = _quarter(quarter)
    year_start = date(q.year, 1, 1)
    rows = await conn.fetch(Q.unit_members_quarter, unit_id, q.first_day, q.end_day, year_start, str(q))
    target = await _target(conn, unit["parent_id"], q.year)

    def line(r: asyncpg.Record) -> MemberLine:
        return MemberLine(user_id=r["user_id"], name=r["name"], phone=ranking_rules.mask_phone(r["phone"]),
                          party_member=r["party_member"], community_id=r["community_id"],
                          community_name=r["community_name"], report_state=r["report_state"], minutes=r["minutes"],
                          points=r["points"], minutes_year=r["minutes_year"], card_confirmed=r["card_confirmed"],
                          met_target=rules.met_target(r["minutes_year"], target))
    members = [line(r) for r in rows if r["confirmed"]]
    ranking = await unit_ranking(conn, unit["parent_id"], q)
    mine = next((u for u in ranking if u.unit_id == unit_id), None)
    return UnitView(
        unit=Unit(id=unit["id"], name=unit["name"], kind=unit["kind"], parent_id=unit["parent_id"],
                  parent_name=unit["parent_name"], is_admin=True),
        quarter=str(q), members=members, pending_claims=[line(r) for r in rows if not r["confirmed"]],
        minutes=sum(m.minutes for m in members), points=sum(m.points for m in members),
        reported_rate=rules.rate(sum(m.report_state == "approved" for m in members), len(members)),
        target_minutes=target, completion_rate=rules.rate(sum(m.met_target for m in members), len(members)),
        rank=mine.rank if mine else None, units_ranked=len(ranking), ranking=ranking)


def unit_csv(view: UnitView) -> bytes:
    header = ["姓名", "手机号", "党员", "报到社区", "报到状态", f"{view.quarter} 服务时长(小时)", f"{view.quarter} 积分",
              "本年累计时长(小时)", "服务卡已确认", "达到年度目标"]
    state = {"approved": "已报到", "pending": "待确认", None: "未报到"}
    rows = ([m.name, m.phone, "是" if m.party_member else "否", m.community_name or "", state.get(m.report_state, ""),
             f"{m.minutes / 60:.1f}", m.points, f"{m.minutes_year / 60:.1f}", "是" if m.card_confirmed else "否",
             "是" if m.met_target else "否"] for m in view.members)
    return ranking_rules.to_csv(header, rows)


async def set_target(conn: asyncpg.Connection, actor: Actor, org_id: int, year: int, minutes: int) -> None:
    await _level(conn, org_id)
    await orgs.require_level_manager(conn, actor, org_id)
    if not 0 <= minutes <= 100_000:
        raise invalid("minutes", "0 to 100000")
    if not 2000 <= year <= 2100:
        raise invalid("year", "2000 to 2100")
    async with conn.transaction():
        await conn.execute(
            """Insert into service_targets (org_id, year, minutes, set_by, set_at) values ($1, $2, $3, $4, $5)
               on conflict (org_id, year) do update set minutes = excluded.minutes, set_by = excluded.set_by,
                   set_at = excluded.set_at""", org_id, year, minutes, actor.id, clock.now())
        await audit.record(conn, actor, "service_target_set", community_id=None, target=("org", org_id),
                           after={"year": year, "minutes": minutes})


async def units_served(conn: asyncpg.Connection, actor: Actor, community_id: int,
                       quarter: str | None = None) -> list[UnitServed]:
    """For a community: which units' members reported here, and what they served here this quarter."""
    orgs.require_reader(actor, community_id)
    q = _quarter(quarter)
    rows = await conn.fetch(Q.units_served, community_id, q.first_day, q.end_day)
    return [UnitServed(**dict(r)) for r in rows]


async def party_member_ids(conn: asyncpg.Connection, unit_id: int | None = None) -> set[int]:
    """Confirmed party members (of one unit, or of any): the filter behind rankings' party scope."""
    rows = await conn.fetch("select user_id from unit_members where party_member and confirmed "
                            "and ($1::bigint is null or unit_id = $1)", unit_id)
    return {r["user_id"] for r in rows}


async def unit_member_ids(conn: asyncpg.Connection, unit_id: int) -> set[int]:
    return {r["user_id"] for r in await conn.fetch(
        "select user_id from unit_members where unit_id = $1 and confirmed", unit_id)}


# ---- needs list and service cards ----------------------------------------------------------------

async def create_need(conn: asyncpg.Connection, actor: Actor, community_id: int, *, title: str, description: str,
                      kind: str, slots: int) -> Need:
    orgs.require_manager(actor, community_id)
    title = " ".join((title or "").split())
    if not 1 <= len(title) <= 100:
        raise invalid("title", "1 to 100 characters")
    if len(description or "") > 1000:
        raise invalid("description", "at most 1000 characters")
    if kind not in ("post", "duty", "activity"):
        raise invalid("kind", "post, duty or activity")
    if not 1 <= slots <= 1000:
        raise invalid("slots", "1 to 1000")
    async with conn.transaction():
        need_id = await conn.fetchval(
            """Insert into community_needs (community_id, title, description, kind, slots, created_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7) returning id""",
            community_id, title, description or "", kind, slots, actor.id, clock.now())
        await audit.record(conn, actor, "need_create", community_id=community_id, target=("need", need_id),
                           after={"title": title, "slots": slots})
    return (await list_needs(conn, actor, community_id, need_id=need_id))[0]


async def close_need(conn: asyncpg.Connection, actor: Actor, need_id: int) -> None:
    async with conn.transaction():
        community_id = await conn.fetchval("select community_id from community_needs where id = $1 for update", need_id)
        if community_id is None:
            raise not_found("need")
        orgs.require_manager(actor, community_id)
        await conn.execute("update community_needs set state = 'closed' where id = $1", need_id)
        await audit.record(conn, actor, "need_close", community_id=community_id, target=("need", need_id))


async def _may_see_needs(conn: asyncpg.Connection, actor: Actor, community_id: int) -> bool:
    return actor.reads(community_id) or bool(await conn.fetchval(
        """Select exists (select 1 from unit_reports where user_id = $1 and community_id = $2 and state = 'approved')
                  or exists (select 1 from org_members m join orgs o on o.id = m.org_id
                             where m.user_id = $1 and (o.id = $2 or o.parent_id = $2))""", actor.id, community_id))


async def list_needs(conn: asyncpg.Connection, actor: Actor, community_id: int, *,
                     need_id: int | None = None) -> list[Need]:
    if not await _may_see_needs(conn, actor, community_id):
        raise forbidden("not a member of this community")
    rows = await conn.fetch(
        """Select n.id, n.community_id, n.title, n.description, n.kind, n.slots, n.state,
                  (select count(*) from need_claims c where c.need_id = n.id and c.state = any($4::text[]))::int as taken,
                  m.id is not null as mine, m.id as my_claim_id, m.state as my_claim_state
           from community_needs n
           left join need_claims m on m.need_id = n.id and m.user_id = $2 and m.state = any($4::text[]) where n.community_id = $1 and ($3::bigint is null or n.id = $3)
           order by n.state, n.id desc limit 200""", community_id, actor.id, need_id, list(needs.LIVE))
    return [Need(**dict(r)) for r in rows]


async def claim_need(conn: asyncpg.Connection, actor: Actor, need_id: int) -> Need:
    """A member who reported to the community takes on one of its needs (while places remain)."""
    async with conn.transaction():
        need = await conn.fetchrow("select * from community_needs where id = $1 for update", need_id)
        if need is None:
            raise not_found("need")
        unit_id = await conn.fetchval("select unit_id from unit_reports where user_id = $1 and community_id = $2 "
                                      "and state = 'approved'", actor.id, need["community_id"])
        if unit_id is None:
            raise forbidden("report to this community first")
        if need["state"] != "open":
            raise DomainError("invalid_state", details={"state": need["state"]})
        taken = await conn.fetchval("select count(*) from need_claims where need_id = $1 and state = any($2::text[])",
                                    need_id, list(needs.LIVE))
        if taken >= need["slots"]:
            raise DomainError("capacity_full")
        # a declined or unserved claim of the same person is history: they may take the place again
        await conn.execute("insert into need_claims (need_id, user_id, unit_id, created_at) values ($1, $2, $3, $4) "
                           "on conflict do nothing", need_id, actor.id, unit_id, clock.now())
    return (await list_needs(conn, actor, need["community_id"], need_id=need_id))[0]


async def confirm_card(conn: asyncpg.Connection, actor: Actor, community_id: int, user_id: int,
                       quarter: str) -> dict[str, Any]:
    """The community confirms what a reported member served there in a quarter: a snapshot the
    member's unit reads. Nobody confirms their own card."""
    orgs.require_manager(actor, community_id)
    if user_id == actor.id:
        raise forbidden("nobody confirms their own service card")
    q = ranking_rules.parse_quarter(quarter)
    async with conn.transaction():
        if not await conn.fetchval("select 1 from unit_reports where user_id = $1 and community_id = $2 "
                                   "and state = 'approved'", user_id, community_id):
            raise not_found("report")
        totals = await conn.fetchrow(
            """Select coalesce(sum(earned) filter (where unit = 'minutes'), 0)::bigint as minutes,
                      coalesce(sum(earned) filter (where unit = 'points'), 0)::bigint as points
               from earned_quarterly where user_id = $1 and community_id = $2 and quarter >= $3 and quarter < $4""",
            user_id, community_id, q.first_day, q.end_day)
        await conn.execute(
            """Insert into service_cards (user_id, community_id, quarter, minutes, points, confirmed_by, confirmed_at)
               values ($1, $2, $3, $4, $5, $6, $7)
               on conflict (user_id, community_id, quarter) do update set minutes = excluded.minutes,
                   points = excluded.points, confirmed_by = excluded.confirmed_by, confirmed_at = excluded.confirmed_at""",
            user_id, community_id, str(q), totals["minutes"], totals["points"], actor.id, clock.now())
        await audit.record(conn, actor, "service_card_confirm", community_id=community_id, target=("user", user_id),
                           after={"quarter": str(q), "minutes": totals["minutes"], "points": totals["points"]})
    return {"quarter": str(q), "minutes": totals["minutes"], "points": totals["points"]}


async def my_record(conn: asyncpg.Connection, actor: Actor, quarter: str | None = None) -> MyRecord:
    """A person's own 报到 status and service record for a quarter (printable for 民主评议)."""
    q = _quarter(quarter)
    reports = [_report(r) for r in await conn.fetch(_REPORT_SQL + " where r.user_id = $1 order by r.id desc limit 20",
                                                    actor.id)]
    units = await conn.fetch(
        """Select u.id, u.name, u.kind, u.parent_id, o.name as parent_name from unit_members m
           join units u on u.id = m.unit_id join orgs o on o.id = u.parent_id where m.user_id = $1""", actor.id)
    per_community = await conn.fetch(
        """Select c.id as community_id, c.name,
                  coalesce(sum(e.earned) filter (where e.unit = 'minutes'), 0)::bigint as minutes,
                  coalesce(sum(e.earned) filter (where e.unit = 'points'), 0)::bigint as points,
                  exists (select 1 from service_cards s where s.user_id = $1 and s.community_id = c.id
                          and s.quarter = $4) as card_confirmed
           from earned_quarterly e join orgs c on c.id = e.community_id
           where e.user_id = $1 and e.quarter >= $2 and e.quarter < $3 group by c.id order by c.name""",
        actor.id, q.first_day, q.end_day, str(q))
    return MyRecord(name=actor.name, quarter=str(q), reports=reports, units=[Unit(**dict(u)) for u in units],
                    communities=[dict(r) for r in per_community], minutes=sum(r["minutes"] for r in per_community),
                    points=sum(r["points"] for r in per_community),
                    needs=await needs.served_on_card(conn, actor.id, q.first_day, q.end_day))


# ---- the street's and district's view ---------------------------------------------------------------

async def overview(conn: asyncpg.Connection, actor: Actor, org_id: int, quarter: str | None = None) -> Overview:
    """Every community below a street or district, side by side for one quarter (read-only)."""
    level = await _level(conn, org_id)
    await orgs.require_level_manager(conn, actor, org_id)
    communities = await conn.fetch(
        """Select c.id, c.name from orgs c
           where c.kind = 'community' and (c.parent_id = $1 or c.parent_id in (select id from orgs where parent_id = $1))
           order by c.name, c.id""", org_id)
    q = _quarter(quarter)
    tz = clock.zone()
    starts, ends = q.bounds(tz)
    ids = [c["id"] for c in communities]
    rows = await conn.fetch(Q.community_figures, ids, q.first_day, q.end_day, starts, ends)
    figures = {r["id"]: r for r in rows}
    redeemed = await dashboard.points_redeemed(conn, ids, starts, ends)  # the dashboard's own definition
    return Overview(org_id=org_id, org_name=level.name, kind=level.kind, quarter=str(q), communities=[
        CommunityOverview(community_id=c["id"], name=c["name"], active_volunteers=figures[c["id"]]["active_volunteers"],
                          minutes=figures[c["id"]]["minutes"], points_issued=figures[c["id"]]["points_issued"],
                          points_redeemed=redeemed[c["id"]],
                          redemption_wait_hours=float(w) if (w := figures[c["id"]]["redemption_wait_hours"]) is not None
                          else None,
                          reports_verified=figures[c["id"]]["reports_verified"],
                          reported_members=figures[c["id"]]["reported_members"])
        for c in communities])


async def levels_of(conn: asyncpg.Connection, actor: Actor) -> list[dict[str, Any]]:
    """The streets and districts this person manages (their entry points to the aggregate view)."""
    rows = await conn.fetch("""select o.id, o.name, o.kind from org_managers m join orgs o on o.id = m.org_id
                               where m.user_id = $1 and o.kind in ('street', 'district') order by o.kind, o.name""",
                            actor.id)
    return [dict(r) for r in rows]


async def units_ranking_view(conn: asyncpg.Connection, actor: Actor, org_id: int,
                             quarter: str | None = None) -> list[UnitRank]:
    """The ranking of a street's or district's units, for its managers."""
    await _level(conn, org_id)
    await orgs.require_level_manager(conn, actor, org_id)
    return await unit_ranking(conn, org_id, _quarter(quarter))


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

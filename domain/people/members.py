"""Members of a community, as its managers run them: list, invite by phone, assign a grid,
deactivate and reactivate, look one up; and the admin's search for people.

Privacy (PIPL): a phone number is shown in full only to its owner and to managers of a community
the person belongs to; everyone else (other members, admins acting platform-wide) sees 138****1234.
Other members see only name, masked phone and role; balances and states are for managers.
Searching by phone is offered only to those who would see the phones they search.

Every change writes one audit row in its own transaction (domain/audit.py).
"""

import csv
import io
from datetime import datetime

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock, outbox, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.people import auth, orgs

CSV_PAGE = 1_000  # people per page of the streamed CSV export
Q = queries.load("people")


class Member(msgspec.Struct, frozen=True):
    id: int
    name: str
    phone: str | None            # full or masked, by the rule above; None once an account is closed
    phone_masked: bool
    roles: list[str]             # volunteer and/or courier in this community
    grid_id: int | None = None   # the courier's grid; the fields below only for managers and admins
    grid_name: str | None = None
    active: bool | None = None
    closed: bool | None = None
    claimed: bool | None = None  # has the invited person set a password yet
    joined_at: datetime | None = None
    points: int | None = None    # available balances
    minutes: int | None = None


class MemberPage(msgspec.Struct, frozen=True):
    items: list[Member]
    next_cursor: str | None


class Membership(msgspec.Struct, frozen=True):
    org_id: int
    org_name: str
    kind: str
    role: str
    community_id: int
    community_name: str
    joined_at: datetime


class TeamRef(msgspec.Struct, frozen=True):
    id: int
    name: str
    community_id: int


class MemberDetail(msgspec.Struct, frozen=True):
    id: int
    name: str
    phone: str | None
    phone_masked: bool
    active: bool
    closed: bool
    claimed: bool
    created_at: datetime
    memberships: list[Membership]
    teams: list[TeamRef]
    manages: list[int]
    balances: dict[str, ledger.Balance]
    id_number_masked: str | None = None   # managers see the ID number only masked
    volunteer_number: str | None = None
    medals: list[str] = []                # the medals the person holds (not revoked)


class Invited(msgspec.Struct, frozen=True):
    """The answer to an invitation by phone. For any phone outside the inviter's communities it is the
    same, byte for byte: `{"member": null, "already_member": false, "pending": true}`,
    whether the number is registered, unregistered, deactivated or closed."""
    member: Member | None    # None while an invitation waits for the person's consent
    already_member: bool     # nothing changed
    pending: bool = False    # an invitation waits for the person (registered or not): they accept or not


class Invitation(msgspec.Struct, frozen=True):
    """An invitation as its person sees it (GET /api/me/invitations)."""
    id: int
    community_id: int
    community_name: str
    org_id: int
    role: str
    invited_by: str
    state: str
    created_at: datetime


class Invitations(msgspec.Struct, frozen=True):
    items: list[Invitation]


class PersonHit(msgspec.Struct, frozen=True):
    id: int
    name: str
    phone: str | None
    phone_masked: bool
    active: bool
    closed: bool
    is_admin: bool
    communities: list[str]


class PeoplePage(msgspec.Struct, frozen=True):
    items: list[PersonHit]
    next_cursor: str | None


# ---- the phone rule ---------------------------------------------------------------------------

def sees_full_phone(viewer: Actor, person_id: int, person_communities: "set[int] | list[int]") -> bool:
    """The person themself, or a manager of one of the person's communities."""
    return viewer.id == person_id or bool(set(person_communities) & viewer.manages)


def shown_phone(viewer: Actor, person_id: int, phone: str | None,
                person_communities: "set[int] | list[int]") -> tuple[str | None, bool]:
    """(phone as this viewer may see it, whether it is masked). Reusable by any listing or export."""
    if sees_full_phone(viewer, person_id, person_communities):
        return phone, False
    return auth.mask_phone(phone), phone is not None


async def audit_phone_view(conn: asyncpg.Connection, viewer: Actor, community_id: int | None,
                           target: tuple[str, int | None], user_ids: list[int], *, ip: str | None = None,
                           what: str) -> None:
    """Every look at someone else's full phone number leaves one audit row: who looked,
    at whose numbers, in which view. Nothing is written when no full number of another person was shown."""
    others = [u for u in user_ids if u != viewer.id]
    if not others:
        return
    after = {"view": what, "count": len(others)}
    if len(others) <= 100:
        after["user_ids"] = others
    async with conn.transaction():
        await audit.record(conn, viewer, "phone_view", community_id=community_id, target=target, after=after, ip=ip)


# ---- listing ----------------------------------------------------------------------------------

async def _community(conn: asyncpg.Connection, community_id: int) -> orgs.Org:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise DomainError("not_found", details={"what": "community"})
    return org


async def _viewer_scope(conn: asyncpg.Connection, viewer: Actor, community_id: int) -> bool:
    """True for the community's managers and admins (full view); False for its members; else 403."""
    await _community(conn, community_id)
    if viewer.can_manage(community_id):
        return True
    if community_id in await orgs.member_communities(conn, viewer.id):
        return False
    raise forbidden("not a member of this community")


async def _rows(conn: asyncpg.Connection, community_id: int, *, role: str | None, term: str | None, phones: bool,
                full: bool, after: int, n: int) -> list[asyncpg.Record]:
    """The next n members after `after`, by id: of a role, matching a term (in the phone too when
    `phones`), everyone or (not `full`) only the active. Without a filter on the person the page's
    people are cut first (queries.sql says why)."""
    if role is None and term is None and full:
        return await conn.fetch(Q.community_members_page, community_id, after, n)
    return await conn.fetch(Q.community_members, community_id, role, term, phones, full, after, n)


def _member(viewer: Actor, community_id: int, row: asyncpg.Record, full: bool) -> Member:
    phone, masked = shown_phone(viewer, row["id"], row["phone"], {community_id})
    base = dict(id=row["id"], name=row["name"], phone=phone, phone_masked=masked, roles=list(row["roles"]))
    if not full:
        return Member(**base)
    return Member(**base, grid_id=row["grid_id"], grid_name=row["grid_name"], active=row["active"],
                  closed=row["closed"], claimed=row["claimed"], joined_at=row["joined_at"], points=row["points"],
                  minutes=row["minutes"])


def _search_term(q: str | None) -> str | None:
    q = " ".join((q or "").split())
    if len(q) > 50:
        raise invalid("q", "at most 50 characters")
    return q.replace("\\", "").replace("%", "").replace("_", "") or None


async def list_members(conn: asyncpg.Connection, viewer: Actor, community_id: int, *, role: str | None = None,
                       q: str | None = None, limit: int = 50, after: int = 0, ip: str | None = None) -> MemberPage:
    """Members of a community and its grids, one row per person, by id."""
    if role not in (None, "volunteer", "courier"):
        raise invalid("role", "volunteer or courier")
    full = await _viewer_scope(conn, viewer, community_id)
    term = _search_term(q)
    rows = await _rows(conn, community_id, role=role, term=term, phones=full and community_id in viewer.manages,
                       full=full, after=after, n=limit + 1)
    items = [_member(viewer, community_id, r, full) for r in rows[:limit]]
    await audit_phone_view(conn, viewer, community_id, ("community", community_id),
                           [m.id for m in items if m.phone and not m.phone_masked], ip=ip, what="members")
    return MemberPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


async def members_csv_page(conn: asyncpg.Connection, viewer: Actor, community_id: int, *, after: int = 0,
                           ip: str | None = None) -> tuple[bytes, int | None]:
    """One page (CSV_PAGE people, by id, after `after`) of the same list as CSV, same phone rule; the
    first page (after=0) starts with the byte-order mark (so Excel shows the Chinese header) and the
    header. Returns the bytes and the cursor of the next page (None at the end). The export streams
    page by page (a community of 20,000 and more, in constant memory, no cap); each page's
    full numbers are audited before they are sent."""
    full = await _viewer_scope(conn, viewer, community_id)
    rows = await _rows(conn, community_id, role=None, term=None, phones=False, full=full, after=after, n=CSV_PAGE + 1)
    more = len(rows) > CSV_PAGE
    rows = rows[:CSV_PAGE]
    if sees_full_phone(viewer, 0, {community_id}):
        await audit_phone_view(conn, viewer, community_id, ("community", community_id),
                               [r["id"] for r in rows if r["phone"]], ip=ip, what="members.csv")
    out = io.StringIO()
    writer = csv.writer(out)
    if after == 0:
        out.write("\ufeff")
        # Managers open it in Excel: headers, roles and states in words, no field names.
        if full:
            writer.writerow(["编号", "姓名", "手机", "角色", "网格", "状态", "可用积分", "时间（分钟）", "加入时间"])
        else:
            writer.writerow(["编号", "姓名", "手机", "角色"])
    for r in rows:
        m = _member(viewer, community_id, r, full)
        line = [m.id, _csv_safe(m.name), m.phone or "", "、".join(_CSV_ROLES.get(r, r) for r in m.roles)]
        if full:
            state = "已注销" if m.closed else "正常" if m.active else "已停用"
            line += [_csv_safe(m.grid_name or ""), state, m.points, m.minutes,
                     clock.local_day(m.joined_at).isoformat() if m.joined_at else ""]
        writer.writerow(line)
    return out.getvalue().encode(), (rows[-1]["id"] if more else None)


_CSV_ROLES = {"volunteer": "志愿者", "courier": "网格员", "manager": "管理员", "admin": "系统管理员"}


def _csv_safe(text: str) -> str:
    # A name starting with = + - @ would run as a formula in Excel.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def member_row(conn: asyncpg.Connection, viewer: Actor, community_id: int, user_id: int) -> Member:
    """One member as the answer of an act (invite, grid move). The phone is masked: an act shows no
    number (the member's page does, and audits the look)."""
    row = await conn.fetchrow(Q.community_member, community_id, user_id)
    if row is None:
        raise not_found("member")
    member = _member(viewer, community_id, row, True)
    if member.phone and viewer.id != user_id:
        member = msgspec.structs.replace(member, phone=auth.mask_phone(member.phone), phone_masked=True)
    return member


# ---- acts -------------------------------------------------------------------------------------

async def _grid_for(conn: asyncpg.Connection, community_id: int, grid_id: int | None) -> int:
    if grid_id is None:
        grids = await conn.fetch("select id from orgs where kind = 'grid' and parent_id = $1 order by id", community_id)
        if len(grids) != 1:
            raise invalid("grid_id", "choose the courier's grid")
        return grids[0]["id"]
    grid = await conn.fetchrow("select kind, parent_id from orgs where id = $1", grid_id)
    if grid is None or grid["kind"] != "grid" or grid["parent_id"] != community_id:
        raise invalid("grid_id", "a grid of this community")
    return grid_id


async def invite(conn: asyncpg.Connection, actor: Actor, community_id: int, *, phone: str, name: str, role: str,
                 grid_id: int | None = None, ip: str | None = None) -> Invited:
    """Add a person to the community by phone, as a volunteer (of the community) or a courier (of a grid).

    Someone already in one of the actor's communities (whom the actor sees in their member lists
    anyway) is added at once. Anyone else gets an invitation they accept or decline (membership is
    by consent), with the same answer whether the phone is registered or not:
    a phone nobody registered yet gets an account without a password, its owner claims it by
    registering with that phone (domain/auth.py claim_invited) and then accepts like anyone else."""
    orgs.require_manager(actor, community_id)
    await _community(conn, community_id)
    if role not in ("volunteer", "courier"):
        raise invalid("role", "volunteer or courier")
    phone = auth.normalise_phone(phone)
    name = auth.check_name(name)
    if role == "volunteer" and grid_id is not None:
        raise invalid("grid_id", "volunteers join the community, couriers a grid")
    org_id = community_id if role == "volunteer" else await _grid_for(conn, community_id, grid_id)
    async with conn.transaction():
        person = await conn.fetchrow("select id, active, closed_at from users where phone = $1 for update", phone)
        if person is None:
            user_id = await auth.create_user(conn, phone=phone, password=None, name=name)
            return await _invite_to_consent(conn, actor, community_id, org_id, user_id, role, ip=ip)
        user_id = person["id"]
        theirs = set(await orgs.member_communities(conn, user_id))
        if not theirs & (actor.manages | {community_id}):
            return await _invite_to_consent(conn, actor, community_id, org_id, user_id, role, ip=ip)
        if not person["active"]:
            raise DomainError("invalid_state", details={"problem": "this account is deactivated; reactivate it"})
        current = await conn.fetchval("select role from org_members where org_id = $1 and user_id = $2",
                                      org_id, user_id)
        if current == role:
            return Invited(await _echo(conn, actor, community_id, user_id, phone), True)
        await conn.execute(Q.put_member, org_id, user_id, role)
        await audit.record(conn, actor, "member_add" if current is None else "member_edit", community_id=community_id,
                           target=("user", user_id), before={"role": current, "org_id": org_id} if current else None,
                           after={"role": role, "org_id": org_id, "invited": True}, ip=ip)
        return Invited(await _echo(conn, actor, community_id, user_id, phone), False)


async def _echo(conn: asyncpg.Connection, actor: Actor, community_id: int, user_id: int, phone: str) -> Member:
    """The invited member, with the number the manager typed: repeating it back is no look at a phone."""
    member = await member_row(conn, actor, community_id, user_id)
    return msgspec.structs.replace(member, phone=phone, phone_masked=False)


async def _invite_to_consent(conn: asyncpg.Connection, actor: Actor, community_id: int, org_id: int, user_id: int,
                             role: str, *, ip: str | None) -> Invited:
    """An open invitation for someone outside the actor's communities (or a phone nobody registered:
    the password-less account just made for it), and a message in their inbox (read once they
    register). Inviting again changes nothing. A deactivated or closed account gets the same answer
    (and no invitation): nothing is revealed."""
    usable = await conn.fetchval("select active and closed_at is null from users where id = $1", user_id)
    invitation_id = await conn.fetchval("select id from invitations where org_id = $1 and user_id = $2 "
                                        "and state = 'pending'", org_id, user_id)
    if usable and invitation_id is None:
        invitation_id = await conn.fetchval(
            """Insert into invitations (community_id, org_id, user_id, role, invited_by, created_at)
               values ($1, $2, $3, $4, $5, $6) returning id""",
            community_id, org_id, user_id, role, actor.id, clock.now())
        await audit.record(conn, actor, "member_invite", community_id=community_id,
                           target=("invitation", invitation_id), after={"role": role, "org_id": org_id}, ip=ip)
        await outbox.send(conn, user_id, "role_invited", community_id=community_id, link="/",
                          params={"inviter": actor.name, "where": await conn.fetchval(
                              "select name from orgs where id = $1", community_id), "role": role},
                          dedup_key=f"member_invite:{invitation_id}")
    return Invited(member=None, already_member=False, pending=True)


async def my_invitations(conn: asyncpg.Connection, actor: Actor) -> Invitations:
    rows = await conn.fetch(
        """Select i.id, i.community_id, c.name as community_name, i.org_id, i.role, u.name as invited_by, i.state,
                  i.created_at
           from invitations i join orgs c on c.id = i.community_id join users u on u.id = i.invited_by
           where i.user_id = $1 and i.state = 'pending' order by i.id desc limit 50""", actor.id)
    return Invitations([Invitation(**r) for r in rows])


async def answer_invitation(conn: asyncpg.Connection, actor: Actor, invitation_id: int, *, accept: bool,
                            ip: str | None = None) -> Invitation:
    """The invited person accepts (becomes a member) or declines. Only they can: to anyone else the
    invitation does not exist."""
    async with conn.transaction():
        row = await conn.fetchrow("select * from invitations where id = $1 and user_id = $2 for update",
                                  invitation_id, actor.id)
        if row is None:
            raise not_found("invitation")
        if row["state"] != "pending":
            raise DomainError("invalid_state", details={"state": row["state"]})
        state = "accepted" if accept else "declined"
        await conn.execute("update invitations set state = $2, answered_at = $3 where id = $1",
                           invitation_id, state, clock.now())
        current = await conn.fetchval("select role from org_members where org_id = $1 and user_id = $2",
                                      row["org_id"], actor.id)
        joined = accept and current != row["role"]
        if joined:
            await conn.execute(Q.put_member, row["org_id"], actor.id, row["role"])
        # One row for the answer, whichever it is: the membership it granted is in `after`.
        await audit.record(conn, actor, "invitation_answer", community_id=row["community_id"],
                           target=("user", actor.id), before={"role": current} if current else None,
                           after={"invitation_id": invitation_id, "state": state, "role": row["role"],
                                  "org_id": row["org_id"], "joined": joined}, ip=ip)
        out = await conn.fetchrow(
            """Select i.id, i.community_id, c.name as community_name, i.org_id, i.role, u.name as invited_by, i.state,
                      i.created_at
               from invitations i join orgs c on c.id = i.community_id join users u on u.id = i.invited_by
               where i.id = $1""", invitation_id)
        return Invitation(**out)


async def assign_grid(conn: asyncpg.Connection, actor: Actor, user_id: int, grid_id: int, *,
                      ip: str | None = None) -> Member:
    """Move a courier to another grid of the same community."""
    grid = await orgs.get_org(conn, grid_id)
    if grid.kind != "grid":
        raise invalid("grid_id", "a grid")
    community_id = grid.community_id
    assert community_id is not None  # a grid belongs to its community
    orgs.require_manager(actor, community_id)
    async with conn.transaction():
        current = await conn.fetch(
            """Select m.org_id from org_members m join orgs o on o.id = m.org_id
               where m.user_id = $1 and m.role = 'courier' and o.kind = 'grid' and o.parent_id = $2
               order by m.org_id for update of m""", user_id, community_id)
        if not current:
            raise invalid("user_id", "only couriers of this community work in a grid; invite them as a courier")
        old = [r["org_id"] for r in current]
        if old != [grid_id]:
            await conn.execute("delete from org_members where user_id = $1 and org_id = any($2::bigint[])",
                               user_id, old)
            await conn.execute(Q.put_member, grid_id, user_id, "courier")
            await audit.record(conn, actor, "member_edit", community_id=community_id, target=("user", user_id),
                               before={"grid_id": old[0] if len(old) == 1 else old}, after={"grid_id": grid_id}, ip=ip)
        return await member_row(conn, actor, community_id, user_id)


async def _acting_community(conn: asyncpg.Connection, actor: Actor, user_id: int) -> int | None:
    """Check a manager may switch this person's account on or off, and name the community it is done in.

    Turning an account off locks the person out everywhere, so a manager may do it only to someone
    who belongs to no community beyond theirs, who is no manager and no admin; admins may do it to
    anyone but themselves."""
    if user_id == actor.id:
        raise forbidden("not your own account")
    person = await conn.fetchrow("select is_admin from users where id = $1", user_id)
    if person is None:
        raise orgs.no_such_user()
    theirs = set(await orgs.member_communities(conn, user_id))
    if actor.is_admin:
        return min(theirs) if theirs else None
    await orgs.require_manager_of_user(conn, actor, user_id)
    if person["is_admin"] or await conn.fetchval("select 1 from org_managers where user_id = $1", user_id):
        raise forbidden("managers and admins are switched off by an admin")
    if theirs - actor.manages:
        raise forbidden("the person also belongs to communities you do not manage; ask an admin")
    return min(theirs & actor.manages)


async def deactivate(conn: asyncpg.Connection, actor: Actor, user_id: int, *, reason: str,
                     ip: str | None = None) -> None:
    """Switch an account off: the person can no longer log in and their sessions end now. Their
    ledger, memberships and history stay; reactivate undoes it."""
    reason = clean_reason(reason)
    community_id = await _acting_community(conn, actor, user_id)
    async with conn.transaction():
        changed = await conn.fetchval("update users set active = false where id = $1 and active "
                                      "and closed_at is null returning true", user_id)
        if not changed:
            raise DomainError("invalid_state", details={"problem": "already inactive"})
        await conn.execute("update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null",
                           user_id, clock.now())
        await audit.record(conn, actor, "member_deactivate", community_id=community_id, target=("user", user_id),
                           before={"active": True}, after={"active": False}, reason=reason, ip=ip)


async def reactivate(conn: asyncpg.Connection, actor: Actor, user_id: int, *, reason: str,
                     ip: str | None = None) -> None:
    reason = clean_reason(reason)
    community_id = await _acting_community(conn, actor, user_id)
    async with conn.transaction():
        changed = await conn.fetchval("update users set active = true where id = $1 and not active "
                                      "and closed_at is null returning true", user_id)
        if not changed:  # active already, or closed by its owner (which is final)
            raise DomainError("invalid_state", details={"problem": "not deactivated"})
        await audit.record(conn, actor, "member_reactivate", community_id=community_id, target=("user", user_id),
                           before={"active": False}, after={"active": True}, reason=reason, ip=ip)


# ---- one person -------------------------------------------------------------------------------

async def detail(conn: asyncpg.Connection, viewer: Actor, user_id: int, *, ip: str | None = None) -> MemberDetail:
    """One member for a manager of their communities (or an admin): profile, memberships, balances.
    Anyone else, for anyone else, gets the 404 of an id nobody has."""
    await orgs.require_manager_of_user(conn, viewer, user_id)
    row = await conn.fetchrow("select id, name, phone, active, closed_at, password_hash is not null as claimed, "
                              "created_at from users where id = $1", user_id)
    if row is None:
        raise not_found("user")
    memberships = await conn.fetch(
        """Select o.id as org_id, o.name as org_name, o.kind, m.role, c.id as community_id,
                  c.name as community_name, m.created_at as joined_at
           from org_members m join orgs o on o.id = m.org_id
           join orgs c on c.id = case when o.kind = 'grid' then o.parent_id else o.id end
           where m.user_id = $1 order by o.id""", user_id)
    teams = await conn.fetch("select t.id, t.name, t.community_id from team_members tm join teams t on t.id = tm.team_id "
                             "where tm.user_id = $1 order by t.id", user_id)
    manages = await conn.fetch("select org_id from org_managers where user_id = $1 order by org_id", user_id)
    theirs = {m["community_id"] for m in memberships}
    phone, masked = shown_phone(viewer, user_id, row["phone"], theirs)
    if phone and not masked:
        await audit_phone_view(conn, viewer, min(theirs & viewer.manages, default=None), ("user", user_id), [user_id],
                               ip=ip, what="member")
    return MemberDetail(
        id=row["id"], name=row["name"], phone=phone, phone_masked=masked, active=row["active"],
        closed=row["closed_at"] is not None, claimed=row["claimed"], created_at=row["created_at"],
        memberships=[Membership(**m) for m in memberships], teams=[TeamRef(**t) for t in teams],
        manages=[m["org_id"] for m in manages], balances=await ledger.balances(conn, user_id),
        medals=[r["name"] for r in await conn.fetch(
            "select name from medals where user_id = $1 and revoked_at is null order by awarded_at, id", user_id)],
        **dict(await conn.fetchrow("select i.id_number_masked, i.volunteer_number from (select 1) x "
                                   "left join identities i on i.user_id = $1", user_id)))


async def search_people(conn: asyncpg.Connection, viewer: Actor, q: str, *, limit: int = 20,
                        after: int = 0, ip: str | None = None) -> PeoplePage:
    """Admins find anyone by name or phone (digits: any part of the number). Phones stay masked
    unless the admin also manages one of the person's communities."""
    orgs.require_admin(viewer)
    term = _search_term(q)
    if term is None:
        raise invalid("q", "a name or phone digits")
    digits = term.replace(" ", "").replace("-", "")
    by_phone = digits.isdigit() and len(digits) >= 3
    rows = await conn.fetch(Q.people_search, digits if by_phone else term, by_phone, after, limit + 1)
    items = []
    for r in rows[:limit]:
        phone, masked = shown_phone(viewer, r["id"], r["phone"], set(r["community_ids"]))
        items.append(PersonHit(id=r["id"], name=r["name"], phone=phone, phone_masked=masked, active=r["active"],
                               closed=r["closed"], is_admin=r["is_admin"], communities=sorted(r["communities"])))
    await audit_phone_view(conn, viewer, None, ("search", None), [i.id for i in items if i.phone and not i.phone_masked],
                           ip=ip, what="people_search")
    return PeoplePage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)

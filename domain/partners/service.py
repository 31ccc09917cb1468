"""Partner organisations (伙伴单位): departments, property companies, work units and (later) merchants,
invited by a street or a community, with their own staff. Built once for every kind of partner: the
grid loop's handlers use it (domain/cases), merchants will too.

- A partner sits under its parent, a street or a community. A manager of that parent (for a street:
  its managers or its district's; for a community: its managers) creates it, and invites its staff.
- Staff join by consent, like any membership: the invitation names a phone. A phone nobody has
  registered gets a password-less account its owner claims by registering with the SMS code
  (people/auth.claim_invited); the person then accepts or declines in the app. To anyone else the
  invitation does not exist. A partner's own admins may invite staff too.
- Every act is audited in its transaction (acts partner_create, partner_invite, partner_invitation_answer).
"""

from datetime import datetime

import asyncpg
import msgspec

from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import auth, orgs

PEOPLE = queries.load("people")

KINDS = ("department", "property", "unit", "merchant")
ROLES = ("admin", "staff")


class Partner(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    name: str
    parent_id: int
    parent_name: str
    unit_id: int | None
    staff: int               # how many people work for it in Linli
    my_role: str | None      # the viewer's role there, if any


class PartnerInvitation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    partner_id: int
    partner_name: str
    partner_kind: str
    role: str
    invited_by: str
    state: str
    created_at: datetime


class InvitationList(msgspec.Struct, frozen=True):
    items: list[PartnerInvitation]


_SELECT = """
    select p.id, p.kind, p.name, p.parent_id, o.name as parent_name, p.unit_id,
           (select count(*) from partner_staff s where s.partner_id = p.id)::int as staff,
           (select s.role from partner_staff s where s.partner_id = p.id and s.user_id = $1) as my_role
    from partners p join orgs o on o.id = p.parent_id"""


async def _parent(conn: asyncpg.Connection, parent_id: int) -> orgs.Org:
    try:
        org = await orgs.get_org(conn, parent_id)
    except DomainError:
        raise invalid("parent_id", "a street or community") from None
    if org.kind not in ("street", "community"):
        raise invalid("parent_id", "a street or community")
    return org


async def require_parent_manager(conn: asyncpg.Connection, actor: Actor, parent: orgs.Org) -> None:
    """A community's managers act for its partners; a street's managers (or its district's) for its."""
    if parent.kind == "community":
        orgs.require_manager(actor, parent.id)
    else:
        await orgs.require_level_manager(conn, actor, parent.id)


def _community_of(parent: orgs.Org) -> int | None:
    return parent.id if parent.kind == "community" else None


async def get(conn: asyncpg.Connection, actor: Actor, partner_id: int) -> Partner:
    row = await conn.fetchrow(_SELECT + " where p.id = $2", actor.id, partner_id)
    if row is None:
        raise not_found("partner")
    return Partner(**row)


async def create(conn: asyncpg.Connection, actor: Actor, *, kind: str, name: str, parent_id: int,
                 unit_id: int | None = None, audited: bool = True) -> Partner:
    """Audited=False: the caller records the whole act in one audit row of its own (a merchant's
    invitation, domain/merchants: the partner, its details and its owner's invitation are one act)."""
    if kind not in KINDS:
        raise invalid("kind", f"one of {', '.join(KINDS)}")
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 100:
        raise invalid("name", "1 to 100 characters")
    parent = await _parent(conn, parent_id)
    await require_parent_manager(conn, actor, parent)
    if (kind == "unit") != (unit_id is not None):
        raise invalid("unit_id", "a work unit partner names its unit, and only it")
    if unit_id is not None and not await conn.fetchval("select exists (select 1 from units where id = $1)", unit_id):
        raise invalid("unit_id", "no such unit")
    async with conn.transaction():
        partner_id = await conn.fetchval(
            """Insert into partners (kind, name, parent_id, unit_id, created_by, created_at)
               values ($1, $2, $3, $4, $5, $6) on conflict do nothing returning id""",
            kind, name, parent_id, unit_id, actor.id, clock.now())
        if partner_id is None:
            raise DomainError("conflict", field="name", details={"problem": "a partner of this name or unit exists"})
        if audited:
            await audit.record(conn, actor, "partner_create", community_id=_community_of(parent),
                               target=("partner", partner_id), after={"kind": kind, "name": name,
                                                                       "parent_id": parent_id, "unit_id": unit_id})
    return await get(conn, actor, partner_id)


async def list_partners(conn: asyncpg.Connection, actor: Actor, *, parent_id: int | None = None,
                        mine: bool = False) -> list[Partner]:
    """Mine: the partners I work for. parent_id: a street's or community's partners (its managers and
    the managers above; the communities under a street see the street's, to know who handles what)."""
    if mine or parent_id is None:
        rows = await conn.fetch(_SELECT + " where exists (select 1 from partner_staff s where s.partner_id = p.id "
                                "and s.user_id = $1) order by p.name, p.id", actor.id)
        return [Partner(**r) for r in rows]
    parent = await _parent(conn, parent_id)
    if parent.kind == "community":
        orgs.require_reader(actor, parent.id)
    elif not (actor.is_admin or await _reads_street(conn, actor, parent.id)):
        raise forbidden("not a manager of this street or below it")
    rows = await conn.fetch(_SELECT + " where p.parent_id = $2 order by p.kind, p.name, p.id", actor.id, parent_id)
    return [Partner(**r) for r in rows]


async def _reads_street(conn: asyncpg.Connection, actor: Actor, street_id: int) -> bool:
    """A street's managers and its district's, and the managers of communities under it."""
    if await conn.fetchval(PEOPLE.manages_a_community_under,
                           street_id, list(actor.manages)):
        return True
    try:
        await orgs.require_level_manager(conn, actor, street_id)
    except DomainError:
        return False
    return True


async def staff_role(conn: asyncpg.Connection, user_id: int, partner_id: int) -> str | None:
    return await conn.fetchval("select role from partner_staff where partner_id = $1 and user_id = $2",
                               partner_id, user_id)


async def invite(conn: asyncpg.Connection, actor: Actor, partner_id: int, *, phone: str, name: str,
                 role: str = "staff", audited: bool = True) -> PartnerInvitation | None:
    """Invite a phone to work for the partner (the person accepts themself); None when they already do.
    audited=False: part of a caller's act that it audits itself (see `create`)."""
    if role not in ROLES:
        raise invalid("role", "admin or staff")
    row = await conn.fetchrow("select id, parent_id from partners where id = $1", partner_id)
    if row is None:
        raise not_found("partner")
    parent = await orgs.get_org(conn, row["parent_id"])
    if await staff_role(conn, actor.id, partner_id) != "admin":
        await require_parent_manager(conn, actor, parent)
    phone = auth.normalise_phone(phone)
    name = auth.check_name(name)
    async with conn.transaction():
        person = await conn.fetchrow("select id, active, closed_at from users where phone = $1 for update", phone)
        user_id = person["id"] if person else await auth.create_user(conn, phone=phone, password=None, name=name)
        if await staff_role(conn, user_id, partner_id) is not None:
            return None
        invitation_id = await conn.fetchval(
            "select id from partner_invitations where partner_id = $1 and user_id = $2 and state = 'pending'",
            partner_id, user_id)
        if invitation_id is None:
            invitation_id = await conn.fetchval(
                """Insert into partner_invitations (partner_id, user_id, role, invited_by, created_at)
                   values ($1, $2, $3, $4, $5) returning id""", partner_id, user_id, role, actor.id, clock.now())
            if audited:
                await audit.record(conn, actor, "partner_invite", community_id=_community_of(parent),
                                   target=("partner", partner_id),
                                   after={"invitation_id": invitation_id, "role": role, "new_account": person is None})
    return await _invitation(conn, invitation_id)


_INVITATION = """
    select i.id, i.partner_id, p.name as partner_name, p.kind as partner_kind, i.role, u.name as invited_by,
           i.state, i.created_at
    from partner_invitations i join partners p on p.id = i.partner_id join users u on u.id = i.invited_by"""


async def _invitation(conn: asyncpg.Connection, invitation_id: int) -> PartnerInvitation:
    return PartnerInvitation(**await conn.fetchrow(_INVITATION + " where i.id = $1", invitation_id))


async def my_invitations(conn: asyncpg.Connection, actor: Actor) -> InvitationList:
    rows = await conn.fetch(_INVITATION + " where i.user_id = $1 and i.state = 'pending' order by i.id desc limit 50",
                            actor.id)
    return InvitationList([PartnerInvitation(**r) for r in rows])


async def answer(conn: asyncpg.Connection, actor: Actor, invitation_id: int, *, accept: bool) -> PartnerInvitation:
    """The invited person accepts (joins the partner's staff) or declines; nobody else can."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """Select i.*, p.parent_id, o.kind as parent_kind from partner_invitations i
               join partners p on p.id = i.partner_id join orgs o on o.id = p.parent_id
               where i.id = $1 and i.user_id = $2 for update of i""", invitation_id, actor.id)
        if row is None:
            raise not_found("invitation")
        if row["state"] != "pending":
            raise DomainError("invalid_state", details={"state": row["state"]})
        state = "accepted" if accept else "declined"
        await conn.execute("update partner_invitations set state = $2, answered_at = $3 where id = $1",
                           invitation_id, state, clock.now())
        if accept:
            await conn.execute(
                """Insert into partner_staff (partner_id, user_id, role, created_at) values ($1, $2, $3, $4)
                   on conflict (partner_id, user_id) do update set role = excluded.role""",
                row["partner_id"], actor.id, row["role"], clock.now())
        await audit.record(conn, actor, "partner_invitation_answer",
                           community_id=row["parent_id"] if row["parent_kind"] == "community" else None,
                           target=("partner", row["partner_id"]),
                           after={"invitation_id": invitation_id, "state": state, "role": row["role"]})
    return await _invitation(conn, invitation_id)


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

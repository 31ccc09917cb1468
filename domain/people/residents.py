"""Residents without a phone, and member cards printed in batches by a manager.

Many elders have no smartphone. A manager creates them as members with no phone (name, household,
an optional ID hint such as the last digits of the ID card, to tell two 王秀兰 apart), and prints
their member cards; the card is scanned at a station (check-in) and at the supermarket counter
(redeem on the spot) like anyone's. Reissuing a card revokes the old code. Cards can be printed
for any members of the manager's community (phone or not).

Creating, reissuing and printing are audited (member_create, card_reissue, cards_print).
"""

import asyncio

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, cards, clock, codes
from domain.core.actor import Actor
from domain.core.errors import forbidden, invalid, not_found
from domain.people import auth, orgs

MAX_CARDS = 300  # one print run: 30 pages


class Resident(msgspec.Struct, frozen=True):
    id: int
    name: str
    community_id: int
    household: str | None
    id_hint: str | None
    grid_id: int | None
    card_code: str
    card_url: str


class CardOut(msgspec.Struct, frozen=True):
    user_id: int
    code: str
    url: str


def _text(value: str | None, field: str, limit: int) -> str | None:
    value = " ".join((value or "").split())
    if len(value) > limit:
        raise invalid(field, f"at most {limit} characters")
    return value or None


async def create(conn: asyncpg.Connection, actor: Actor, community_id: int, *, name: str,
                 household: str | None = None, id_hint: str | None = None, grid_id: int | None = None,
                 ip: str | None = None) -> Resident:
    """A member without a phone (and without a password: they use their card, not the app)."""
    orgs.require_manager(actor, community_id)
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    name = auth.check_name(name)
    household = _text(household, "household", 100)
    id_hint = _text(id_hint, "id_hint", 20)
    if grid_id is not None:
        grid = await conn.fetchrow("select kind, parent_id from orgs where id = $1", grid_id)
        if grid is None or grid["kind"] != "grid" or grid["parent_id"] != community_id:
            raise invalid("grid_id", "a grid of this community")
    async with conn.transaction():
        user_id = await conn.fetchval("insert into users (phone, name) values (null, $1) returning id", name)
        await ledger.open_member_accounts(conn, user_id, community_id)
        await conn.execute("insert into org_members (org_id, user_id, role) values ($1, $2, 'volunteer')",
                           community_id, user_id)
        await conn.execute("insert into resident_profiles (community_id, user_id, grid_id, household, id_hint, "
                           "updated_at) values ($1, $2, $3, $4, $5, $6)", community_id, user_id, grid_id, household,
                           id_hint, clock.now())
        card = await codes.member_card(conn, user_id)
        await audit.record(conn, actor, "member_create", community_id=community_id, target=("user", user_id),
                           after={"role": "volunteer", "org_id": community_id, "no_phone": True}, ip=ip)
    return Resident(user_id, name, community_id, household, id_hint, grid_id, card.code, codes.url_for(card.code))


async def _require_members(conn: asyncpg.Connection, community_id: int,
                           user_ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await conn.fetch(
        """Select u.id, u.name, p.household from users u
           left join resident_profiles p on p.community_id = $2 and p.user_id = u.id
           where u.id = any($1::bigint[]) and u.active and u.closed_at is null
             and exists (select 1 from org_members m join orgs o on o.id = m.org_id where m.user_id = u.id
                         and (o.id = $2 or (o.kind = 'grid' and o.parent_id = $2)))""", user_ids, community_id)
    found = {r["id"]: r for r in rows}
    outside = [u for u in user_ids if u not in found]
    if outside:
        raise forbidden(f"not active members of this community: {', '.join(map(str, outside[:20]))}")
    return found


class PrintedCards(msgspec.Struct, frozen=True):
    pdf: bytes
    issued: list[int]   # members who had no live card and got one now


async def cards_pdf(conn: asyncpg.Connection, actor: Actor, community_id: int, user_ids: list[int], *,
                    ip: str | None = None) -> PrintedCards:
    """A4 sheets of member cards for the chosen members, in the order given (a card is issued to
    whoever has none yet; a live card is printed again as it is). printing is a
    manager's act on people's keys, audited (cards_print, with who got a new card), and the PDF is
    drawn on a worker thread (300 cards stalled every request for 2 s)."""
    orgs.require_manager(actor, community_id)
    user_ids = list(dict.fromkeys(user_ids))
    if not 1 <= len(user_ids) <= MAX_CARDS:
        raise invalid("user_ids", f"1 to {MAX_CARDS} members")
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise not_found("community")
    people = await _require_members(conn, community_id, user_ids)
    printed, issued = [], []
    async with conn.transaction():
        for user_id in user_ids:
            had = await codes.latest(conn, "member", user_id)
            card = await codes.member_card(conn, user_id)
            if had is None:
                issued.append(user_id)
            person = people[user_id]
            printed.append(cards.Card(name=person["name"], community=org.name, url=codes.url_for(card.code),
                                      detail=person["household"] or ""))
        await audit.record(conn, actor, "cards_print", community_id=community_id, target=("org", community_id),
                           after={"user_ids": user_ids, "issued": issued}, ip=ip)
    return PrintedCards(pdf=await asyncio.to_thread(cards.cards_pdf, printed), issued=issued)


async def reissue_card(conn: asyncpg.Connection, actor: Actor, community_id: int, user_id: int, *,
                       ip: str | None = None) -> CardOut:
    """A lost card: a new code, and the old card stops working at once."""
    orgs.require_manager(actor, community_id)
    if user_id == actor.id:
        raise forbidden("your own card is reissued on your card page")
    await _require_members(conn, community_id, [user_id])
    async with conn.transaction():
        old = await codes.latest(conn, "member", user_id)
        card = await codes.member_card(conn, user_id, reissue=True)
        await audit.record(conn, actor, "card_reissue", community_id=community_id, target=("user", user_id),
                           before={"had_card": old is not None}, after={"reissued": True}, ip=ip)
    return CardOut(user_id, card.code, codes.url_for(card.code))


async def list_phoneless(conn: asyncpg.Connection, actor: Actor, community_id: int) -> list[Resident]:
    """The community's members without a phone, for the card page."""
    orgs.require_manager(actor, community_id)
    rows = await conn.fetch(
        """Select u.id, u.name, p.household, p.id_hint, p.grid_id,
                  (select c.code from codes c where c.kind = 'member' and c.target_id = u.id and c.revoked_at is null
                   order by c.created_at desc limit 1) as code
           from users u join org_members m on m.user_id = u.id and m.org_id = $1
           left join resident_profiles p on p.community_id = $1 and p.user_id = u.id
           where u.phone is null and u.active and u.closed_at is null order by u.id limit 1000""", community_id)
    return [Resident(r["id"], r["name"], community_id, r["household"], r["id_hint"], r["grid_id"], r["code"] or "",
                     codes.url_for(r["code"]) if r["code"] else "") for r in rows]

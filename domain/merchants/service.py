"""爱心商家: partner merchants who accept points at their own counter.

A merchant is a partner organisation of kind 'merchant' (domain/partners: invited by a street or a
community, its owner and staff join by consent) with its details, the communities it serves and a
points account of its own (accounts.kind 'merchant', migrations/060).

- Invited: a manager of the parent (street or community) names the merchant and its contact phone;
  the phone is invited as the merchant's admin (its owner), who accepts in the app (a new phone
  first claims its account with the SMS code). The owner invites staff the same way.
- Serves: a community-invited merchant serves its community; a street-invited one the communities
  it names, or every community of the street. It settles with the one community it serves, else
  with the street (merchants.settles_with, also its account's org_id).
- Offers: the owner publishes an offer at a fixed price, with a per-person monthly limit, stock, and
  valid weekdays and hours; a manager of a served community (or of the parent) approves it before
  residents see it, and may withdraw it. Redemptions of an approved offer need no approval each.
- At the counter: the resident takes the offer and shows a voucher (a code valid VOUCHER_MINUTES);
  staff scan or type it, see the offer and the masked name, and confirm: the points move from the
  person's accounts to the merchant's in one ledger spend keyed by the voucher (idempotent: a replay
  moves nothing; two counters at once: the voucher's row lock lets one through). A member card alone
  is accepted only for residents without a phone, under CARD_DAILY_POINTS a day. A refund the same
  day reverses the spend, with a reason.
- Refusals, each before anything is written: the person outside the merchant's spending area
  (`outside_area`, the area policy of domain/ledger/areas as in community shops), over the monthly
  limit or out of stock, the merchant's own staff (nobody redeems at their own merchant), a
  suspended merchant (`merchant_suspended`), a used voucher (`already_used`).
- Every merchant act is audited; velocity per merchant and per person raises a flag on the
  workbench of the street's managers (domain/oversight).
"""

import asyncio
import io
from datetime import datetime, timedelta

import asyncpg
import msgspec

from domain import ledger, oversight, partners
from domain.core import audit, clock, codes, qr, queries
from domain.core.actor import Actor
from domain.core.csv_export import to_csv
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.ledger import areas
from domain.merchants import rules
from domain.people import auth, orgs
from domain.rankings.rules import mask_name

LEDGER = queries.load("ledger")

Q = queries.load("merchants")

CATEGORY_MAX = 30


# ---- types ----------------------------------------------------------------------------------

class Merchant(msgspec.Struct, frozen=True, kw_only=True):
    id: int                    # the partner's id
    name: str
    category: str
    address: str
    contact_phone: str         # masked for anyone but its staff and the managers who invited it
    parent_id: int
    parent_name: str
    communities: list[int]     # the communities it serves
    community_names: list[str]
    settles_with: int
    settles_with_name: str
    suspended: bool
    suspend_reason: str | None
    staff: int
    my_role: str | None        # admin (owner) or staff, for its own people
    points: int                # its account's balance (redeemed minus refunded)


class Offer(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    merchant_id: int
    merchant_name: str
    merchant_address: str
    category: str
    name: str
    description: str
    price_points: int
    monthly_limit: int
    stock: int
    days: list[int]            # ISO weekdays, 1 Monday ... 7 Sunday
    opens: str                 # HH:MM
    closes: str
    state: str                 # pending, approved, withdrawn
    my_remaining: int | None = None   # for a resident: this month's allowance left


class VoucherOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    display: str               # grouped upper case, as people type it
    url: str
    svg: str
    expires_at: datetime
    offer: Offer


class VoucherPreview(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    offer_id: int
    offer_name: str
    price_points: int
    person: str                # masked name
    expires_at: datetime
    used: bool
    expired: bool


class MerchantRedemption(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    merchant_id: int
    offer_id: int
    offer_name: str
    person: str                # masked name
    community_id: int
    via: str
    points: int
    redeemed_at: datetime
    refunded_at: datetime | None
    refund_reason: str | None


class IssuerLine(msgspec.Struct, frozen=True):
    community_id: int
    community_name: str
    points: int


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    merchant_id: int
    merchant_name: str
    month: str
    settles_with: int
    settles_with_name: str
    redemptions: int
    refunds: int
    points: int                # net: redeemed minus refunded in the month
    fen_per_point: int | None  # the settling level's rate; None: goods donated
    money_fen: int | None
    by_issuer: list[IssuerLine]
    lines: list[MerchantRedemption]


class Rate(msgspec.Struct, frozen=True):
    org_id: int
    fen_per_point: int | None


# ---- who -----------------------------------------------------------------------------------



async def _row(conn: asyncpg.Connection, actor_id: int, merchant_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(Q.merchant_with_names + " where p.id = $2", actor_id, merchant_id)
    if row is None:
        raise not_found("merchant")
    return row


async def _is_overseer(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record) -> bool:
    """The managers of its parent (and above), and of the communities it serves."""
    if actor.is_admin or any(actor.can_manage(c) for c in row["communities"]):
        return True
    try:
        await partners.require_parent_manager(conn, actor, await orgs.get_org(conn, row["parent_id"]))
    except DomainError:
        return False
    return True


async def _is_reader(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record) -> bool:
    return (row["my_role"] is not None or any(actor.reads(c) for c in row["communities"])
            or await _is_overseer(conn, actor, row))


async def _merchant(conn: asyncpg.Connection, actor: Actor, row: asyncpg.Record) -> Merchant:
    points = await conn.fetchval("select coalesce(sum(amount), 0) from entries where account_id = $1",
                                 row["account_id"])
    sees_phone = row["my_role"] is not None or await _is_overseer(conn, actor, row)
    return Merchant(id=row["id"], name=row["name"], category=row["category"], address=row["address"],
                    contact_phone=row["contact_phone"] if sees_phone else auth.mask_phone(row["contact_phone"]),
                    parent_id=row["parent_id"], parent_name=row["parent_name"], communities=list(row["communities"]),
                    community_names=list(row["community_names"]), settles_with=row["settles_with"],
                    settles_with_name=row["settles_with_name"], suspended=row["suspended_at"] is not None,
                    suspend_reason=row["suspend_reason"], staff=row["staff"], my_role=row["my_role"],
                    points=int(points))


async def get(conn: asyncpg.Connection, actor: Actor, merchant_id: int) -> Merchant:
    row = await _row(conn, actor.id, merchant_id)
    if not await _is_reader(conn, actor, row):
        raise forbidden("not this merchant's staff or a manager above it")
    return await _merchant(conn, actor, row)


def _audit_community(row: asyncpg.Record) -> int | None:
    """The community an act is filed under: the one it serves alone (a street-wide merchant: none,
    the street's managers read it through the target)."""
    return row["communities"][0] if len(row["communities"]) == 1 else None


# ---- merchants -----------------------------------------------------------------------------

def _text(value: str, field: str, most: int) -> str:
    value = " ".join((value or "").split())
    if not 1 <= len(value) <= most:
        raise invalid(field, f"1 to {most} characters")
    return value


async def create(conn: asyncpg.Connection, actor: Actor, *, parent_id: int, name: str, address: str,
                 contact_phone: str, owner_name: str, category: str,
                 community_ids: list[int] | None = None, ip: str | None = None) -> Merchant:
    """A street's or community's managers invite a merchant: the partner (kind merchant), its
    details, the communities it serves, its account, and the invitation of its owner's phone."""
    address, category = _text(address, "address", 200), _text(category, "category", CATEGORY_MAX)
    phone = auth.normalise_phone(contact_phone)
    parent = await orgs.get_org(conn, parent_id) if await conn.fetchval(
        "select exists (select 1 from orgs where id = $1)", parent_id) else None
    if parent is None or parent.kind not in ("street", "community"):
        raise invalid("parent_id", "a street or community")
    await partners.require_parent_manager(conn, actor, parent)
    if parent.kind == "community":
        if community_ids not in (None, [parent.id]):
            raise invalid("community_ids", "a community's merchant serves that community")
        served = [parent.id]
    else:
        under = await areas.communities_under(conn, parent.id)
        served = sorted(set(community_ids)) if community_ids else under
        if not served or not set(served) <= set(under):
            raise invalid("community_ids", "communities of this street")
    settles_with = served[0] if len(served) == 1 else parent.id
    async with conn.transaction():
        partner = await partners.create(conn, actor, kind="merchant", name=name, parent_id=parent.id, audited=False)
        await conn.execute(
            "insert into merchants (partner_id, address, contact_phone, category, settles_with) "
            "values ($1, $2, $3, $4, $5)", partner.id, address, phone, category, settles_with)
        await conn.execute("insert into merchant_communities (partner_id, community_id) "
                           "select $1, unnest($2::bigint[])", partner.id, served)
        await conn.execute("insert into accounts (unit, kind, org_id, partner_id) values ('points', 'merchant', $1, $2)",
                           settles_with, partner.id)
        invitation = await partners.invite(conn, actor, partner.id, phone=phone, name=owner_name, role="admin",
                                           audited=False)
        await audit.record(conn, actor, "merchant_create", community_id=served[0] if len(served) == 1 else None,
                           target=("partner", partner.id),
                           after={"name": partner.name, "category": category, "communities": served,
                                  "settles_with": settles_with, "parent_id": parent.id,
                                  "owner_invitation": invitation.id if invitation else None}, ip=ip)
    return await get(conn, actor, partner.id)


async def list_merchants(conn: asyncpg.Connection, actor: Actor, *, org_id: int | None = None) -> list[Merchant]:
    """Without org_id: the merchants I work for. With it (a street or community): those it invited
    or that serve a community under it, for the managers who read it."""
    if org_id is None:
        rows = await conn.fetch(Q.merchant_with_names + " where exists (select 1 from partner_staff s where s.partner_id = p.id "
                                "and s.user_id = $1) order by p.name, p.id", actor.id)
    else:
        org = await orgs.get_org(conn, org_id)
        under = [org_id] if org.kind == "community" else await areas.communities_under(conn, org_id)
        if org.kind not in ("street", "community", "district") or not (
                actor.is_admin or any(actor.reads(c) for c in under)):
            raise forbidden("not a manager of this street or community")
        rows = await conn.fetch(
            Q.merchant_with_names + """ where p.parent_id = $2 or exists (select 1 from merchant_communities c
                                 where c.partner_id = p.id and c.community_id = any($3::bigint[]))
                               order by p.name, p.id""", actor.id, org_id, under)
    return [await _merchant(conn, actor, r) for r in rows]


async def suspend(conn: asyncpg.Connection, actor: Actor, merchant_id: int, *, suspended: bool,
                  reason: str, ip: str | None = None) -> Merchant:
    """Suspending stops new redemptions at once (a redemption takes the merchant's row in share
    mode, this in update mode: one in flight finishes first, none starts after)."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await _row(conn, actor.id, merchant_id)
        if not await _is_overseer(conn, actor, row):
            raise forbidden("not a manager of this merchant's street or community")
        await conn.execute("select 1 from merchants where partner_id = $1 for update", merchant_id)
        await conn.execute(
            "update merchants set suspended_at = $2, suspended_by = $3, suspend_reason = $4 where partner_id = $1",
            merchant_id, clock.now() if suspended else None, actor.id if suspended else None,
            reason if suspended else None)
        await audit.record(conn, actor, "merchant_suspend", community_id=_audit_community(row),
                           target=("partner", merchant_id), before={"suspended": row["suspended_at"] is not None},
                           after={"suspended": suspended}, reason=reason, ip=ip)
    return await get(conn, actor, merchant_id)


async def set_rate(conn: asyncpg.Connection, actor: Actor, org_id: int, fen_per_point: int | None,
                   ip: str | None = None) -> Rate:
    """The money a settling level pays its merchants per point (None: goods are donated). A
    community's managers set their community's, a street's managers (or above) the street's."""
    org = await orgs.get_org(conn, org_id)
    if org.kind == "community":
        orgs.require_manager(actor, org_id)
    elif org.kind == "street":
        await orgs.require_level_manager(conn, actor, org_id)
    else:
        raise invalid("org_id", "a street or community")
    if fen_per_point is not None and not 0 <= fen_per_point <= 100000:
        raise invalid("fen_per_point", "0 to 100000")
    async with conn.transaction():
        before = await conn.fetchval("select fen_per_point from merchant_rates where org_id = $1 for update", org_id)
        if fen_per_point is None:
            await conn.execute("delete from merchant_rates where org_id = $1", org_id)
        else:
            await conn.execute(
                """Insert into merchant_rates (org_id, fen_per_point, set_by, set_at) values ($1, $2, $3, $4)
                   on conflict (org_id) do update set fen_per_point = $2, set_by = $3, set_at = $4""",
                org_id, fen_per_point, actor.id, clock.now())
        await audit.record(conn, actor, "merchant_rate", community_id=org_id if org.kind == "community" else None,
                           target=("org", org_id), before={"fen_per_point": before},
                           after={"fen_per_point": fen_per_point}, ip=ip)
    return Rate(org_id, fen_per_point)


async def get_rate(conn: asyncpg.Connection, actor: Actor, org_id: int) -> Rate:
    org = await orgs.get_org(conn, org_id)
    under = [org_id] if org.kind == "community" else await areas.communities_under(conn, org_id)
    if not (actor.is_admin or any(actor.reads(c) for c in under)):
        raise forbidden("not a manager of this street or community")
    return Rate(org_id, await conn.fetchval("select fen_per_point from merchant_rates where org_id = $1", org_id))


# ---- offers --------------------------------------------------------------------------------

_OFFER_SQL = """
    select f.*, p.name as merchant_name, m.address as merchant_address, m.category
    from merchant_offers f join partners p on p.id = f.partner_id join merchants m on m.partner_id = f.partner_id"""


def _offer(r: asyncpg.Record, my_remaining: int | None = None) -> Offer:
    return Offer(id=r["id"], merchant_id=r["partner_id"], merchant_name=r["merchant_name"],
                 merchant_address=r["merchant_address"], category=r["category"], name=r["name"],
                 description=r["description"], price_points=r["price_points"], monthly_limit=r["monthly_limit"],
                 stock=r["stock"], days=rules.mask_days(r["valid_days"]), opens=rules.show_time(r["opens"]),
                 closes=rules.show_time(r["closes"]), state=r["state"], my_remaining=my_remaining)


async def create_offer(conn: asyncpg.Connection, actor: Actor, merchant_id: int, *, name: str, description: str,
                       price_points: int, monthly_limit: int, stock: int, days: list[int], opens: str,
                       closes: str, ip: str | None = None) -> Offer:
    """The merchant's owner publishes an offer; it waits for a community manager's approval."""
    row = await _row(conn, actor.id, merchant_id)
    if row["my_role"] != "admin":
        raise forbidden("the merchant's owner publishes its offers")
    name = _text(name, "name", 60)
    description = " ".join((description or "").split())[:500]
    if not 1 <= price_points <= 1_000_000:
        raise invalid("price_points", "1 to 1000000")
    if not 1 <= monthly_limit <= 100:
        raise invalid("monthly_limit", "1 to 100")
    if not 0 <= stock <= 1_000_000:
        raise invalid("stock", "0 to 1000000")
    mask, start, end = rules.days_mask(days), rules.parse_time(opens, "opens"), rules.parse_time(closes, "closes")
    if start >= end:
        raise invalid("closes", "after opens")
    async with conn.transaction():
        offer_id = await conn.fetchval(
            """Insert into merchant_offers (partner_id, name, description, price_points, monthly_limit, stock,
                                            valid_days, opens, closes, created_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id""",
            merchant_id, name, description, price_points, monthly_limit, stock, mask, start, end, actor.id, clock.now())
        await audit.record(conn, actor, "merchant_offer_create", community_id=_audit_community(row),
                           target=("merchant_offer", offer_id),
                           after={"merchant_id": merchant_id, "name": name, "price_points": price_points,
                                  "monthly_limit": monthly_limit, "stock": stock}, ip=ip)
    return _offer(await conn.fetchrow(_OFFER_SQL + " where f.id = $1", offer_id))


async def decide_offer(conn: asyncpg.Connection, actor: Actor, offer_id: int, *, approve: bool,
                       ip: str | None = None) -> Offer:
    """A manager of a served community (or of the merchant's parent) approves a pending offer, or
    withdraws one (pending or approved). Never the merchant's own people: nobody approves their own."""
    async with conn.transaction():
        offer = await conn.fetchrow("select * from merchant_offers where id = $1 for update", offer_id)
        if offer is None:
            raise not_found("offer")
        row = await _row(conn, actor.id, offer["partner_id"])
        if not await _is_overseer(conn, actor, row):
            raise forbidden("not a manager of a community this merchant serves")
        if row["my_role"] is not None:
            raise forbidden("nobody approves their own merchant's offer")
        state = "approved" if approve else "withdrawn"
        if (approve and offer["state"] != "pending") or (not approve and offer["state"] == "withdrawn"):
            raise DomainError("invalid_state", details={"state": offer["state"]})
        await conn.execute("update merchant_offers set state = $2, decided_by = $3, decided_at = $4 where id = $1",
                           offer_id, state, actor.id, clock.now())
        await audit.record(conn, actor, "merchant_offer_decide", community_id=_audit_community(row),
                           target=("merchant_offer", offer_id), before={"state": offer["state"]},
                           after={"state": state, "merchant_id": offer["partner_id"]}, ip=ip)
    return _offer(await conn.fetchrow(_OFFER_SQL + " where f.id = $1", offer_id))


async def merchant_offers(conn: asyncpg.Connection, actor: Actor, merchant_id: int) -> list[Offer]:
    """Every offer of a merchant, any state: for its people and the managers above it."""
    row = await _row(conn, actor.id, merchant_id)
    if not await _is_reader(conn, actor, row):
        raise forbidden("not this merchant's staff or a manager above it")
    rows = await conn.fetch(_OFFER_SQL + " where f.partner_id = $1 order by f.id desc", merchant_id)
    return [_offer(r) for r in rows]


async def _used_this_month(conn: asyncpg.Connection, offer_id: int, user_id: int) -> int:
    start, end = clock.month_bounds(clock.now())
    return await conn.fetchval(
        "select count(*) from merchant_redemptions where offer_id = $1 and user_id = $2 and refunded_at is null "
        "and redeemed_at >= $3 and redeemed_at < $4", offer_id, user_id, start, end)


async def offers_for_me(conn: asyncpg.Connection, actor: Actor) -> list[Offer]:
    """Approved offers of active merchants serving a community where I may spend points: my own
    communities and, as a guest, those of their spending areas (as in community shops)."""
    mine = set(await orgs.member_communities(conn, actor.id))
    where = sorted(mine | await areas.guest_communities(conn, mine, "points"))
    rows = await conn.fetch(
        _OFFER_SQL + """ where f.state = 'approved' and m.suspended_at is null
                          and exists (select 1 from merchant_communities c where c.partner_id = f.partner_id
                                      and c.community_id = any($1::bigint[]))
                          and not exists (select 1 from partner_staff s where s.partner_id = f.partner_id
                                          and s.user_id = $2)
                        order by f.id desc limit 200""", where, actor.id)
    return [_offer(r, max(r["monthly_limit"] - await _used_this_month(conn, r["id"], actor.id), 0)) for r in rows]


# ---- the spending area ---------------------------------------------------------------------

async def spending_community(conn: asyncpg.Connection, user_id: int, served: list[int]) -> int:
    """Where a person's points are spent at a merchant: a served community they belong to, else the
    first served community of their spending area (a guest, as in shops); else `outside_area`."""
    mine = set(await orgs.member_communities(conn, user_id))
    for community in sorted(served):
        if community in mine:
            return community
    for community in sorted(served):
        if await areas.may_visit(conn, user_id, community, "points"):
            return community
    raise DomainError("outside_area", details={"community_id": sorted(served)[0], "unit": "points"})


async def _refuse_own(conn: asyncpg.Connection, merchant_id: int, user_id: int) -> None:
    if await partners.staff_role(conn, user_id, merchant_id) is not None:
        raise DomainError("forbidden", details={"why": "a merchant cannot redeem for itself or its staff",
                                                "rule": "own_merchant"})


def _refuse_suspended(row: asyncpg.Record) -> None:
    if row["suspended_at"] is not None:
        raise DomainError("merchant_suspended", details={"merchant_id": row["id"]})


# ---- vouchers and the counter ----------------------------------------------------------------

async def take_offer(conn: asyncpg.Connection, actor: Actor, offer_id: int) -> VoucherOut:
    """The resident takes an approved offer: a voucher code valid VOUCHER_MINUTES to show at the
    counter. The checks of the counter run here too, so the resident hears a refusal at once."""
    offer = await conn.fetchrow(_OFFER_SQL + " where f.id = $1", offer_id)
    if offer is None or offer["state"] != "approved":
        raise not_found("offer")
    row = await _row(conn, actor.id, offer["partner_id"])
    _refuse_suspended(row)
    await _refuse_own(conn, row["id"], actor.id)
    community = await spending_community(conn, actor.id, row["communities"])
    rules.check_open(clock.now(), offer["valid_days"], offer["opens"], offer["closes"])
    rules.check_take(stock=offer["stock"], monthly_limit=offer["monthly_limit"],
                     used_this_month=await _used_this_month(conn, offer_id, actor.id))
    await _require_points(conn, actor.id, community, offer["price_points"])
    now = clock.now()
    expires_at = now + timedelta(minutes=rules.VOUCHER_MINUTES)
    async with conn.transaction():
        voucher_id = await conn.fetchval("select nextval(pg_get_serial_sequence('merchant_vouchers', 'id'))")
        code = await codes.issue(conn, "offer", voucher_id, valid_from=now, valid_until=expires_at)
        await conn.execute(
            "insert into merchant_vouchers (id, offer_id, user_id, code, community_id, created_at, expires_at) "
            "overriding system value values ($1, $2, $3, $4, $5, $6, $7)",
            voucher_id, offer_id, actor.id, code.code, community, now, expires_at)
    url = codes.url_for(code.code)
    return VoucherOut(code=code.code, display=codes.display(code.code), url=url, svg=qr.qr_svg(url),
                      expires_at=expires_at, offer=_offer(offer))


async def _require_points(conn: asyncpg.Connection, user_id: int, community: int, price: int) -> None:
    area = await areas.area_of(conn, community, "points")
    rows = await conn.fetch(LEDGER.available_points_by_community, user_id)
    here = sum(r["available"] for r in rows if r["org_id"] in area)
    if here < price:
        total = sum(r["available"] for r in rows)
        if total >= price:
            raise DomainError("not_spendable_here", details={"available_here": here, "available": total,
                                                             "needed": price, "unit": "points",
                                                             "community_id": community})
        raise DomainError("insufficient_balance", details={"available": here, "needed": price})


async def _staff_row(conn: asyncpg.Connection, actor: Actor, merchant_id: int) -> asyncpg.Record:
    row = await _row(conn, actor.id, merchant_id)
    if row["my_role"] is None:
        raise forbidden("the merchant's staff work its counter")
    return row


async def _voucher(conn: asyncpg.Connection, merchant_id: int, text: str, *, lock: bool) -> asyncpg.Record:
    found = await codes.find(conn, codes.code_from_text(text))
    if found is None or found.kind != "offer":
        raise DomainError("code_unknown")
    voucher = await conn.fetchrow(
        "select v.*, f.partner_id, f.name as offer_name, f.price_points, u.name as user_name "
        "from merchant_vouchers v join merchant_offers f on f.id = v.offer_id join users u on u.id = v.user_id "
        "where v.id = $1" + (" for update of v" if lock else ""), found.target_id)
    if voucher is None or voucher["partner_id"] != merchant_id:
        raise DomainError("code_unknown")
    return voucher


async def preview(conn: asyncpg.Connection, actor: Actor, merchant_id: int, text: str) -> VoucherPreview:
    """What the counter sees before confirming: the offer and the person's masked name."""
    await _staff_row(conn, actor, merchant_id)
    v = await _voucher(conn, merchant_id, text, lock=False)
    return VoucherPreview(code=v["code"], offer_id=v["offer_id"], offer_name=v["offer_name"],
                          price_points=v["price_points"], person=mask_name(v["user_name"]),
                          expires_at=v["expires_at"], used=v["used_at"] is not None,
                          expired=v["expires_at"] <= clock.now())


_REDEMPTION_SQL = """
    select r.*, u.name as user_name from merchant_redemptions r join users u on u.id = r.user_id"""


def _redemption(r: asyncpg.Record) -> MerchantRedemption:
    return MerchantRedemption(id=r["id"], merchant_id=r["partner_id"], offer_id=r["offer_id"],
                              offer_name=r["offer_name"], person=mask_name(r["user_name"]),
                              community_id=r["community_id"], via=r["via"], points=r["points"],
                              redeemed_at=r["redeemed_at"], refunded_at=r["refunded_at"],
                              refund_reason=r["refund_reason"])


async def redeem(conn: asyncpg.Connection, actor: Actor, merchant_id: int, *, code: str | None = None,
                 card: str | None = None, offer_id: int | None = None, ip: str | None = None) -> MerchantRedemption:
    """Staff confirm a voucher (or, for a resident without a phone, a member card and an offer):
    the points move from the person to the merchant in one transaction, or nothing happens.

    Lock order: the merchant (share: a suspension waits for this, and this for it), the voucher,
    the offer, then the ledger's accounts (ledger.spend). Two counters confirming one voucher: the
    second waits on the voucher's row and then finds it used."""
    if (code is None) == (card is None):
        raise invalid("code", "a voucher code, or a member card with an offer")
    if card is not None and offer_id is None:
        raise invalid("offer_id", "required with a member card")
    now = clock.now()
    async with conn.transaction():
        row = await _staff_row(conn, actor, merchant_id)
        await conn.execute("select 1 from merchants where partner_id = $1 for share", merchant_id)
        row = await _row(conn, actor.id, merchant_id)  # as it is now that a suspension cannot slip in
        _refuse_suspended(row)
        voucher = None
        if code is not None:
            voucher = await _voucher(conn, merchant_id, code, lock=True)
            if voucher["used_at"] is not None:
                raise DomainError("already_used")
            if voucher["expires_at"] <= now:
                raise DomainError("code_expired", details={"expired_at": voucher["expires_at"].isoformat()})
            user_id, offer_id = voucher["user_id"], voucher["offer_id"]
        else:
            found = await codes.find(conn, codes.code_from_text(card))
            if found is None or found.kind != "member" or found.revoked_at is not None:
                raise DomainError("code_unknown")
            user_id = found.target_id
            if await conn.fetchval("select phone from users where id = $1", user_id) is not None:
                raise DomainError("forbidden", field="card", details={
                    "why": "a member card alone is for residents without a phone: show a voucher",
                    "rule": "card_needs_phoneless"})
        await _refuse_own(conn, merchant_id, user_id)
        assert offer_id is not None  # the voucher's, or given with the card (checked above)
        offer = await conn.fetchrow("select * from merchant_offers where id = $1 for update", offer_id)
        if offer is None or offer["partner_id"] != merchant_id or offer["state"] != "approved":
            raise not_found("offer")
        community = await spending_community(conn, user_id, row["communities"])
        rules.check_open(now, offer["valid_days"], offer["opens"], offer["closes"])
        rules.check_take(stock=offer["stock"], monthly_limit=offer["monthly_limit"],
                         used_this_month=await _used_this_month(conn, offer_id, user_id))
        if voucher is None:
            start, end = clock.day_bounds(now)
            today = await conn.fetchval(
                "select coalesce(sum(points), 0) from merchant_redemptions where user_id = $1 and via = 'card' "
                "and refunded_at is null and redeemed_at >= $2 and redeemed_at < $3", user_id, start, end)
            rules.check_card_day(today, offer["price_points"])
        redemption_id = await conn.fetchval(
            """Insert into merchant_redemptions (partner_id, offer_id, offer_name, user_id, community_id, via,
                                                 voucher_id, points, staff_id, redeemed_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id""",
            merchant_id, offer_id, offer["name"], user_id, community, "voucher" if voucher else "card",
            voucher["id"] if voucher else None, offer["price_points"], actor.id, now)
        await ledger.spend(conn, user_id=user_id, unit="points", amount=offer["price_points"], where=community,
                           area=await areas.area_of(conn, community, "points"), kind="redemption",
                           credit=row["account_id"], cause=("merchant_redemption", redemption_id),
                           memo=f"{row['name']}·{offer['name']}", actor_id=actor.id,
                           key=f"merchant-redemption:{redemption_id}")
        await conn.execute("update merchant_offers set stock = stock - 1 where id = $1", offer_id)
        if voucher is not None:
            await conn.execute("update merchant_vouchers set used_at = $2 where id = $1", voucher["id"], now)
            await conn.execute("update codes set used_at = $2 where code = $1", voucher["code"], now)
        await audit.record(conn, actor, "merchant_redeem", community_id=community,
                           target=("merchant_redemption", redemption_id),
                           after={"merchant_id": merchant_id, "offer_id": offer_id, "user_id": user_id,
                                  "points": offer["price_points"], "via": "voucher" if voucher else "card"}, ip=ip)
        await _check_velocity(conn, merchant_id, user_id, actor.id, community)
    return _redemption(await conn.fetchrow(_REDEMPTION_SQL + " where r.id = $1", redemption_id))


async def _check_velocity(conn: asyncpg.Connection, merchant_id: int, user_id: int, staff_id: int,
                          community: int) -> None:
    """Flags (never blocking) to the street's queue: a merchant redeeming far more than usual in a
    day (about the staff member who confirmed), a person redeeming far more than usual (about them)."""
    start, end = clock.day_bounds(clock.now())
    at_merchant = await conn.fetchval("select count(*) from merchant_redemptions where partner_id = $1 "
                                      "and redeemed_at >= $2 and redeemed_at < $3", merchant_id, start, end)
    if at_merchant > rules.MERCHANT_DAILY_FLAG:
        await oversight.flag(conn, community, staff_id, "merchant_velocity",
                             {"merchant_id": merchant_id, "today": at_merchant})
    by_person = await conn.fetchval("select count(*) from merchant_redemptions where user_id = $1 "
                                    "and redeemed_at >= $2 and redeemed_at < $3", user_id, start, end)
    if by_person > rules.PERSON_DAILY_FLAG:
        await oversight.flag(conn, community, user_id, "person_velocity",
                             {"merchant_id": merchant_id, "today": by_person})


async def refund(conn: asyncpg.Connection, actor: Actor, redemption_id: int, reason: str,
                 ip: str | None = None) -> MerchantRedemption:
    """The same local day, the merchant's staff give the points back: a reversal of every part of
    the spend, the stock back, with the reason."""
    reason = clean_reason(reason)
    async with conn.transaction():
        r = await conn.fetchrow("select * from merchant_redemptions where id = $1 for update", redemption_id)
        if r is None:
            raise not_found("redemption")
        await _staff_row(conn, actor, r["partner_id"])
        if r["refunded_at"] is not None:
            raise DomainError("invalid_state", details={"state": "refunded"})
        rules.check_refund_day(r["redeemed_at"], clock.now())
        parts = await ledger.parts_of(conn, ("merchant_redemption", redemption_id), "redemption", "posted")
        await ledger.reverse_group(conn, parts, actor_id=actor.id, reason=reason,
                                   key=f"merchant-refund:{redemption_id}")
        await conn.execute("update merchant_offers set stock = stock + 1 where id = $1", r["offer_id"])
        await conn.execute("update merchant_redemptions set refunded_at = $2, refunded_by = $3, refund_reason = $4 "
                           "where id = $1", redemption_id, clock.now(), actor.id, reason)
        await audit.record(conn, actor, "merchant_refund", community_id=r["community_id"],
                           target=("merchant_redemption", redemption_id),
                           after={"merchant_id": r["partner_id"], "points": r["points"]}, reason=reason, ip=ip)
    return _redemption(await conn.fetchrow(_REDEMPTION_SQL + " where r.id = $1", redemption_id))


async def redemptions(conn: asyncpg.Connection, actor: Actor, merchant_id: int, *, today_only: bool = True
                      ) -> list[MerchantRedemption]:
    """The counter's list: today's redemptions (refund from here)."""
    row = await _row(conn, actor.id, merchant_id)
    if not await _is_reader(conn, actor, row):
        raise forbidden("not this merchant's staff or a manager above it")
    start, _ = clock.day_bounds(clock.now())
    rows = await conn.fetch(_REDEMPTION_SQL + " where r.partner_id = $1 and r.redeemed_at >= $2 "
                            "order by r.id desc limit 200", merchant_id, start if today_only else datetime.min)
    return [_redemption(r) for r in rows]


# ---- the monthly statement ---------------------------------------------------------------------

def _month(month: str | None) -> tuple[str, datetime, datetime]:
    first = clock.parse_month(month or clock.month_of(clock.now()))
    start, end = clock.month_span(first)
    return first.strftime("%Y-%m"), start, end


async def statement(conn: asyncpg.Connection, actor: Actor, merchant_id: int, month: str | None = None) -> Statement:
    """Per merchant and local month: its redemptions and refunds, the net points, what they came
    from (the issuing communities, from the ledger itself) and, if the settling level sets a rate,
    their money equivalent."""
    row = await _row(conn, actor.id, merchant_id)
    if not await _is_reader(conn, actor, row):
        raise forbidden("not this merchant's staff or a manager above it")
    month, start, end = _month(month)
    lines = await conn.fetch(
        _REDEMPTION_SQL + """ where r.partner_id = $1 and ((r.redeemed_at >= $2 and r.redeemed_at < $3)
                               or (r.refunded_at >= $2 and r.refunded_at < $3)) order by r.redeemed_at, r.id""",
        merchant_id, start, end)
    redeemed = [r for r in lines if start <= r["redeemed_at"] < end]
    refunded = [r for r in lines if r["refunded_at"] is not None and start <= r["refunded_at"] < end]
    points = sum(r["points"] for r in redeemed) - sum(r["points"] for r in refunded)
    by_issuer = await merchant_issuers(conn, [merchant_id], start, end)
    rate = await conn.fetchval("select fen_per_point from merchant_rates where org_id = $1", row["settles_with"])
    return Statement(merchant_id=merchant_id, merchant_name=row["name"], month=month,
                     settles_with=row["settles_with"], settles_with_name=row["settles_with_name"],
                     redemptions=len(redeemed), refunds=len(refunded), points=points, fen_per_point=rate,
                     money_fen=rules.money_fen(points, rate),
                     by_issuer=[IssuerLine(r["issuer_id"], r["issuer_name"], r["points"]) for r in by_issuer],
                     lines=[_redemption(r) for r in lines])


async def merchant_issuers(conn: asyncpg.Connection, merchant_ids: list[int], start: datetime,
                           end: datetime) -> list[asyncpg.Record]:
    """Net points per merchant and issuing community in [start, end), read from the transfers into
    (and reversals out of) the merchants' accounts: the community is that of the person's account."""
    return await conn.fetch(
        Q.merchant_issuers, merchant_ids, start, end)


STATEMENT_HEADER = ["日期", "商品", "居民", "方式", "积分", "退回时间", "退回原因"]


def _local(at: datetime | None) -> str:
    return clock.local_time(at).strftime("%Y-%m-%d %H:%M") if at else ""


def statement_csv(s: Statement) -> bytes:
    rows = [[_local(r.redeemed_at), r.offer_name, r.person, "会员卡" if r.via == "card" else "兑换码",
             r.points, _local(r.refunded_at), r.refund_reason or ""] for r in s.lines]
    rows.append(["合计", f"兑换{s.redemptions}笔，退回{s.refunds}笔", "", "", s.points, "", ""])
    if s.money_fen is not None:
        rows.append(["折合金额（元）", f"{s.money_fen / 100:.2f}", "", "", "", "", ""])
    return to_csv(STATEMENT_HEADER, rows)


def statement_pdf(s: Statement) -> bytes:
    """An A4 page (or more) drawn with Pillow, like the member cards. CPU work: run it in a thread."""
    from PIL import Image, ImageDraw
    dpi = 150
    px = lambda mm: round(mm * dpi / 25.4)  # noqa: E731
    width, height = px(210), px(297)
    pages: list[Image.Image] = []
    title = qr._font(px(6), True)
    body = qr._font(px(3.6), False)
    bold = qr._font(px(3.6), True)
    head = [f"{s.merchant_name} · {s.month} 月度对账单",
            f"结算单位：{s.settles_with_name}",
            f"兑换 {s.redemptions} 笔，退回 {s.refunds} 笔，合计 {s.points} 积分"
            + (f"，折合 {s.money_fen / 100:.2f} 元" if s.money_fen is not None else "（商家捐赠，不折算金额）")]
    head += [f"来自 {i.community_name}：{i.points} 积分" for i in s.by_issuer]
    lines = [f"{_local(r.redeemed_at)}  {r.offer_name}  {r.person}  {r.points}"
             + (f"  已退回：{r.refund_reason}" if r.refunded_at else "") for r in s.lines]
    y = height
    page = draw = None
    for i, text in enumerate(["@title"] + head + [""] + lines):
        if page is None or y > height - px(20):
            page = Image.new("RGB", (width, height), "white")
            draw = ImageDraw.Draw(page)
            pages.append(page)
            y = px(20)
        if text == "@title":
            continue
        assert draw is not None  # a page was begun above
        font = title if i == 1 else bold if i <= len(head) else body
        draw.text((px(18), y), text[:70], font=font, fill=qr.INK)
        y += px(9) if i == 1 else px(6)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi, title="邻里 商家对账单")
    return out.getvalue()


async def statement_pdf_async(s: Statement) -> bytes:
    return await asyncio.to_thread(statement_pdf, s)


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

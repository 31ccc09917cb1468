"""The moral supermarket (道德超市): rewards, their stock, redemptions and vouchers.

A redemption is one short transaction per step, each holding its rows in one lock order
(redemption, then reward, then the ledger's accounts) so two steps never deadlock:
- request: lock the reward, check (active, stock, monthly limit, then the balance in the ledger),
  hold the points (user -> community supermarket account), take the stock, insert the redemption;
- approve: post the hold, issue a single-use voucher code;
- reject / cancel / expiry of a request: void the hold, put the stock back;
- voucher scan (POST /api/scans): approved -> fulfilled, the code marked used;
- expiry of an approved voucher: refund by a reversal of the posted transfer, put the stock back;
- on the spot: a manager scans a member card, and the redemption is created fulfilled, posted directly.
Rules without a database live in domain/redemption_rules.py.
"""

import asyncio
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
import msgspec

from domain import ledger, notify, oversight
from domain.checkin import scans
from domain.core import audit, clock, codes, metrics, photos, qr, queries, sweeper
from domain.core.actor import Actor, PersonRef
from domain.core.codes import Code
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.ledger import areas
from domain.people import community_policy, orgs
from domain.supermarket import rules

Q = queries.load("supermarket")

IMAGE_SIDE = 480  # px: reward pictures are shown small, in lists on phones
# A picture shown 480 px wide needs no more: 16 million pixels (a 4000×4000 PNG, 64 MB to decode)
# bounds the work one upload makes. Phone JPEGs of any size pass: they decode at a reduced scale.
IMAGE_MAX_PIXELS = 16_000_000


# ---- types ----------------------------------------------------------------------------------

class Reward(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    community_id: int
    community_name: str
    name: str
    description: str
    cost_points: int
    stock: int
    per_person_limit: int | None
    active: bool
    image_url: str | None
    created_at: datetime
    updated_at: datetime
    my_remaining: int | None = None  # this month's allowance left for the reader; null: no limit


class RewardPage(msgspec.Struct, frozen=True):
    items: list[Reward]
    next_cursor: str | None


class StockChange(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    delta: int
    stock_after: int
    reason: str
    actor: PersonRef | None
    redemption_id: int | None
    created_at: datetime


class StockChangePage(msgspec.Struct, frozen=True):
    items: list[StockChange]
    next_cursor: str | None


class Redemption(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    state: str
    user: PersonRef
    reward_id: int
    reward_name: str
    reward_image_url: str | None
    community_id: int
    community_name: str
    quantity: int
    points: int
    on_the_spot: bool
    reason: str | None
    refunded: bool
    expires_at: datetime | None
    requested_at: datetime
    decided_at: datetime | None
    decided_by: PersonRef | None
    fulfilled_at: datetime | None
    fulfilled_by: PersonRef | None
    requester_balance: ledger.Balance | None = None  # in managers' queues: can they afford it?


class RedemptionPage(msgspec.Struct, frozen=True):
    items: list[Redemption]
    next_cursor: str | None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    from_state: str | None
    to_state: str
    actor: PersonRef | None
    reason: str | None
    at: datetime


class RedemptionDetail(Redemption, frozen=True, kw_only=True):
    events: list[Event]


class Voucher(msgspec.Struct, frozen=True, kw_only=True):
    redemption_id: int
    code: str
    url: str
    svg: str
    expires_at: datetime | None


class Counts(msgspec.Struct, frozen=True):
    requested: int
    approved: int


# ---- rewards --------------------------------------------------------------------------------

_REWARD_COLUMNS = """
    r.id, r.community_id, o.name as community_name, r.name, r.description, r.cost_points, r.stock,
    r.per_person_limit, r.active, r.image is not null as has_image, r.image_version, r.created_at, r.updated_at"""
_REWARD_SQL = f"select {_REWARD_COLUMNS} from rewards r join orgs o on o.id = r.community_id"


def _image_url(reward_id: int, has_image: bool, version: int) -> str | None:
    return f"/api/rewards/{reward_id}/image?v={version}" if has_image else None


def _reward(row: asyncpg.Record, my_remaining: int | None = None) -> Reward:
    return Reward(id=row["id"], community_id=row["community_id"], community_name=row["community_name"],
                  name=row["name"], description=row["description"], cost_points=row["cost_points"],
                  stock=row["stock"], per_person_limit=row["per_person_limit"], active=row["active"],
                  image_url=_image_url(row["id"], row["has_image"], row["image_version"]),
                  created_at=row["created_at"], updated_at=row["updated_at"], my_remaining=my_remaining)


async def get_reward(conn: asyncpg.Connection, reward_id: int) -> Reward:
    row = await conn.fetchrow(f"{_REWARD_SQL} where r.id = $1", reward_id)
    if row is None:
        raise not_found("reward")
    return _reward(row)


async def _lock_reward(conn: asyncpg.Connection, reward_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "select id, community_id, name, cost_points, stock, per_person_limit, active from rewards "
        "where id = $1 for update", reward_id)
    if row is None:
        raise not_found("reward")
    return row


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise invalid("name", "required")
    return name


async def create_reward(conn: asyncpg.Connection, actor: Actor, *, community_id: int, name: str,
                        description: str = "", cost_points: int, stock: int,
                        per_person_limit: int | None = None, active: bool = True) -> Reward:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "rewards belong to a community")
    orgs.require_manager(actor, community_id)
    if cost_points <= 0:
        raise invalid("cost_points", "must be positive")
    if stock < 0:
        raise invalid("stock", "must not be negative")
    if per_person_limit is not None and per_person_limit <= 0:
        raise invalid("per_person_limit", "must be positive, or empty for no limit")
    now = clock.now()
    async with conn.transaction():
        reward_id = await conn.fetchval(
            """Insert into rewards (community_id, name, description, cost_points, stock, per_person_limit, active,
                                    created_by, created_at, updated_at)
               values ($1, $2, $3, $4, 0, $5, $6, $7, $8, $8) returning id""",
            community_id, _name(name), (description or "").strip(), cost_points, per_person_limit, active,
            actor.id, now)
        if stock:
            await _move_stock(conn, reward_id, stock, actor_id=actor.id, reason="初始库存")
        await audit.record(conn, actor, "reward_create", community_id=community_id, target=("reward", reward_id),
                           after={"name": _name(name), "cost_points": cost_points, "stock": stock,
                                  "per_person_limit": per_person_limit, "active": active})
    return await get_reward(conn, reward_id)


async def update_reward(conn: asyncpg.Connection, actor: Actor, reward_id: int, changes: dict[str, Any],
                        stock: int | None = None, stock_reason: str | None = None) -> Reward:
    """Edit the offer. Requests already made keep the points they were asked for.

    A new `stock` is recorded as a change with `stock_reason`, like any other stock change.
    """
    async with conn.transaction():
        reward = await _lock_reward(conn, reward_id)
        orgs.require_manager(actor, reward["community_id"])
        fields = {}
        for field, value in changes.items():
            if field == "name":
                value = _name(value)
            elif field == "description":
                value = (value or "").strip()
            elif field == "cost_points" and (value is None or value <= 0):
                raise invalid("cost_points", "must be positive")
            elif field == "per_person_limit" and value is not None and value <= 0:
                raise invalid("per_person_limit", "must be positive, or empty for no limit")
            elif field == "active" and value is None:
                raise invalid("active", "true or false")
            elif field not in ("cost_points", "per_person_limit", "active"):
                raise invalid(field, "cannot be changed")
            fields[field] = value
        if fields:
            assignments = ", ".join(f"{field} = ${i}" for i, field in enumerate(fields, start=3))
            await conn.execute(f"update rewards set updated_at = $2, {assignments} where id = $1",
                               reward_id, clock.now(), *fields.values())
        if stock is not None and stock != reward["stock"]:
            await _change_stock(conn, actor, reward, stock - reward["stock"], stock_reason, field="stock")
            fields["stock"] = stock
        if fields:  # one row for the whole edit, a new stock included
            await audit.record(conn, actor, "reward_edit", community_id=reward["community_id"],
                               target=("reward", reward_id),
                               before={f: reward[f] for f in fields if f in reward.keys()}, after=fields,
                               reason=stock_reason if "stock" in fields else None)
    return await get_reward(conn, reward_id)


async def change_stock(conn: asyncpg.Connection, actor: Actor, reward_id: int, delta: int, reason: str) -> Reward:
    """Goods came in (delta > 0) or were lost, spoiled or counted short (delta < 0); the reason is required."""
    async with conn.transaction():
        reward = await _lock_reward(conn, reward_id)
        orgs.require_manager(actor, reward["community_id"])
        await _change_stock(conn, actor, reward, delta, reason, field="delta")
        await audit.record(conn, actor, "stock_change", community_id=reward["community_id"],
                           target=("reward", reward_id), before={"stock": reward["stock"]},
                           after={"stock": reward["stock"] + delta, "delta": delta}, reason=reason)
    return await get_reward(conn, reward_id)


async def _change_stock(conn: asyncpg.Connection, actor: Actor, reward: asyncpg.Record, delta: int,
                        reason: str | None, *, field: str) -> None:
    reason = clean_reason(reason)
    if delta == 0:
        raise invalid(field, "no change")
    if reward["stock"] + delta < 0:
        raise DomainError("validation_failed", field=field,
                          details={"problem": "stock would be negative", "stock": reward["stock"]})
    await _move_stock(conn, reward["id"], delta, actor_id=actor.id, reason=reason)


async def _move_stock(conn: asyncpg.Connection, reward_id: int, delta: int, *, actor_id: int | None, reason: str,
                      redemption_id: int | None = None) -> int:
    """The one writer of rewards.stock: the new stock and its recorded change, together.
    The caller holds the reward's row lock."""
    stock = await conn.fetchval("update rewards set stock = stock + $2, updated_at = $3 where id = $1 "
                                "returning stock", reward_id, delta, clock.now())
    await conn.execute(
        "insert into reward_stock_changes (reward_id, delta, stock_after, reason, actor_id, redemption_id, created_at) "
        "values ($1, $2, $3, $4, $5, $6, $7)", reward_id, delta, stock, reason, actor_id, redemption_id, clock.now())
    return stock


async def require_reward_manager(conn: asyncpg.Connection, actor: Actor, reward_id: int) -> None:
    """404 for no such reward, 403 for anyone but a manager of its community."""
    community_id = await conn.fetchval("select community_id from rewards where id = $1", reward_id)
    if community_id is None:
        raise not_found("reward")
    orgs.require_manager(actor, community_id)


async def set_image(conn: asyncpg.Connection, actor: Actor, reward_id: int, data: bytes | None) -> Reward:
    """Store a picture re-encoded small and without metadata; None removes it.

    The right to change the reward is checked before anything is decoded, and the decode runs in a
    thread: it costs up to a second of CPU, which on the event loop would stall every request."""
    await require_reward_manager(conn, actor, reward_id)
    image = None
    if data is not None:
        image = await asyncio.to_thread(photos.thumbnail, data, IMAGE_SIDE, IMAGE_MAX_PIXELS)
    async with conn.transaction():
        reward = await _lock_reward(conn, reward_id)
        orgs.require_manager(actor, reward["community_id"])
        await conn.execute("update rewards set image = $2, image_version = image_version + 1, updated_at = $3 "
                           "where id = $1", reward_id, image, clock.now())
        await audit.record(conn, actor, "reward_edit", community_id=reward["community_id"],
                           target=("reward", reward_id), after={"image": "set" if image else "removed"})
    return await get_reward(conn, reward_id)


async def reward_image(conn: asyncpg.Connection, reward_id: int) -> bytes:
    image = await conn.fetchval("select image from rewards where id = $1", reward_id)
    if image is None:
        raise not_found("image")
    return image


async def shop_communities(conn: asyncpg.Connection, actor: Actor) -> set[int]:
    """The shops a person uses as their own: the communities they belong to or manage."""
    return set(await orgs.member_communities(conn, actor.id)) | set(actor.manages)


async def _require_shopper(conn: asyncpg.Connection, actor: Actor, community_id: int, user_id: int | None = None,
                           *, reading: bool = False) -> None:
    """A person may shop in a community they belong to (or manage), or as a guest in any community
    of its points spending area (通兑范围, domain/ledger/areas.py); elsewhere `outside_area`.
    Admins may read every catalogue, but shop only where anyone else could."""
    user_id = actor.id if user_id is None else user_id
    if user_id == actor.id and ((reading and actor.is_admin) or community_id in actor.manages):
        return
    if community_id in await orgs.member_communities(conn, user_id):
        return
    await areas.require_visit(conn, user_id, community_id, "points")


async def read_reward(conn: asyncpg.Connection, actor: Actor, reward_id: int) -> Reward:
    reward = await get_reward(conn, reward_id)
    await _require_shopper(conn, actor, reward.community_id, reading=True)
    return reward


async def list_rewards(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None,
                       include_inactive: bool, limit: int, after: int) -> RewardPage:
    """The catalogue of my communities (or of one), active rewards only unless a manager asks."""
    if community_id is None:
        # My shops, and as a guest those of the points spending areas (通兑范围) of my communities.
        mine = await shop_communities(conn, actor)
        communities = sorted(mine | await areas.guest_communities(
            conn, await orgs.member_communities(conn, actor.id), "points"))
        show_inactive = False
    else:
        await _require_shopper(conn, actor, community_id, reading=True)
        communities = [community_id]
        show_inactive = include_inactive and actor.can_manage(community_id)
    start, end = rules.month_bounds(clock.now())
    rows = await conn.fetch(
        f"""select {_REWARD_COLUMNS},
                   (select coalesce(sum(d.quantity), 0) from redemptions d
                     where d.reward_id = r.id and d.user_id = $5 and d.state = any($6::text[])
                       and d.requested_at >= $7 and d.requested_at < $8) as used
            from rewards r join orgs o on o.id = r.community_id
            where r.community_id = any($1::bigint[]) and ($2 or r.active) and r.id > $3
            order by r.id limit $4""",
        communities, show_inactive, after, limit + 1, actor.id, list(rules.COUNTED_STATES), start, end)
    items = [_reward(r, rules.remaining_allowance(r["per_person_limit"], r["used"])) for r in rows[:limit]]
    return RewardPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


async def stock_changes(conn: asyncpg.Connection, actor: Actor, reward_id: int, limit: int,
                        before: int) -> StockChangePage:
    reward = await get_reward(conn, reward_id)
    orgs.require_manager(actor, reward.community_id)
    rows = await conn.fetch(
        """Select c.id, c.delta, c.stock_after, c.reason, c.actor_id, u.name as actor_name, c.redemption_id,
                  c.created_at
           from reward_stock_changes c left join users u on u.id = c.actor_id
           where c.reward_id = $1 and ($2 = 0 or c.id < $2) order by c.id desc limit $3""",
        reward_id, before, limit + 1)
    items = [StockChange(id=r["id"], delta=r["delta"], stock_after=r["stock_after"], reason=r["reason"],
                         actor=PersonRef(r["actor_id"], r["actor_name"]) if r["actor_id"] else None,
                         redemption_id=r["redemption_id"], created_at=r["created_at"]) for r in rows[:limit]]
    return StockChangePage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


# ---- reading redemptions --------------------------------------------------------------------

_REDEMPTION_SQL = """
    select d.*, u.name as user_name, o.name as community_name, db.name as decided_by_name,
           fb.name as fulfilled_by_name, rw.image is not null as has_image, rw.image_version
    from redemptions d join users u on u.id = d.user_id join orgs o on o.id = d.community_id
    join rewards rw on rw.id = d.reward_id
    left join users db on db.id = d.decided_by left join users fb on fb.id = d.fulfilled_by"""


def _redemption(row: asyncpg.Record, balance: ledger.Balance | None = None) -> Redemption:
    return Redemption(
        id=row["id"], state=row["state"], user=PersonRef(row["user_id"], row["user_name"]),
        reward_id=row["reward_id"], reward_name=row["reward_name"],
        reward_image_url=_image_url(row["reward_id"], row["has_image"], row["image_version"]),
        community_id=row["community_id"], community_name=row["community_name"], quantity=row["quantity"],
        points=row["points"], on_the_spot=row["on_the_spot"], reason=row["reason"],
        refunded=row["refund_transfer_id"] is not None, expires_at=row["expires_at"],
        requested_at=row["requested_at"], decided_at=row["decided_at"],
        decided_by=PersonRef(row["decided_by"], row["decided_by_name"]) if row["decided_by"] else None,
        fulfilled_at=row["fulfilled_at"],
        fulfilled_by=PersonRef(row["fulfilled_by"], row["fulfilled_by_name"]) if row["fulfilled_by"] else None,
        requester_balance=balance)


async def _fetch(conn: asyncpg.Connection, redemption_id: int) -> Redemption:
    row = await conn.fetchrow(f"{_REDEMPTION_SQL} where d.id = $1", redemption_id)
    if row is None:
        raise not_found("redemption")
    return _redemption(row)


def _may_read(actor: Actor, row: asyncpg.Record | Redemption) -> bool:
    user_id = row.user.id if isinstance(row, Redemption) else row["user_id"]
    community_id = row.community_id if isinstance(row, Redemption) else row["community_id"]
    return actor.id == user_id or actor.can_manage(community_id)


async def get_redemption(conn: asyncpg.Connection, actor: Actor, redemption_id: int) -> RedemptionDetail:
    redemption = await _fetch(conn, redemption_id)
    if not _may_read(actor, redemption):
        raise forbidden("not your redemption")
    rows = await conn.fetch(
        """Select e.from_state, e.to_state, e.actor_id, u.name as actor_name, e.reason, e.created_at
           from redemption_events e left join users u on u.id = e.actor_id
           where e.redemption_id = $1 order by e.id""", redemption_id)
    events = [Event(from_state=r["from_state"], to_state=r["to_state"], reason=r["reason"], at=r["created_at"],
                    actor=PersonRef(r["actor_id"], r["actor_name"]) if r["actor_id"] else None) for r in rows]
    return RedemptionDetail(**msgspec.structs.asdict(redemption), events=events)


async def list_redemptions(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None,
                           state: str | None, limit: int, cursor: int) -> RedemptionPage:
    """Mine (no community_id), newest first; or a community's queue (its managers), where open
    states (requested, approved) come oldest first: who waits longest is served first."""
    if state is not None and state not in rules.STATES:
        raise invalid("state", "one of " + ", ".join(rules.STATES))
    oldest_first = community_id is not None and state in rules.OPEN_STATES
    if community_id is None:
        scope, scope_id = "d.user_id = $1", actor.id
    else:
        orgs.require_manager(actor, community_id)
        scope, scope_id = "d.community_id = $1", community_id
    page = "d.id > $3" if oldest_first else "($3 = 0 or d.id < $3)"
    rows = await conn.fetch(
        f"""{_REDEMPTION_SQL} where {scope} and ($2::text is null or d.state = $2) and {page}
            order by d.id {'asc' if oldest_first else 'desc'} limit $4""", scope_id, state, cursor, limit + 1)
    balances: dict[int, ledger.Balance] = {}
    if community_id is not None and rows:
        for b in await conn.fetch("select user_id, sum(balance)::bigint as balance, sum(held)::bigint as held "
                                  "from accounts where user_id = any($1::bigint[]) and unit = 'points' and kind = 'user' "
                                  "group by user_id", list({r["user_id"] for r in rows})):
            balances[b["user_id"]] = ledger.Balance(b["balance"], b["held"], b["balance"] - b["held"])
    items = [_redemption(r, balances.get(r["user_id"])) for r in rows[:limit]]
    return RedemptionPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


async def counts(conn: asyncpg.Connection, actor: Actor, community_id: int | None) -> Counts:
    """Open redemptions, for the badges: mine, or a community's (its managers)."""
    if community_id is None:
        where, scope_id = "user_id = $1", actor.id
    else:
        orgs.require_manager(actor, community_id)
        where, scope_id = "community_id = $1", community_id
    row = await conn.fetchrow(
        f"""select count(*) filter (where state = 'requested') as requested,
                   count(*) filter (where state = 'approved') as approved
            from redemptions where {where} and state in ('requested', 'approved')""", scope_id)
    return Counts(row["requested"], row["approved"])


async def voucher(conn: asyncpg.Connection, actor: Actor, redemption_id: int) -> Voucher:
    row = await conn.fetchrow("select user_id, community_id, state, voucher_code, expires_at from redemptions "
                              "where id = $1", redemption_id)
    if row is None:
        raise not_found("redemption")
    if not _may_read(actor, row):
        raise forbidden("not your redemption")
    if row["state"] != "approved":
        raise DomainError("already_used" if row["state"] == "fulfilled" else "invalid_state",
                          details={"state": row["state"]})
    url = codes.url_for(row["voucher_code"])
    return Voucher(redemption_id=redemption_id, code=row["voucher_code"], url=url, svg=qr.qr_svg(url),
                   expires_at=row["expires_at"])


# ---- the steps ------------------------------------------------------------------------------

async def _used_this_month(conn: asyncpg.Connection, reward_id: int, user_id: int, now: datetime) -> int:
    start, end = rules.month_bounds(now)
    return await conn.fetchval(
        """Select coalesce(sum(quantity), 0) from redemptions
           where reward_id = $1 and user_id = $2 and state = any($3::text[])
             and requested_at >= $4 and requested_at < $5""",
        reward_id, user_id, list(rules.COUNTED_STATES), start, end)


async def _new_id(conn: asyncpg.Connection) -> int:
    """Taken before the row exists, so the ledger transfer can already name its cause."""
    return await conn.fetchval("select nextval(pg_get_serial_sequence('redemptions', 'id'))")


async def _check_offer(conn: asyncpg.Connection, reward: asyncpg.Record, user_id: int, quantity: int,
                       now: datetime) -> None:
    # The one decision of the monthly limit: the caller holds the reward's row lock, so two requests
    # cannot both squeeze under it (the database keeps no second copy of this rule).
    used = await _used_this_month(conn, reward["id"], user_id, now) if reward["per_person_limit"] else 0
    rules.check_request(active=reward["active"], stock=reward["stock"], quantity=quantity,
                        per_person_limit=reward["per_person_limit"], used_this_month=used)


async def request(conn: asyncpg.Connection, actor: Actor, reward_id: int, quantity: int,
                  expiry: rules.Expiry | None = None) -> Redemption:
    """A member asks for `quantity` of a reward: points held, stock reserved, in one transaction."""
    now = clock.now()
    async with conn.transaction():
        reward = await _lock_reward(conn, reward_id)  # serialises requests for the same reward
        await _require_shopper(conn, actor, reward["community_id"])
        await _check_offer(conn, reward, actor.id, quantity, now)
        redemption_id = await _request(conn, reward, actor.id, quantity, now, actor_id=actor.id, expiry=expiry)
    return await _fetch(conn, redemption_id)


async def _request(conn: asyncpg.Connection, reward: asyncpg.Record, user_id: int, quantity: int, now: datetime,
                   *, actor_id: int, held_maker: int | None = None, expiry: rules.Expiry | None = None) -> int:
    """A request's writes (the reward locked, the offer checked): points held, stock reserved. It
    lapses after the community's redemption_request_days."""
    expiry = expiry or rules.Expiry.of(await community_policy.effective(conn, reward["community_id"]))
    redemption_id = await _new_id(conn)
    points = rules.total_points(reward["cost_points"], quantity)
    label = f"{reward['name']} × {quantity}"
    # The community's own points first, then the rest of its area (ledger.spend's order).
    hold = (await ledger.spend(
        conn, user_id=user_id, unit="points", amount=points, where=reward["community_id"],
        area=await areas.area_of(conn, reward["community_id"], "points"),
        credit=await ledger.org_account(conn, reward["community_id"], "supermarket", "points"),
        kind="redemption", cause=("redemption", redemption_id), memo=label, actor_id=actor_id,
        key=f"redemption:{redemption_id}:hold", hold=True))[0]
    await conn.execute(
        """Insert into redemptions (id, user_id, reward_id, community_id, reward_name, quantity, points, state,
                                    hold_transfer_id, expires_at, requested_at, state_changed_at,
                                    state_changed_by, held_maker)
           values ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9, $10, $10, $11, $12)""",
        redemption_id, user_id, reward["id"], reward["community_id"], reward["name"], quantity, points, hold.id,
        expiry.request_expires_at(now), now, actor_id, held_maker)
    metrics.redemption(conn, "requested")
    await _move_stock(conn, reward["id"], -quantity, actor_id=actor_id, reason=f"兑换预留 #{redemption_id}",
                      redemption_id=redemption_id)
    return redemption_id


async def _lock_redemption(conn: asyncpg.Connection, redemption_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("select * from redemptions where id = $1 for update", redemption_id)
    if row is None:
        raise not_found("redemption")
    return row


async def approve(conn: asyncpg.Connection, actor: Actor, redemption_id: int,
                  expiry: rules.Expiry | None = None) -> Redemption:
    """A manager of the community (not the requester) agrees: the points are spent, a voucher issued,
    valid for the community's redemption_voucher_days."""
    now = clock.now()
    async with conn.transaction():
        row = await _lock_redemption(conn, redemption_id)
        expiry = expiry or rules.Expiry.of(await community_policy.effective(conn, row["community_id"]))
        rules.require_decider(actor_id=actor.id, actor_manages=_may_decide(actor, row), requester_id=row["user_id"])
        if row["held_maker"] == actor.id:
            raise forbidden("a held on-the-spot redemption is approved by another manager")
        rules.require_transition(row["state"], "approved")
        if row["expires_at"] <= now:  # lapsed; the sweeper has not got to it yet
            raise DomainError("invalid_state", details={"state": "expired"})
        await ledger.post_group(conn, await _held_parts(conn, row["id"]))
        expires_at = expiry.voucher_expires_at(now)
        code = await codes.issue(conn, "voucher", redemption_id, valid_until=expires_at)
        await conn.execute(
            """Update redemptions set state = 'approved', voucher_code = $2, expires_at = $3, decided_at = $4,
                      decided_by = $5, state_changed_at = $4, state_changed_by = $5 where id = $1""",
            redemption_id, code.code, expires_at, now, actor.id)
        await audit.record(conn, actor, "redemption_approve", community_id=row["community_id"],
                           target=("redemption", redemption_id),
                           after={"user_id": row["user_id"], "points": row["points"], "quantity": row["quantity"]})
        metrics.redemption(conn, "approved")
        done = await _fetch(conn, redemption_id)
        await _tell(conn, done, "redemption_approved")
    return done


async def _tell(conn: asyncpg.Connection, redemption: Redemption, kind: str, **params: object) -> None:
    """The requester's message about their redemption, in the transaction that changed it."""
    await notify.send(conn, redemption.user.id, kind, community_id=redemption.community_id,
                      params={"reward": redemption.reward_name, "points": redemption.points, **params},
                      link=f"/shop.html?tab=mine&redemption={redemption.id}")


async def _held_parts(conn: asyncpg.Connection, redemption_id: int) -> list[int]:
    """The holds of a request: one per issuing community its points came from (ledger.spend)."""
    return await ledger.parts_of(conn, ("redemption", redemption_id), "redemption", "pending")


RELEASE_LABELS = {"rejected": "兑换驳回释放", "cancelled": "兑换取消释放", "expired": "兑换过期释放"}


async def _release(conn: asyncpg.Connection, row: asyncpg.Record, *, to_state: str, actor_id: int | None,
                   reason: str | None) -> None:
    """Back out of a request that was never approved: the hold voided, the stock put back."""
    rules.require_transition(row["state"], to_state)
    await _lock_reward(conn, row["reward_id"])  # before the ledger's account locks: one lock order
    await ledger.void_group(conn, await _held_parts(conn, row["id"]), expired=to_state == "expired")
    await _move_stock(conn, row["reward_id"], row["quantity"], actor_id=actor_id,
                      reason=f"{RELEASE_LABELS[to_state]} #{row['id']}", redemption_id=row["id"])
    now = clock.now()
    decided = to_state == "rejected"
    await conn.execute(
        """Update redemptions set state = $2, reason = $3, expires_at = null, state_changed_at = $4,
                  state_changed_by = $5, decided_at = case when $6 then $4 else decided_at end,
                  decided_by = case when $6 then $5 else decided_by end
           where id = $1""", row["id"], to_state, reason, now, actor_id, decided)
    metrics.redemption(conn, to_state)


def _may_decide(actor: Actor, row: asyncpg.Record) -> bool:
    """A manager of the community decides; a held on-the-spot redemption also a manager of
    its street or district, as the second person on what the community holds."""
    return actor.can_manage(row["community_id"]) or (row["held_maker"] is not None
                                                     and oversight.may_check(actor, row["community_id"]))


async def reject(conn: asyncpg.Connection, actor: Actor, redemption_id: int, reason: str) -> Redemption:
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await _lock_redemption(conn, redemption_id)
        rules.require_decider(actor_id=actor.id, actor_manages=_may_decide(actor, row), requester_id=row["user_id"])
        await _release(conn, row, to_state="rejected", actor_id=actor.id, reason=reason)
        await audit.record(conn, actor, "redemption_reject", community_id=row["community_id"],
                           target=("redemption", redemption_id),
                           after={"user_id": row["user_id"], "points": row["points"]}, reason=reason)
        done = await _fetch(conn, redemption_id)
        await _tell(conn, done, "redemption_rejected", reason=reason)
    return done


async def cancel(conn: asyncpg.Connection, actor: Actor, redemption_id: int) -> Redemption:
    """The requester changes their mind, while nobody has approved yet."""
    async with conn.transaction():
        row = await _lock_redemption(conn, redemption_id)
        rules.require_requester(actor_id=actor.id, requester_id=row["user_id"])
        await _release(conn, row, to_state="cancelled", actor_id=actor.id, reason=None)
    return await _fetch(conn, redemption_id)


code_from_scan = codes.code_from_text  # the one reader of scanned codes (domain/core/codes.py)


async def fulfil(conn: asyncpg.Connection, actor: Actor, code: Code) -> Redemption:
    """The manager hands the goods over and scans the voucher: approved -> fulfilled, the code used.

    Checks in order: who scans, then used already, then the code's validity, then the state.
    """
    now = clock.now()
    row = await _lock_redemption(conn, code.target_id)
    rules.require_decider(actor_id=actor.id, actor_manages=actor.can_manage(row["community_id"]),
                          requester_id=row["user_id"])
    if code.used_at is not None or row["state"] == "fulfilled":
        raise DomainError("already_used", details={"used_at": (code.used_at or row["fulfilled_at"]).isoformat()})
    codes.check_valid(code, now)
    rules.require_transition(row["state"], "fulfilled")
    marked = await conn.fetchval("update codes set used_at = $2 where code = $1 and used_at is null returning code",
                                 code.code, now)
    if marked is None:  # cannot happen under the row lock; refuse rather than hand over twice
        raise DomainError("already_used")
    await conn.execute(
        """Update redemptions set state = 'fulfilled', expires_at = null, fulfilled_at = $2, fulfilled_by = $3,
                  state_changed_at = $2, state_changed_by = $3 where id = $1""", row["id"], now, actor.id)
    await audit.record(conn, actor, "redemption_fulfil", community_id=row["community_id"],
                       target=("redemption", row["id"]),
                       after={"user_id": row["user_id"], "reward_id": row["reward_id"], "quantity": row["quantity"]})
    metrics.redemption(conn, "fulfilled")
    return await _fetch(conn, row["id"])


async def scan_voucher(conn: asyncpg.Connection, actor: Actor, code: Code, context: scans.ScanContext
                       ) -> scans.Fulfilled:
    async with conn.transaction():  # the resolver hands over a connection outside any transaction
        redemption = await fulfil(conn, actor, code)
    return scans.Fulfilled(
        kind="voucher", target_id=redemption.id,
        title=f"{redemption.reward_name} × {redemption.quantity} · {redemption.user.name}",
        details=scans.VoucherDetails(**_voucher_details(redemption, with_person=True)))


def _voucher_details(redemption: Redemption, *, with_person: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "redemption_id": redemption.id, "state": redemption.state, "reward_id": redemption.reward_id,
        "reward_name": redemption.reward_name, "quantity": redemption.quantity, "points": redemption.points,
        "community_name": redemption.community_name,
        "expires_at": redemption.expires_at.isoformat() if redemption.expires_at else None,
        "fulfilled_at": redemption.fulfilled_at.isoformat() if redemption.fulfilled_at else None,
    }
    if with_person:
        details["member_name"] = redemption.user.name
    return details


async def preview_voucher(conn: asyncpg.Connection, actor: Actor | None, code: Code) -> scans.Preview:
    """What the voucher is for; the person's name only to them and the community's managers."""
    redemption = await _fetch(conn, code.target_id)
    with_person = actor is not None and _may_read(actor, redemption)
    title = f"{redemption.reward_name} × {redemption.quantity}"
    return scans.Preview(kind="voucher", target_id=redemption.id,
                         title=f"{title} · {redemption.user.name}" if with_person else title,
                         details=_voucher_details(redemption, with_person=with_person)
                         | {"mine": actor is not None and actor.id == redemption.user.id,
                            "can_fulfil": actor is not None and actor.can_manage(redemption.community_id)
                            and actor.id != redemption.user.id and redemption.state == "approved"})


async def redeem_on_the_spot(conn: asyncpg.Connection, actor: Actor, member_code: str, reward_id: int,
                             quantity: int) -> Redemption:
    """At the counter: the manager scans a member card; created, approved and handed over at once.

    for a resident this same manager created and credited, the redemption is
    held instead: points held and stock reserved, as a request another manager of the community (or
    a street manager) approves; the goods are handed over on its voucher after that."""
    now = clock.now()
    async with conn.transaction():
        card = await codes.find(conn, codes.code_from_text(member_code))
        if card is None or card.kind != "member":
            raise DomainError("code_unknown", field="member_code")
        codes.check_valid(card, now)
        user_id = card.target_id
        reward = await _lock_reward(conn, reward_id)
        orgs.require_manager(actor, reward["community_id"])
        if user_id == actor.id:
            raise forbidden("nobody decides on their own redemption")
        await _require_shopper(conn, actor, reward["community_id"], user_id)
        await _check_offer(conn, reward, user_id, quantity, now)
        if await made_and_credited_by(conn, actor.id, user_id):
            held = await _request(conn, reward, user_id, quantity, now, actor_id=actor.id, held_maker=actor.id)
            await oversight.flag(conn, reward["community_id"], actor.id, "own_resident_redemption",
                                 {"redemption_id": held, "user_id": user_id})
            await audit.record(conn, actor, "held_request", community_id=reward["community_id"],
                               target=("redemption", held),
                               after={"kind": "redemption", "user_id": user_id, "reward_id": reward_id,
                                      "quantity": quantity, "own_resident": True})
            await oversight.check_pace(conn, reward["community_id"], actor.id)
            return await _fetch(conn, held)
        redemption_id = await _new_id(conn)
        points = rules.total_points(reward["cost_points"], quantity)
        transfer = (await ledger.spend(
            conn, user_id=user_id, unit="points", amount=points, where=reward["community_id"],
            area=await areas.area_of(conn, reward["community_id"], "points"),
            credit=await ledger.org_account(conn, reward["community_id"], "supermarket", "points"),
            kind="redemption", cause=("redemption", redemption_id),
            memo=f"{reward['name']} × {quantity}", actor_id=actor.id, key=f"redemption:{redemption_id}:post"))[0]
        await conn.execute(
            """Insert into redemptions (id, user_id, reward_id, community_id, reward_name, quantity, points, state,
                                        on_the_spot, post_transfer_id, requested_at, decided_at, decided_by,
                                        fulfilled_at, fulfilled_by, state_changed_at, state_changed_by)
               values ($1, $2, $3, $4, $5, $6, $7, 'fulfilled', true, $8, $9, $9, $10, $9, $10, $9, $10)""",
            redemption_id, user_id, reward_id, reward["community_id"], reward["name"], quantity, points,
            transfer.id, now, actor.id)
        metrics.redemption(conn, "fulfilled")
        await _move_stock(conn, reward_id, -quantity, actor_id=actor.id, reason=f"现场兑换 #{redemption_id}",
                          redemption_id=redemption_id)
        await audit.record(conn, actor, "redemption_on_the_spot", community_id=reward["community_id"],
                           target=("redemption", redemption_id),
                           after={"user_id": user_id, "reward_id": reward_id, "quantity": quantity, "points": points})
        await oversight.check_pace(conn, reward["community_id"], actor.id)
    return await _fetch(conn, redemption_id)


async def made_and_credited_by(conn: asyncpg.Connection, manager_id: int, user_id: int) -> bool:
    """The manager created this person's account (a resident without a phone) and credited them by
    hand: an adjustment, a mark, a station scan or a held act they made for them."""
    return bool(await conn.fetchval(
        Q.made_and_credited_by,
        manager_id, user_id))


# ---- expiry ---------------------------------------------------------------------------------

REQUEST_EXPIRED = "兑换申请逾期未审批，已自动取消"
VOUCHER_EXPIRED = "兑换凭证逾期未领取，积分已退回"


async def _expire_one(conn: asyncpg.Connection, redemption_id: int, now: datetime) -> bool:
    # SKIP LOCKED: a redemption another process (or a manager) is working on is left for the next sweep.
    row = await conn.fetchrow(
        "select * from redemptions where id = $1 and state in ('requested', 'approved') and expires_at <= $2 "
        "for update skip locked", redemption_id, now)
    if row is None:
        return False
    if row["state"] == "requested":
        await _release(conn, row, to_state="expired", actor_id=None, reason=REQUEST_EXPIRED)
        await _tell(conn, await _fetch(conn, redemption_id), "redemption_expired", what="request")
        return True
    await _lock_reward(conn, row["reward_id"])
    posted = await ledger.parts_of(conn, ("redemption", redemption_id), "redemption", "posted")
    refund = (await ledger.reverse_group(conn, posted, actor_id=None, reason=VOUCHER_EXPIRED,
                                         key=f"redemption:{redemption_id}:refund"))[0]
    await _move_stock(conn, row["reward_id"], row["quantity"], actor_id=None,
                      reason=f"凭证过期释放 #{redemption_id}", redemption_id=redemption_id)
    await conn.execute(
        """Update redemptions set state = 'expired', reason = $2, refund_transfer_id = $3, expires_at = null,
                  state_changed_at = $4, state_changed_by = null where id = $1""",
        redemption_id, VOUCHER_EXPIRED, refund.id, now)
    metrics.redemption(conn, "expired")
    await _tell(conn, await _fetch(conn, redemption_id), "redemption_expired", what="voucher")
    return True


async def expire_redemptions(pool: asyncpg.Pool, now: datetime, batch: int = 100) -> int:
    """Requests nobody decided on, and vouchers nobody collected, lapse; one short transaction each.

    Goes on batch after batch while a full batch made progress; rows another process holds are
    skipped and left to the next sweep. Returns how many this call expired."""
    expired = 0
    failed: list[int] = []  # rows that failed this call (logged and counted): not picked again
    while True:
        due = await pool.fetch("select id from redemptions where state in ('requested', 'approved') "
                               "and expires_at <= $1 and id <> all($3::bigint[]) order by expires_at, id limit $2",
                               now, batch, failed)
        done = 0
        for r in due:
            result = await sweeper.one_row(pool, "expire_redemptions", r["id"],
                                           partial(_expire_one, redemption_id=r["id"], now=now))
            if result is None:
                failed.append(r["id"])
            done += bool(result)
        expired += done
        if len(due) < batch or done == 0:
            return expired



# ---- what this capability plugs in (listed in api/capabilities.py) ----------------------------

SCAN_ACTS = {"voucher": scan_voucher}
SCAN_PREVIEWS = {"voucher": preview_voucher}
SWEEPS = (expire_redemptions,)


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

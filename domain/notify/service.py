"""Notifications: the in-app inbox and the transactional outbox behind SMS and WeChat.

A capability calls `send(conn, user_id, kind, ...)` inside the transaction of the act that causes
the message: the inbox row and one outbox row per chosen channel commit or roll back with the act
(`send` is queued by domain/core/outbox.py, so people can use it too; re-exported here).
`deliver_due` (run by every API process's sweeper, safe in parallel) claims due outbox rows with
SKIP LOCKED and a lease, hands them to the channel, and marks them sent, or retries with backoff.
Texts are rendered when read, from the kind and its parameters, in the reader's language.
"""

import logging
from datetime import date, datetime, time, timedelta

import asyncpg
import httpx
import msgspec

from domain.core import clock, messages, metrics, queries, sweeper
from domain.core.errors import DomainError, invalid, not_found
from domain.core.outbox import send, send_to_managers  # noqa: F401  (queued in core, re-exported here)
from domain.notify import channels, rules
from domain.rankings import expiry

PEOPLE = queries.load("people")
Q = queries.load("notify")

log = logging.getLogger("linli.notify")


class Message(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    title: str
    text: str
    link: str | None
    community_id: int | None
    created_at: datetime
    read: bool


class Inbox(msgspec.Struct, kw_only=True):
    items: list[Message]
    unread: int
    next_cursor: str | None  # pass as ?cursor= for the next page


class Preference(msgspec.Struct, kw_only=True):
    kind: str
    title: str
    channels: list[str]
    default: bool  # true: the person has not chosen; these are the defaults


class Preferences(msgspec.Struct, kw_only=True):
    items: list[Preference]
    can_sms: bool
    can_wechat: bool


# ---- reading -------------------------------------------------------------------------------

async def inbox(conn: asyncpg.Connection, user_id: int, *, lang: str, limit: int = 20,
                before: int | None = None) -> Inbox:
    rows = await conn.fetch(
        """Select id, kind, params, link, community_id, created_at, read_at from notifications
           where user_id = $1 and ($2::bigint is null or id < $2) order by id desc limit $3""",
        user_id, before, limit + 1)
    items = []
    for r in rows[:limit]:
        title, text = rules.render(r["kind"], r["params"], lang)
        items.append(Message(id=r["id"], kind=r["kind"], title=title, text=text, link=r["link"],
                             community_id=r["community_id"], created_at=r["created_at"], read=r["read_at"] is not None))
    return Inbox(items=items, unread=await unread_count(conn, user_id),
                 next_cursor=str(items[-1].id) if len(rows) > limit else None)


async def unread_count(conn: asyncpg.Connection, user_id: int) -> int:
    return await conn.fetchval("select count(*) from notifications where user_id = $1 and read_at is null", user_id)


async def mark_read(conn: asyncpg.Connection, user_id: int, message_id: int) -> None:
    found = await conn.fetchval(
        "update notifications set read_at = coalesce(read_at, $3) where id = $1 and user_id = $2 returning id",
        message_id, user_id, clock.now())
    if found is None:
        raise not_found("message")


async def mark_all_read(conn: asyncpg.Connection, user_id: int) -> int:
    result = await conn.execute("update notifications set read_at = $2 where user_id = $1 and read_at is null",
                                user_id, clock.now())
    return int(result.split()[-1])


async def preferences(conn: asyncpg.Connection, user_id: int, *, lang: str) -> Preferences:
    person = await conn.fetchrow(
        """Select u.phone is not null as can_sms,
                  exists (select 1 from wechat_bindings w where w.user_id = u.id) as can_wechat,
                  exists (select 1 from org_managers m where m.user_id = u.id) as manages
           from users u where u.id = $1""", user_id)
    chosen = {r["kind"]: list(r["channels"]) for r in await conn.fetch(
        "select kind, channels from notification_preferences where user_id = $1", user_id)}
    items = [Preference(kind=kind, title=rules.render(kind, {}, lang)[0],
                        channels=chosen.get(kind, list(messages.default_channels(kind))), default=kind not in chosen)
             for kind, spec in messages.KINDS.items() if person["manages"] or not spec.for_managers]
    return Preferences(items=items, can_sms=person["can_sms"], can_wechat=person["can_wechat"])


async def set_preference(conn: asyncpg.Connection, user_id: int, kind: str, wanted: list[str]) -> None:
    if kind not in messages.KINDS:
        raise invalid("kind", "unknown kind of message")
    if any(c not in messages.CHANNELS for c in wanted):
        raise invalid("channels", "sms or wechat")
    await conn.execute(
        """Insert into notification_preferences (user_id, kind, channels) values ($1, $2, $3)
           on conflict (user_id, kind) do update set channels = excluded.channels""",
        user_id, kind, sorted(set(wanted)))


async def bind_wechat(conn: asyncpg.Connection, user_id: int, openid: str) -> None:
    """Bind an openid the caller has proven (domain/people/wechat.py binds it from an OAuth code; no
    request hands an openid in)."""
    openid = openid.strip()
    if not 1 <= len(openid) <= 128:
        raise DomainError("validation_failed", details={"field": "openid"})
    await conn.execute(PEOPLE.bind_wechat,
                       user_id, openid, clock.now())


# ---- delivering ----------------------------------------------------------------------------

async def _claim(pool: asyncpg.Pool, now: datetime, batch: int) -> list[asyncpg.Record]:
    """Take up to `batch` due rows for this process: a short transaction sets a lease, so no other
    sender (SKIP LOCKED now, the lease later) delivers them while this one works."""
    return await pool.fetch(
        Q.claim,
        now, batch, now + rules.LEASE)


async def deliver_due(pool: asyncpg.Pool, now: datetime, batch: int = 50,
                      using: dict[str, channels.Channel] | None = None) -> int:
    """Deliver every due outbox row; returns how many were accepted by their channel."""
    using = using or channels.configured()
    delivered = 0
    async with httpx.AsyncClient(timeout=channels.TIMEOUT) as http:
        while rows := await _claim(pool, now, batch):
            for row in rows:  # a row that fails is logged, counted and skipped; its lease lapses, it is retried
                # A def, not a lambda: mypy cannot infer a lambda whose parameter has a default.
                async def deliver(row: asyncpg.Record = row) -> bool:
                    return await _deliver(pool, http, row, using[row["channel"]], now)
                delivered += bool(await sweeper.one_call("sweep_outbox", row["id"], deliver))
            if len(rows) < batch:
                break
    return delivered


async def _deliver(pool: asyncpg.Pool, http: httpx.AsyncClient, row: asyncpg.Record, channel: channels.Channel,
                   now: datetime) -> bool:
    address = row["phone"] if row["channel"] == "sms" else row["openid"]
    if row["closed_at"] is not None or not address:
        await pool.execute("update notification_outbox set state = 'failed', lease_until = null, "
                           "last_error = 'no address' where id = $1", row["id"])
        metrics.notification(None, row["kind"], row["channel"], "failed")
        return False
    title, _ = rules.render(row["kind"], row["params"])
    message = channels.Outgoing(key=rules.idempotency_key(row["notification_id"], row["channel"]), kind=row["kind"],
                                address=address, title=title, text=rules.sms_text(row["kind"], row["params"]),
                                link=row["link"])
    try:
        await channel.send(message, http)
    except channels.DeliveryError as exc:
        final = row["attempts"] >= rules.MAX_ATTEMPTS
        await pool.execute(
            """Update notification_outbox set state = $2, lease_until = null, last_error = $3,
                      not_before = $4 where id = $1""",
            row["id"], "failed" if final else "pending", str(exc)[:500],
            messages.due_at(row["channel"], now + rules.retry_delay(row["attempts"]), clock.zone()))
        metrics.notification(None, row["kind"], row["channel"], "failed" if final else "retry")
        log.warning("notification %s by %s failed (attempt %s): %s", row["notification_id"], row["channel"],
                    row["attempts"], exc)
        return False
    await pool.execute("update notification_outbox set state = 'sent', sent_at = $2, lease_until = null, "
                       "last_error = null where id = $1", row["id"], now)
    metrics.notification(None, row["kind"], row["channel"], "sent")
    return True


async def sweep_outbox(pool: asyncpg.Pool, now: datetime) -> int:
    return await deliver_due(pool, now)


# ---- reminders and digests (once a day) ---------------------------------------------------------

OVERDUE_HOURS = 48   # a redemption request waiting this long gets a nudge of its own
EXPIRY_NOTICE_DAYS = 30  # points expiring at the year's end are announced from 1 December
DAILY_FROM = time(8, 0)  # the day's reminders go out from 08:00 local time


async def remind(pool: asyncpg.Pool, now: datetime) -> int:
    """Once a day (the first process after 08:00 local time claims the day): vouchers expiring within
    3 days, a digest of waiting queues for each community's managers, a nudge per redemption request
    waiting past OVERDUE_HOURS, and in December the points that expire at the year's end. Dedup keys
    make every message once-only even if a day's run is repeated."""
    local = clock.local_time(now)
    if local.time() < DAILY_FROM:
        return 0
    day = local.date()
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("insert into notification_daily_runs (day, ran_at) values ($1, $2) "
                               "on conflict do nothing returning day", day, now) is None:
            return 0
        return (await _expiring_vouchers(conn, now) + await _digests(conn, day) + await _overdue(conn, now)
                + await _expiring_points(conn, now))


async def _expiring_vouchers(conn: asyncpg.Connection, now: datetime) -> int:
    sent = 0
    for r in await conn.fetch(
            """Select r.id, r.user_id, r.community_id, w.name as reward, r.points from redemptions r
               join rewards w on w.id = r.reward_id
               where r.state = 'approved' and r.expires_at > $1 and r.expires_at <= $1 + interval '3 days'""", now):
        sent += await send(conn, r["user_id"], "redemption_expiring", community_id=r["community_id"],
                           params={"reward": r["reward"], "days": 3}, link=f"/shop.html?tab=mine&redemption={r['id']}",
                           dedup_key=f"expiring:{r['id']}") is not None
    return sent


async def _digests(conn: asyncpg.Connection, day: date) -> int:
    sent = 0
    for q in await conn.fetch(
            """Select c.id,
                      (select count(*) from redemptions r where r.community_id = c.id and r.state = 'requested')
                          as redemptions,
                      (select count(*) from reports p where p.community_id = c.id and p.state = 'pending') as reports,
                      (select count(*) from posting_appeals a join postings s on s.id = a.posting_id
                       where s.community_id = c.id and a.answered_at is null) as appeals
               from orgs c where c.kind = 'community'"""):
        if q["redemptions"] or q["reports"] or q["appeals"]:
            sent += await send_to_managers(
                conn, q["id"], "manager_digest", params={k: q[k] for k in ("redemptions", "reports", "appeals")},
                link="/", dedup_key=f"digest:{q['id']}:{day.isoformat()}")
    return sent


async def _overdue(conn: asyncpg.Connection, now: datetime) -> int:
    sent = 0
    for r in await conn.fetch("select id, community_id from redemptions where state = 'requested' and requested_at <= $1",
                              now - timedelta(hours=OVERDUE_HOURS)):
        sent += await send_to_managers(conn, r["community_id"], "queue_overdue",
                                       params={"what": "redemption", "hours": OVERDUE_HOURS},
                                       link=f"/redemptions.html?id={r['id']}", dedup_key=f"overdue:redemption:{r['id']}")
    return sent


async def _expiring_points(conn: asyncpg.Connection, now: datetime) -> int:
    """In December: everyone holding last year's points in a community whose expiry policy is on."""
    local = clock.local_time(now)
    if (date(local.year + 1, 1, 1) - local.date()).days > EXPIRY_NOTICE_DAYS:
        return 0
    people = await conn.fetch(
        """Select distinct d.user_id from earned_daily d join points_expiry_policy p on p.community_id = d.community_id
           where p.points_expire and d.unit = 'points' and d.day >= $1 and d.day < $2""",
        date(local.year - 1, 1, 1), date(local.year, 1, 1))
    sent = 0
    for person in people:
        due = await expiry.expiring(conn, person["user_id"])
        for item in due.items:
            if item.points > 0:
                sent += await send(conn, person["user_id"], "points_expiring", community_id=item.community_id,
                                   params={"points": item.points, "date": f"{local.year}-12-31"},
                                   link="/statement.html", dedup_key=f"points_expiring:{item.year}:{item.community_id}") is not None
    return sent


SWEEPS = (sweep_outbox, remind)  # listed in api/capabilities.py


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

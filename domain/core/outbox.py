"""The outbox: a message to a person is queued inside the transaction of the act that causes it, so
its inbox row and one outbox row per chosen channel commit or roll back with the act. Every layer
queues through here (people tells of an invitation or a join decision; the capabilities of their
acts); domain/notify delivers the outbox (SMS through domain/core/sms.py, WeChat), keeps the inbox
and the preferences, and re-exports `send` and `send_to_managers`.
"""

import asyncpg

from domain.core import clock, messages, metrics, queries

Q = queries.load("core")


async def send(conn: asyncpg.Connection, user_id: int, kind: str, *, community_id: int | None,
               params: dict[str, object], link: str | None = None, dedup_key: str | None = None) -> int | None:
    """Queue a message to one person in the caller's transaction. With `dedup_key`, a second message
    with the same key to the same person is dropped (digests, reminders). Returns the inbox id."""
    if kind not in messages.KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.send must run inside the act's transaction")
    if community_id is not None and "community" not in params:
        params = {**params, "community": await conn.fetchval("select name from orgs where id = $1", community_id)}
    now = clock.now()
    row = await conn.fetchrow(Q.queue_notification, user_id, kind, community_id, params, link, dedup_key, now)
    if row is None:
        return None  # already sent under this key
    metrics.notification(conn, kind, "inbox", "queued")
    wanted = messages.choose_channels(kind, tuple(row["chosen"]) if row["chosen"] is not None else None,
                                      has_phone=row["has_phone"], has_wechat=row["has_wechat"])
    for channel in wanted:
        due = messages.due_at(channel, now, clock.zone())
        await conn.execute(
            "insert into notification_outbox (notification_id, channel, not_before, created_at) values ($1, $2, $3, $4)",
            row["id"], channel, due, now)
        metrics.notification(conn, kind, channel, "queued")
    return row["id"]


async def send_to_managers(conn: asyncpg.Connection, community_id: int, kind: str, *, params: dict[str, object],
                           link: str | None = None, dedup_key: str | None = None) -> int:
    managers = await conn.fetch("select user_id from org_managers where org_id = $1", community_id)
    sent = 0
    for m in managers:
        sent += await send(conn, m["user_id"], kind, community_id=community_id, params=params, link=link,
                           dedup_key=dedup_key) is not None
    return sent

"""Sign-up (报名) for activities with a waiting list.

A member of the activity's community signs up while it is published and not over. With a capacity,
the first `capacity` are confirmed and the others wait in order; when a confirmed person cancels, the
longest-waiting person is confirmed in the same transaction. Sign-ups of one activity serialise on
its row lock, so two people never take the last place together. Without a capacity everyone is in.
"""

from datetime import datetime

import asyncpg
import msgspec

from domain import notify
from domain.checkin import activities
from domain.core import clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError
from domain.people import orgs

Q = queries.load("checkin")


class SignupStatus(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: int
    capacity: int | None
    confirmed: int
    waiting: int
    places_left: int | None       # None: no limit
    mine: str | None              # confirmed | waiting | None (not signed up, or cancelled)
    my_position: int | None       # 1-based place in the waiting list


class MyActivity(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    title: str
    community_name: str
    place: str
    starts_at: datetime
    ends_at: datetime
    signup: str | None            # confirmed | waiting | None
    minutes: int                  # banked from this activity (attended)
    points: int


async def status(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> SignupStatus:
    activity = await activities.get_visible(conn, actor, activity_id)
    row = await conn.fetchrow(Q.signup_counts, activity_id, actor.id)
    capacity = activity.capacity
    return SignupStatus(activity_id=activity_id, capacity=capacity, confirmed=row["confirmed"], waiting=row["waiting"],
                        places_left=None if capacity is None else max(capacity - row["confirmed"], 0),
                        mine=row["mine"], my_position=row["position"] if row["mine"] == "waiting" else None)


async def sign_up(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> SignupStatus:
    now = clock.now()
    await activities.get_visible(conn, actor, activity_id)  # a draft is not there for volunteers
    async with conn.transaction():
        activity = await activities.load(conn, activity_id, viewer=actor.id, lock=True)
        if activity.state != "published":
            raise DomainError("not_published") if activity.state == "draft" else DomainError(
                "invalid_state", details={"state": activity.state})
        if activity.ends_at <= now:
            raise DomainError("outside_window", details={"why": "ended"})
        if activity.community_id not in await orgs.member_communities(conn, actor.id):
            raise DomainError("not_member")
        confirmed = await conn.fetchval(
            "select count(*) from activity_signups where activity_id = $1 and state = 'confirmed'", activity_id)
        state = "confirmed" if activity.capacity is None or confirmed < activity.capacity else "waiting"
        await conn.execute(
            """Insert into activity_signups (activity_id, user_id, state, signed_up_at, changed_at)
               values ($1, $2, $3, $4, $4)
               on conflict (activity_id, user_id) do update
                 set state = excluded.state, signed_up_at = excluded.signed_up_at, changed_at = excluded.changed_at,
                     queue_order = nextval('activity_signups_order')  -- back of the queue
                 where activity_signups.state = 'cancelled'""", activity_id, actor.id, state, now)
    return await status(conn, actor, activity_id)


async def cancel(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> SignupStatus:
    """Give up a place (or a place in the queue); a freed place goes to the longest-waiting person.
    Cancelling twice (a double tap) changes nothing more."""
    now = clock.now()
    async with conn.transaction():
        activity = await activities.load(conn, activity_id, viewer=actor.id, lock=True)
        was = await conn.fetchval("select state from activity_signups where activity_id = $1 and user_id = $2 "
                                  "and state <> 'cancelled'", activity_id, actor.id)
        if was is None:
            return await status(conn, actor, activity_id)
        await conn.execute("update activity_signups set state = 'cancelled', changed_at = $3 "
                           "where activity_id = $1 and user_id = $2", activity_id, actor.id, now)
        if was == "confirmed":
            promoted = await conn.fetchval(
                """Update activity_signups set state = 'confirmed', changed_at = $2
                   where (activity_id, user_id) = (select activity_id, user_id from activity_signups
                                                   where activity_id = $1 and state = 'waiting'
                                                   order by queue_order limit 1)
                   returning user_id""", activity_id, now)
            if promoted is not None:  # the next person in line hears that the place is theirs
                await notify.send(conn, promoted, "signup_confirmed", community_id=activity.community_id,
                                  params={"title": activity.title}, link=f"/activity.html?id={activity_id}")
    return await status(conn, actor, activity_id)


async def mine(conn: asyncpg.Connection, actor: Actor, *, upcoming: bool) -> list[MyActivity]:
    """My activities: upcoming ones I signed up for, or past ones I signed up for or attended,
    with the minutes and points each gave me."""
    now = clock.now()
    rows = await conn.fetch(Q.my_activities, actor.id, now, upcoming)
    return [MyActivity(**dict(r)) for r in rows]


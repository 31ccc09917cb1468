"""Volunteer records beyond service (志愿服务条例 §19): training sessions with attendance,
commendations (表彰奖励) and evaluations (评价) entered by a community's managers, insurance (§17),
and what an activity requires before a volunteer checks in. Every manager act writes one audit row
in its transaction. The person sees their own records (GET /api/me/records); the export of the five
§19 groups is in export.py, its restore into another instance in restore.py."""

from datetime import date, datetime

import asyncpg
import msgspec

from domain.core import audit, clock, queries
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid, not_found
from domain.people import orgs

Q = queries.load("records")


class Training(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    title: str
    topic: str
    held_on: date
    minutes: int
    attendees: int = 0


class Commendation(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    user_id: int
    title: str
    awarded_on: date
    note: str


class Evaluation(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    user_id: int
    activity_id: int | None
    activity_title: str
    rating: int
    comment: str
    evaluated_on: date
    evaluator_name: str | None = None


class Policy(msgspec.Struct, frozen=True):
    id: int
    community_id: int
    user_id: int | None
    activity_id: int | None
    policy_number: str
    insurer: str
    starts_on: date
    ends_on: date


class Requirements(msgspec.Struct, frozen=True):
    activity_id: int
    requires_training: str | None
    requires_insurance: bool


class MyTraining(msgspec.Struct, frozen=True):
    training_id: int
    community_id: int
    title: str
    topic: str
    held_on: date
    minutes: int


class MyRecords(msgspec.Struct, frozen=True):
    trainings: list[MyTraining]
    commendations: list[Commendation]
    evaluations: list[Evaluation]
    insurance: list[Policy]


def local_today() -> date:
    return clock.local_day(clock.now())


def _text(value: str, field: str, most: int, *, empty: bool = False) -> str:
    text = " ".join((value or "").split())
    if not (0 if empty else 1) <= len(text) <= most:
        raise invalid(field, f"{0 if empty else 1} to {most} characters")
    return text


async def _require_member(conn: asyncpg.Connection, community_id: int, user_id: int) -> None:
    if community_id not in await orgs.member_communities(conn, user_id):
        raise not_found("member")


def _day(value: date, field: str) -> date:
    if not date(2000, 1, 1) <= value <= local_today():
        raise invalid(field, "a day from 2000 to today")
    return value


async def create_training(conn: asyncpg.Connection, actor: Actor, *, community_id: int, title: str, topic: str,
                          held_on: date, minutes: int) -> Training:
    orgs.require_manager(actor, community_id)
    title, topic = _text(title, "title", 100), _text(topic, "topic", 50, empty=True)
    if not 1 <= minutes <= 1440:
        raise invalid("minutes", "1 to 1440")
    held_on = _day(held_on, "held_on")
    async with conn.transaction():
        row = await conn.fetchrow(
            """Insert into trainings (community_id, title, topic, held_on, minutes, created_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7) returning id, community_id, title, topic, held_on, minutes""",
            community_id, title, topic, held_on, minutes, actor.id, clock.now())
        await audit.record(conn, actor, "training_create", community_id=community_id, target=("training", row["id"]),
                           after={"title": title, "topic": topic, "held_on": held_on.isoformat(), "minutes": minutes})
    return Training(**row)


async def record_attendance(conn: asyncpg.Connection, actor: Actor, training_id: int, user_ids: list[int]) -> Training:
    """Who attended a training (members of its community); recording someone twice changes nothing."""
    training = await conn.fetchrow("select * from trainings where id = $1", training_id)
    if training is None:
        raise not_found("training")
    orgs.require_manager(actor, training["community_id"])
    if not 1 <= len(user_ids) <= 500:
        raise invalid("user_ids", "1 to 500 people")
    async with conn.transaction():
        for user_id in sorted(set(user_ids)):
            await _require_member(conn, training["community_id"], user_id)
        added = await conn.fetch(
            """Insert into training_attendance (training_id, user_id, recorded_by, created_at)
               select $1, u, $2, $3 from unnest($4::bigint[]) u on conflict do nothing returning user_id""",
            training_id, actor.id, clock.now(), sorted(set(user_ids)))
        await audit.record(conn, actor, "training_attend", community_id=training["community_id"],
                           target=("training", training_id), after={"added": [r["user_id"] for r in added]})
        attendees = await conn.fetchval("select count(*) from training_attendance where training_id = $1", training_id)
    return Training(training["id"], training["community_id"], training["title"], training["topic"],
                    training["held_on"], training["minutes"], attendees)


async def add_commendation(conn: asyncpg.Connection, actor: Actor, *, community_id: int, user_id: int, title: str,
                           awarded_on: date, note: str = "") -> Commendation:
    orgs.require_manager(actor, community_id)
    title, note = _text(title, "title", 100), _text(note, "note", 500, empty=True)
    awarded_on = _day(awarded_on, "awarded_on")
    async with conn.transaction():
        await _require_member(conn, community_id, user_id)
        row = await conn.fetchrow(
            """Insert into commendations (community_id, user_id, title, awarded_on, note, awarded_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7) returning id, community_id, user_id, title, awarded_on, note""",
            community_id, user_id, title, awarded_on, note, actor.id, clock.now())
        await audit.record(conn, actor, "commendation_add", community_id=community_id, target=("user", user_id),
                           after={"commendation_id": row["id"], "title": title})
    return Commendation(**row)


async def add_evaluation(conn: asyncpg.Connection, actor: Actor, *, community_id: int, user_id: int,
                         activity_id: int | None, rating: int, comment: str = "") -> Evaluation:
    """An organiser (a manager of the community) rates a volunteer's service, after an activity they
    attended or in general; the person sees it among their records."""
    orgs.require_manager(actor, community_id)
    if not 1 <= rating <= 5:
        raise invalid("rating", "1 to 5")
    comment = _text(comment, "comment", 500, empty=True)
    async with conn.transaction():
        await _require_member(conn, community_id, user_id)
        title = ""
        if activity_id is not None:
            activity = await conn.fetchrow(
                """Select a.title from activities a join attendances t on t.activity_id = a.id and t.user_id = $3
                   where a.id = $1 and a.community_id = $2""", activity_id, community_id, user_id)
            if activity is None:
                raise invalid("activity_id", "an activity of this community the person attended")
            title = activity["title"]
        row = await conn.fetchrow(
            """Insert into evaluations (community_id, user_id, activity_id, activity_title, rating, comment,
                                        evaluated_on, evaluator_id, created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               returning id, community_id, user_id, activity_id, activity_title, rating, comment, evaluated_on""",
            community_id, user_id, activity_id, title, rating, comment, local_today(), actor.id,
            clock.now())
        await audit.record(conn, actor, "evaluation_add", community_id=community_id, target=("user", user_id),
                           after={"evaluation_id": row["id"], "rating": rating, "activity_id": activity_id})
    return Evaluation(**row, evaluator_name=actor.name)


async def add_policy(conn: asyncpg.Connection, actor: Actor, *, community_id: int, user_id: int | None,
                     activity_id: int | None, policy_number: str, insurer: str, starts_on: date,
                     ends_on: date) -> Policy:
    """An insurance policy covering one member, or every volunteer of one activity (§17)."""
    orgs.require_manager(actor, community_id)
    if (user_id is None) == (activity_id is None):
        raise invalid("user_id", "either user_id or activity_id")
    policy_number, insurer = _text(policy_number, "policy_number", 64), _text(insurer, "insurer", 100, empty=True)
    if ends_on < starts_on:
        raise invalid("ends_on", "on or after starts_on")
    async with conn.transaction():
        if user_id is not None:
            await _require_member(conn, community_id, user_id)
        elif not await conn.fetchval("select 1 from activities where id = $1 and community_id = $2",
                                     activity_id, community_id):
            raise invalid("activity_id", "an activity of this community")
        row = await conn.fetchrow(
            """Insert into insurance_policies (community_id, user_id, activity_id, policy_number, insurer, starts_on,
                                               ends_on, recorded_by, created_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               returning id, community_id, user_id, activity_id, policy_number, insurer, starts_on, ends_on""",
            community_id, user_id, activity_id, policy_number, insurer, starts_on, ends_on, actor.id, clock.now())
        await audit.record(conn, actor, "insurance_add", community_id=community_id,
                           target=("user", user_id) if user_id is not None else ("activity", activity_id),
                           after={"policy_id": row["id"], "starts_on": starts_on.isoformat(),
                                  "ends_on": ends_on.isoformat()})
    return Policy(**row)


async def set_requirements(conn: asyncpg.Connection, actor: Actor, activity_id: int, *,
                           requires_training: str | None, requires_insurance: bool) -> Requirements:
    topic = _text(requires_training, "requires_training", 50) if requires_training else None
    async with conn.transaction():
        row = await conn.fetchrow("select community_id, requires_training, requires_insurance from activities "
                                  "where id = $1 for update", activity_id)
        if row is None:
            raise not_found("activity")
        orgs.require_manager(actor, row["community_id"])
        await conn.execute("update activities set requires_training = $2, requires_insurance = $3 where id = $1",
                           activity_id, topic, requires_insurance)
        await audit.record(conn, actor, "activity_requirements", community_id=row["community_id"],
                           target=("activity", activity_id),
                           before={"requires_training": row["requires_training"],
                                   "requires_insurance": row["requires_insurance"]},
                           after={"requires_training": topic, "requires_insurance": requires_insurance})
    return Requirements(activity_id, topic, requires_insurance)


async def require_ready(conn: asyncpg.Connection, activity_id: int, user_id: int, now: datetime) -> None:
    """Refuse a check-in (`requirement_unmet`, naming what is missing) when the activity requires a
    training topic the person never attended in its community, or insurance not in force today."""
    day = clock.local_day(now)
    row = await conn.fetchrow(
        Q.requirements_of, activity_id, user_id, day)
    missing = ([] if row["trained"] else ["training"]) + ([] if row["insured"] else ["insurance"])
    if missing:
        raise DomainError("requirement_unmet", details={"missing": missing, "training": row["requires_training"]})


async def mine(conn: asyncpg.Connection, user_id: int) -> MyRecords:
    trainings = await conn.fetch(
        """Select t.id as training_id, t.community_id, t.title, t.topic, t.held_on, t.minutes
           from training_attendance ta join trainings t on t.id = ta.training_id where ta.user_id = $1
           order by t.held_on, t.id""", user_id)
    commendations = await conn.fetch("select id, community_id, user_id, title, awarded_on, note from commendations "
                                     "where user_id = $1 order by awarded_on, id", user_id)
    evaluations = await conn.fetch(
        """Select e.id, e.community_id, e.user_id, e.activity_id, e.activity_title, e.rating, e.comment,
                  e.evaluated_on, u.name as evaluator_name
           from evaluations e left join users u on u.id = e.evaluator_id where e.user_id = $1
           order by e.evaluated_on, e.id""", user_id)
    insurance = await conn.fetch(
        """Select p.id, p.community_id, p.user_id, p.activity_id, p.policy_number, p.insurer, p.starts_on, p.ends_on
           from insurance_policies p where p.user_id = $1 order by p.starts_on, p.id""", user_id)
    return MyRecords([MyTraining(**r) for r in trainings], [Commendation(**r) for r in commendations],
                     [Evaluation(**r) for r in evaluations], [Policy(**r) for r in insurance])


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

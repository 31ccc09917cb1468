"""Activities: create, edit drafts, publish, list, and their QR codes (poster and rotating).

Check-in and check-out themselves live in domain/checkin.py; the pure rules in domain/checkin_rules.py.
Visibility: managers (and admins) see every activity of their communities; everyone logged in sees
published and closed ones (they are public notices, like the poster on the wall); a draft is 404
to anyone else, so its existence is not revealed.
"""

import math
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from domain import oversight
from domain.checkin.rules import format_window
from domain.core import audit, clock, codes, qr
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid, not_found
from domain.oversight import rules as oversight_rules
from domain.people import community_policy, orgs

STATES = ("draft", "published", "closed")
DEFAULT_RADIUS_M = 300
EDITABLE = ("title", "description", "place", "lat", "lng", "radius_m", "starts_at", "ends_at", "capacity",
            "points", "points_per_hour", "max_minutes", "daily_points_cap", "rotation_seconds",
            "rotating_only", "one_step_checkout")
_LOCK_ROTATION = 4004  # advisory lock class: one rotating code issued at a time per activity


class Activity(msgspec.Struct, kw_only=True):
    id: int
    community_id: int
    community_name: str
    title: str
    description: str
    place: str
    lat: float | None
    lng: float | None
    radius_m: int | None
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    points: int
    points_per_hour: int
    max_minutes: int | None
    daily_points_cap: int
    rotation_seconds: int
    state: str
    created_at: datetime
    published_at: datetime | None
    closed_at: datetime | None
    rotating_only: bool = False       # poster codes refused (only the kiosk's rotating code)
    one_step_checkout: bool = False   # station and kiosk scans check out without asking
    requires_training: str | None = None  # a training topic the volunteer must have attended
    requires_insurance: bool = False      # volunteers must be insured on the day (§17)
    inside: int = 0       # checked in, not yet out
    attended: int = 0     # checked out (or marked attended)
    my_state: str | None = None  # the viewer's own attendance: inside | done | annulled
    held_id: int | None = None   # its publication waits for a second person
    rule_item_id: int | None = None  # the rulebook item its points come from (fixed at creation)


class ActivityPage(msgspec.Struct):
    items: list[Activity]
    next_cursor: str | None


class RotatingCode(msgspec.Struct, kw_only=True):
    code: str
    url: str
    expires_at: datetime
    svg: str
    refresh_after_seconds: int  # when the screen should ask again (server time, immune to a wrong clock)
    rotation_seconds: int
    grace_seconds: int
    activity_id: int
    title: str
    state: str
    inside: int


_SELECT = """
    select a.*, o.name as community_name,
           (select count(*) from attendances t where t.activity_id = a.id and t.state = 'inside') as inside,
           (select count(*) from attendances t where t.activity_id = a.id and t.state = 'done') as attended,
           (select t.state from attendances t where t.activity_id = a.id and t.user_id = $1) as my_state,
           (select h.id from held_acts h where h.activity_id = a.id and h.kind = 'activity'
              and h.state = 'pending') as held_id
    from activities a join orgs o on o.id = a.community_id"""


def _activity(row: asyncpg.Record) -> Activity:
    return Activity(**{k: row[k] for k in Activity.__struct_fields__})


async def load(conn: asyncpg.Connection, activity_id: int, *, viewer: int = 0, lock: bool = False) -> Activity:
    """The activity with its counts; `lock` takes its row lock (see checkin.py for why)."""
    if lock:
        await conn.execute("select 1 from activities where id = $1 for update", activity_id)
    row = await conn.fetchrow(f"{_SELECT} where a.id = $2", viewer, activity_id)
    if row is None:
        raise not_found("activity")
    return _activity(row)


def can_manage(actor: Actor, activity: Activity) -> bool:
    return actor.can_manage(activity.community_id)


async def get_visible(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> Activity:
    activity = await load(conn, activity_id, viewer=actor.id)
    if activity.state == "draft" and not can_manage(actor, activity):
        raise not_found("activity")
    return activity


async def get_managed(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, lock: bool = False) -> Activity:
    """Load an activity for a manager action: 404 if missing, 403 outside the manager's communities."""
    activity = await load(conn, activity_id, viewer=actor.id, lock=lock)
    orgs.require_manager(actor, activity.community_id)
    return activity


# ---- writing ------------------------------------------------------------------------------

def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise text and check the rules that span several fields."""
    out = dict(fields)
    for name in ("title", "description", "place"):
        if name in out and out[name] is not None:
            out[name] = " ".join(out[name].split()) if name != "description" else out[name].strip()
    if "title" in out and not out["title"]:
        raise invalid("title", "required")
    if out.get("starts_at") and out.get("ends_at") and out["ends_at"] <= out["starts_at"]:
        raise invalid("ends_at", "must be after starts_at")
    if out.get("starts_at") and out.get("ends_at") and out["ends_at"] - out["starts_at"] > timedelta(days=14):
        raise invalid("ends_at", "an activity lasts at most 14 days")
    if (out.get("lat") is None) != (out.get("lng") is None):
        raise invalid("lng" if out.get("lng") is None else "lat", "give both lat and lng, or neither")
    if out.get("lat") is None:
        out["radius_m"] = None
    elif out.get("radius_m") is None:
        out["radius_m"] = DEFAULT_RADIUS_M
    return out


async def create(conn: asyncpg.Connection, actor: Actor, *, community_id: int, ip: str | None = None,
                 **fields: Any) -> Activity:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "activities belong to a community")
    orgs.require_manager(actor, community_id)
    policy = await community_policy.effective(conn, community_id)  # the community's, else the environment's defaults
    values = {"description": "", "place": "", "lat": None, "lng": None, "radius_m": None, "capacity": None,
              "points": 0, "points_per_hour": 0, "max_minutes": None, "daily_points_cap": policy.daily_points_cap,
              "rotation_seconds": policy.rotation_seconds, "rotating_only": False, "one_step_checkout": False}
    rule_item_id = fields.pop("rule_item_id", None)
    values.update({k: v for k, v in fields.items() if v is not None})
    values = await _under_rulebook(conn, community_id, rule_item_id, values)
    values = _clean(values)
    for required in ("title", "starts_at", "ends_at"):
        if values.get(required) is None:
            raise invalid(required, "required")
    columns = list(EDITABLE)
    async with conn.transaction():
        row_id = await conn.fetchval(
            f"""insert into activities (community_id, created_by, created_at, rule_item_id, {", ".join(columns)})
                values ($1, $2, $3, $4, {", ".join(f"${i + 5}" for i in range(len(columns)))}) returning id""",
            community_id, actor.id, clock.now(), rule_item_id, *[values[c] for c in columns])
        await audit.record(conn, actor, "activity_create", community_id=community_id, target=("activity", row_id),
                           after={"title": values["title"], **({"rule_item_id": rule_item_id} if rule_item_id else {})},
                           ip=ip)
    return await load(conn, row_id, viewer=actor.id)


RULED = ("points", "points_per_hour", "daily_points_cap")  # what a rulebook item decides for an activity


async def _under_rulebook(conn: asyncpg.Connection, community_id: int, rule_item_id: int | None,
                          values: dict[str, Any]) -> dict[str, Any]:
    """Where the community works under a rulebook that lists what earns, an activity's
    points come from one of those items: the item's points per check-in and its daily cap, nothing
    per hour. (A rulebook of deductions only, or whose earning items all pay for reports or cases,
    leaves activities as they were.)"""
    from domain.recognition import rulebook
    if rule_item_id is None:
        if any(i.kind == "earn" and i.applies_to is None for i in await rulebook.items_in_force(conn, community_id)):
            raise invalid("rule_item_id", "this community has a rulebook (积分细则): choose the item the activity earns by")
        return values
    item = await rulebook.earn_item(conn, community_id, rule_item_id)
    return {**values, "points": item.points, "points_per_hour": 0,
            "daily_points_cap": item.daily_cap or (await community_policy.effective(conn, community_id)).daily_points_cap}


async def update(conn: asyncpg.Connection, actor: Actor, activity_id: int, changes: dict[str, Any], *,
                 ip: str | None = None) -> Activity:
    """Edit a draft. A published activity's window and rules are fixed: its posters are printed."""
    async with conn.transaction():
        activity = await get_managed(conn, actor, activity_id, lock=True)
        if activity.state != "draft":
            raise DomainError("invalid_state", details={"state": activity.state, "problem": "only drafts are edited"})
        if activity.rule_item_id is not None and any(k in changes for k in RULED):
            raise invalid(next(k for k in RULED if k in changes), "set by the rulebook item the activity earns by")
        merged = _clean({**{k: getattr(activity, k) for k in EDITABLE}, **changes})
        sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(EDITABLE))
        await conn.execute(f"update activities set {sets} where id = $1", activity_id, *[merged[c] for c in EDITABLE])
        await audit.record(conn, actor, "activity_edit", community_id=activity.community_id,
                           target=("activity", activity_id), after=sorted(changes), ip=ip)
    return await load(conn, activity_id, viewer=actor.id)


async def delete_draft(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> None:
    async with conn.transaction():
        activity = await get_managed(conn, actor, activity_id, lock=True)
        if activity.state != "draft":
            raise DomainError("invalid_state", details={"state": activity.state, "problem": "only drafts are deleted"})
        await conn.execute("delete from codes where kind = 'rotating' and target_id = $1", activity_id)
        await conn.execute("delete from activities where id = $1", activity_id)
        await audit.record(conn, actor, "activity_delete", community_id=activity.community_id,
                           target=("activity", activity_id), before={"title": activity.title, "state": "draft"})


def daily_max(activity: Activity) -> dict[str, int]:
    """What one attendance can credit one person: points (within the daily cap) and minutes."""
    window = int((activity.ends_at - activity.starts_at).total_seconds() // 60)
    points, minutes = oversight_rules.activity_daily_max(
        points=activity.points, points_per_hour=activity.points_per_hour, window_minutes=window,
        max_minutes=activity.max_minutes, daily_points_cap=activity.daily_points_cap)
    return {"points": points, "minutes": minutes}


async def publish(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, ip: str | None = None,
                  held_id: int | None = None) -> Activity:
    """Draft → published, with its poster code (valid for the window). Publishing twice is a no-op.

    an activity whose terms can credit one person more points than the
    community's threshold in a day (check-in points and points per hour of the longest stay, within
    the daily cap) stays a draft, held for another manager or a street manager; their approval
    publishes it (`held_id`). Minutes are not held here: a scanned stay's minutes are proven by two
    scans and bounded by the window (a manual mark's minutes are held: the manager asserts them)."""
    async with conn.transaction():
        activity = await get_managed(conn, actor, activity_id, lock=True) if held_id is None \
            else await load(conn, activity_id, viewer=actor.id, lock=True)
        if activity.state == "closed":
            raise DomainError("invalid_state", details={"state": "closed"})
        if activity.state == "draft" and held_id is None and activity.held_id is None:
            each = daily_max(activity)
            limits = await oversight.limits(conn, activity.community_id)
            if over := oversight_rules.above({"points": each["points"]}, limits.thresholds()):
                held = await oversight.hold(conn, actor, activity.community_id, "activity",
                                            payload={"activity_id": activity_id},
                                            evidence={"above_threshold": over, "each": each, "title": activity.title,
                                                      "points": activity.points,
                                                      "points_per_hour": activity.points_per_hour,
                                                      "daily_points_cap": activity.daily_points_cap},
                                            activity_id=activity_id, ip=ip)
                await oversight.flag(conn, activity.community_id, actor.id, "large_terms", {"held_id": held})
                return await load(conn, activity_id, viewer=actor.id)
        if activity.state == "draft" and (held_id is not None or activity.held_id is None):
            await conn.execute("update activities set state = 'published', published_at = $2 where id = $1",
                               activity_id, clock.now())
            await codes.issue(conn, "poster", activity_id, valid_from=activity.starts_at,
                              valid_until=activity.ends_at)
            if held_id is None:  # approved from the held queue: its approval is the act's audit row
                await audit.record(conn, actor, "activity_publish", community_id=activity.community_id,
                                   target=("activity", activity_id), ip=ip)
    return await load(conn, activity_id, viewer=actor.id)


# ---- reading ------------------------------------------------------------------------------

async def list_activities(conn: asyncpg.Connection, actor: Actor, *, community_id: int | None,
                          starts_before: datetime | None, ends_after: datetime | None, state: str | None,
                          limit: int, offset: int) -> ActivityPage:
    """Activities overlapping [ends_after, starts_before], soonest first.

    Without a community: the viewer's own communities (member or manager; admins see all). The cursor
    is an offset: lists are short and sorted by time, not by id.
    """
    if state is not None and state not in STATES:
        raise invalid("state", "draft, published or closed")
    if community_id is not None:
        scope = [community_id]
    elif actor.is_admin:
        scope = None
    else:
        scope = sorted(set(await orgs.member_communities(conn, actor.id)) | actor.manages)
    rows = await conn.fetch(
        f"""{_SELECT}
            where ($2::bigint[] is null or a.community_id = any($2))
              and (a.state <> 'draft' or $3 or a.community_id = any($4::bigint[]))
              and ($5::timestamptz is null or a.ends_at > $5)
              and ($6::timestamptz is null or a.starts_at < $6)
              and ($7::text is null or a.state = $7)
            order by a.starts_at, a.id offset $8 limit $9""",
        actor.id, scope, actor.is_admin, sorted(actor.manages), ends_after, starts_before, state, offset, limit + 1)
    items = [_activity(r) for r in rows[:limit]]
    return ActivityPage(items=items, next_cursor=str(offset + limit) if len(rows) > limit else None)


# ---- codes --------------------------------------------------------------------------------

async def poster(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, fmt: str, lang: str) -> bytes | str:
    """The printable A4 poster (SVG text or PNG bytes) with the activity's poster code."""
    activity = await get_managed(conn, actor, activity_id)
    if activity.state == "draft":
        raise DomainError("not_published", details={"problem": "publish the activity to print its poster"})
    code = await codes.latest(conn, "poster", activity_id)
    if code is None:  # revoked by hand: a new one keeps the poster printable
        code = await codes.issue(conn, "poster", activity_id, valid_from=activity.starts_at,
                                 valid_until=activity.ends_at)
    args: dict[str, Any] = dict(title=activity.title, when=format_window(activity.starts_at, activity.ends_at, lang),
                                place=activity.place or activity.community_name, url=codes.url_for(code.code),
                                lang=lang)  # both renderers' keywords
    return qr.poster_png(**args) if fmt == "png" else qr.poster_svg(**args)


async def rotating_code(conn: asyncpg.Connection, actor: Actor, activity_id: int) -> RotatingCode:
    """The code the venue's screen shows now: the live one, or a new one once it expired.

    Only the activity's managers get it (a screen logged in as the manager): handing it to anyone
    would let people check in from home. The previous code keeps working for the grace period, so
    a person who scanned just before the switch is not refused.
    """
    return await current_rotating_code(conn, await get_managed(conn, actor, activity_id))


async def current_rotating_code(conn: asyncpg.Connection, activity: Activity) -> RotatingCode:
    """The screen's code for an activity already authorised (a manager, or a paired kiosk: kiosk.py)."""
    activity_id = activity.id
    now = clock.now()
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1, ($2 % 2147483647)::int)", _LOCK_ROTATION, activity_id)
        code = await codes.latest(conn, "rotating", activity_id)
        if code is None or code.valid_until is None or now >= code.valid_until:
            code = await codes.issue(conn, "rotating", activity_id,
                                     valid_until=now + timedelta(seconds=activity.rotation_seconds))
    assert code.valid_until is not None  # a rotating code is live until valid_until: checked above, or just issued
    grace = (await community_policy.effective(conn, activity.community_id)).rotation_grace_seconds
    url = codes.url_for(code.code)
    return RotatingCode(code=code.code, url=url, expires_at=code.valid_until, svg=qr.qr_svg(url),
                        refresh_after_seconds=max(1, math.ceil((code.valid_until - now).total_seconds())),
                        rotation_seconds=activity.rotation_seconds, grace_seconds=grace,
                        activity_id=activity.id, title=activity.title, state=activity.state, inside=activity.inside)


async def prune_rotating_codes(pool: asyncpg.Pool, now: datetime) -> int:
    """Rotating codes pile up (one per screen refresh); a day after expiry they are only noise."""
    result = await pool.execute("delete from codes where kind = 'rotating' and valid_until < $1",
                                now - timedelta(days=1))
    return int(result.split()[-1])

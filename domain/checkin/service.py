"""Check-in and check-out: scans of poster and rotating codes, station scans of member cards,
manual marks, annulment, closing, and the automatic check-out at the end of the window.

One short transaction per scan: the attendance row and its ledger transfers commit together.
Credits are transfers of kind 'award' with cause ('checkin', attendance id) and the activity title
as memo, so statements show where they came from; their idem keys (f"checkin:{id}:in", ...) make a
retried credit apply once.

A scan reads what it needs in one query (`_load_scan`: the activity, the person's membership,
attendance and accounts, whether its nonce was seen), decides with the pure rules, then writes in
ONE call of `attendance_check_in` or `attendance_check_out` (domain/checkin/sql/checkin.sql), its own
transaction unless the caller holds one. The call re-checks under its locks what the decision relied
on; when that changed meanwhile it writes nothing and the scan reads again and decides again.

Locks, in this order:
- the activity row, BEFORE any attendance of it, by every writer of an attendance that also locks the
  activity: a manager's close or manual marking FOR UPDATE; every check-in, every scan's check-out
  (in their calls, sql/checkin.sql) and the window-end sweep FOR KEY SHARE (the lock the
  attendance's, the nonce's and the flag's foreign keys take); an annul FOR NO KEY UPDATE (the lock
  of the `taken` counter's update below). Scans do not wait for each other, but a close or a mark
  waits for the writers in flight and they for it, so no check-in lands in a closed activity, and no
  writer holds an attendance the close waits for while it waits for the close (a deadlock: PostgreSQL
  kills one of the two). In Python, `_lock_activity` takes it; an automatic check-out's caller holds
  it already (a close, the sweep), so `attendance_check_out` takes it only for a scan;
- the attendance row (a check-out), then the person's points account, to read today's check-in
  points under the daily cap. A check-in has no row yet: it locks the account, then inserts the
  row (which can only wait for the same person's other scan, serialised by that account lock);
- for an activity WITH a capacity, the attendance insert (and an annul, giving the place back)
  updates the activity's `taken` counter (a trigger, sql/checkin.sql `activities_count_taken`, which
  refuses a place beyond the capacity): the check-ins of that one activity take turns from their
  insert to their commit, so 50 concurrent scans for 20 places admit exactly 20. Activities without
  a capacity are never written;
- then the ledger locks the person's accounts in id order.
"""

from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

import asyncpg
import msgspec

from domain import ledger, notify, oversight
from domain.checkin import activities, fraud, offline, rules, scans
from domain.checkin.activities import Activity
from domain.checkin.scans import (
    ActivityCodeKind,
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AttendanceDetails,
    CheckedIn,
    CheckedOut,
    CheckInDetails,
    CheckOutDetails,
    ConfirmCheckOut,
    ConfirmCheckOutDetails,
    ScanContext,
)
from domain.core import audit, clock, codes, metrics, queries, sweeper
from domain.core.actor import Actor, PersonRef
from domain.core.codes import Code
from domain.core.errors import DomainError, not_found
from domain.core.texts import clean_reason
from domain.oversight import rules as oversight_rules
from domain.people import community_policy, micro, orgs

PEOPLE = queries.load("people")


class Attendance(msgspec.Struct, kw_only=True):
    id: int
    activity_id: int
    user_id: int
    state: str
    source: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    auto_checkout: bool
    minutes: int
    points: int
    in_nonce: str | None
    out_nonce: str | None
    recorded_by: int | None
    note: str | None
    annulled_at: datetime | None
    annul_reason: str | None
    # both times of a late scan, and the last proof of presence ()
    in_received_at: datetime | None = None
    out_received_at: datetime | None = None
    last_seen_at: datetime | None = None


def _attendance(row: asyncpg.Record) -> Attendance:
    return Attendance(**{k: row[k] for k in Attendance.__struct_fields__})


async def _lock_activity(conn: asyncpg.Connection, activity_id: int, mode: Literal["key share", "no key update"]
                         ) -> None:
    """The activity's row lock, taken BEFORE any attendance of it (the lock order at the top): by a
    writer of an attendance that will also lock the activity, through a foreign key (KEY SHARE) or
    the `taken` counter's update (NO KEY UPDATE). A close or a manual mark (FOR UPDATE) then waits
    for it, or it for them, instead of each waiting for what the other holds."""
    await conn.execute(f"select 1 from activities where id = $1 for {mode}", activity_id)


async def _lock_attendance(conn: asyncpg.Connection, attendance_id: int) -> Attendance:
    return _attendance(await conn.fetchrow("select * from attendances where id = $1 for update", attendance_id))


async def _is_member(conn: asyncpg.Connection, community_id: int, user_id: int) -> bool:
    return community_id in await orgs.member_communities(conn, user_id)


class _Accounts(msgspec.Struct):
    """What an attendance credits: the person's accounts of this community's points and minutes (None
    before their first credit from it) and the community's issuing accounts."""
    user_id: int
    community_id: int
    user_points: int | None
    user_minutes: int | None
    issuing_points: int | None
    issuing_minutes: int | None


def _accounts_sql(user: str, community: str) -> str:
    return f"""{user}::bigint as user_id, {community}::bigint as community_id,
               (select id from accounts where user_id = {user} and kind = 'user' and unit = 'points'
                   and org_id = {community}) as user_points,
               (select id from accounts where user_id = {user} and kind = 'user' and unit = 'minutes'
                   and org_id = {community}) as user_minutes,
               (select id from accounts where org_id = {community} and kind = 'issuing' and unit = 'points')
                   as issuing_points,
               (select id from accounts where org_id = {community} and kind = 'issuing' and unit = 'minutes')
                   as issuing_minutes"""


def _accounts_of(row: asyncpg.Record) -> _Accounts:
    return _Accounts(**{k: row[k] for k in _Accounts.__struct_fields__})


async def _accounts(conn: asyncpg.Connection, community_id: int, user_id: int) -> _Accounts:
    return _accounts_of(await conn.fetchrow(f"select {_accounts_sql('$1', '$2')}", user_id, community_id))


async def _person(conn: asyncpg.Connection, accounts: _Accounts, unit: ledger.Unit) -> int:
    """The person's account of this community's `unit`, opened on their first credit from it."""
    account = accounts.user_points if unit == "points" else accounts.user_minutes
    if account is None:  # members have theirs from joining (orgs.add_member): rarely reached
        account = await ledger.user_account(conn, accounts.user_id, unit, accounts.community_id)
        setattr(accounts, "user_points" if unit == "points" else "user_minutes", account)
    return account


def _need(account: int | None, what: str) -> int:
    if account is None:
        raise DomainError("not_found", details={"what": what})
    return account


# ---- crediting ----------------------------------------------------------------------------

def _cap_note(activity: Activity, wanted: int, awarded: int) -> dict[str, Any]:
    """What an answer says when the daily cap cut an award; nothing when it did not."""
    if awarded == wanted:
        return {}
    return {"capped": True, "daily_cap": activity.daily_points_cap, "points_wanted": wanted}


async def _capped_points(conn: asyncpg.Connection, activity: Activity, accounts: _Accounts, wanted: int
                         ) -> tuple[int, dict[str, Any]]:
    """How many of `wanted` points may be awarded, within the person's daily cap of check-in points
    in this community; post them with `_post_points` in the same transaction, which then holds the
    person's points account locked (`checkin_capped_award`, domain/checkin/sql/checkin.sql: the one place the cap
    is decided, also for the scans' own calls)."""
    if wanted <= 0:
        return 0, {}
    account = await _person(conn, accounts, "points")
    issuing = _need(accounts.issuing_points, "issuing account")
    day_start, day_end = rules.local_day(clock.now())
    awarded = await conn.fetchval("select checkin_capped_award(account => $1, issuing => $2, wanted => $3,"
                                  " daily_cap => $4, day_start => $5, day_end => $6)", account, issuing, wanted,
                                  activity.daily_points_cap, day_start, day_end)
    return awarded, _cap_note(activity, wanted, awarded)


async def _post_points(conn: asyncpg.Connection, activity: Activity, accounts: _Accounts, attendance_id: int,
                       points: int, *, key: str, actor_id: int | None, reason: str | None = None) -> None:
    if points <= 0:
        return
    await ledger.post(conn, unit="points", debit=_need(accounts.issuing_points, "issuing account"),
                      credit=await _person(conn, accounts, "points"), amount=points, kind="award",
                      cause=("checkin", attendance_id), memo=activity.title, actor_id=actor_id, reason=reason,
                      key=key)


async def _bank_minutes(conn: asyncpg.Connection, activity: Activity, accounts: _Accounts, attendance_id: int,
                        minutes: int, *, key: str, actor_id: int | None, reason: str | None = None) -> None:
    if minutes <= 0:
        return
    await ledger.post(conn, unit="minutes", debit=_need(accounts.issuing_minutes, "issuing account"),
                      credit=await _person(conn, accounts, "minutes"), amount=minutes, kind="award",
                      cause=("checkin", attendance_id), memo=activity.title, actor_id=actor_id, reason=reason,
                      key=key)


async def _award_accounts(conn: asyncpg.Connection, accounts: _Accounts, unit: ledger.Unit, amount: int
                          ) -> tuple[int | None, int | None]:
    """(the person's account, the issuing account) an award of `amount` needs; (None, None) for none."""
    if amount <= 0:
        return None, None
    issuing = accounts.issuing_points if unit == "points" else accounts.issuing_minutes
    return await _person(conn, accounts, unit), _need(issuing, "issuing account")


# ---- scanning -----------------------------------------------------------------------------

ActivityScan = CheckedIn | CheckedOut | AlreadyCheckedIn | AlreadyCheckedOut | ConfirmCheckOut


class Credited(msgspec.Struct, frozen=True):
    """What a check-out banked: points (after the daily cap), minutes, and the cap's note
    ({capped, daily_cap, points_wanted}; empty when the whole award went through)."""
    points: int
    minutes: int
    cap: dict[str, Any]
    held: dict[str, Any] = {}  # {held_id}: a manager's own check-out, its credit held


class _Scan(msgspec.Struct):
    """What a scan needs to know before it writes, read in one query."""
    activity: Activity
    is_member: bool
    attendance: Attendance | None  # as committed when the scan read it; the write checks it still holds
    accounts: _Accounts
    taken: int                     # places taken when the scan read (kept only with a capacity)
    nonce_seen: bool               # the scan's nonce was already handled: answer with what stands
    policy: community_policy.CommunityPolicy  # the community's: offline window, code grace, fraud thresholds
    held: int = 0                  # places kept for others' confirmed sign-ups (with a capacity)
    own: bool = False              # the person manages the activity (created it, or manages its community)


# A scan never shows the activity's counts: they are not read (counting is what this query avoids).
_ACTIVITY_FIELDS = tuple(f for f in Activity.__struct_fields__
                         if f not in ("inside", "attended", "my_state", "held_id"))

_SCAN_QUERY = f"""
    select a.*, o.name as community_name,
           exists (select 1 from org_members m join orgs g on g.id = m.org_id
                   where m.user_id = $2
                     and case when g.kind = 'grid' then g.parent_id else g.id end = a.community_id) as is_member,
           exists (select 1 from scan_nonces n where n.activity_id = a.id and n.user_id = $2 and n.nonce = $3)
               as nonce_seen,
           -- places kept for confirmed sign-ups of others not yet checked in (only with a capacity)
           case when a.capacity is null then 0 else
               (select count(*) from activity_signups s
                 where s.activity_id = a.id and s.state = 'confirmed' and s.user_id <> $2
                   and not exists (select 1 from attendances x where x.activity_id = a.id and x.user_id = s.user_id))
           end::int as held,
           (a.created_by = $2 or exists (select 1 from org_managers g where g.user_id = $2
                                                                        and g.org_id = a.community_id)) as own,
           {", ".join(f"t.{f} as t_{f}" for f in Attendance.__struct_fields__)},
           {_accounts_sql("$2", "a.community_id")},
           {community_policy.select_sql("p", "policy_")}
    from activities a join orgs o on o.id = a.community_id
    left join attendances t on t.activity_id = a.id and t.user_id = $2
    left join community_policies p on p.community_id = a.community_id
    where a.id = $1"""


async def _load_scan(conn: asyncpg.Connection, activity_id: int, user_id: int, nonce: str | None = None
                     ) -> _Scan | None:
    """The activity (None if there is none), the person's membership of its community (directly
    or through a grid, as orgs.member_communities), their attendance, the accounts to credit and
    whether `nonce` was handled. No lock: the write (migrations/022) checks what it relies on."""
    row = await conn.fetchrow(_SCAN_QUERY, activity_id, user_id, nonce)
    if row is None:
        return None
    attendance = None
    if row["t_id"] is not None:
        attendance = Attendance(**{f: row[f"t_{f}"] for f in Attendance.__struct_fields__})
    activity = Activity(**{f: row[f] for f in _ACTIVITY_FIELDS})
    return _Scan(activity=activity, is_member=row["is_member"],
                 attendance=attendance, accounts=_accounts_of(row), taken=row["taken"], nonce_seen=row["nonce_seen"],
                 held=row["held"], own=row["own"],
                 policy=community_policy.from_row(activity.community_id, row, "policy_"))


async def record_scan(conn: asyncpg.Connection, activity_id: int, user_id: int, *, kind: ActivityCodeKind,
                      source: str, actor_id: int | None = None, context: ScanContext = ScanContext(),
                      card_holder: PersonRef | None = None) -> ActivityScan:
    """A scan of an activity's code by (or, at a station, for) `user_id`: check in, check out, or
    say why nothing changed. Each write is one statement (its own transaction, or part of the
    caller's). A station names the `card_holder` in the answer."""
    scan = await _load_scan(conn, activity_id, user_id, context.nonce)
    if scan is None:
        raise not_found("activity")
    return await _act(conn, scan, user_id, kind=kind, source=source, actor_id=actor_id, context=context,
                      holder=_holder(card_holder))


def _holder(card_holder: PersonRef | None) -> dict[str, Any]:
    """The detail fields naming whose card a station scanned (none for a person's own scan)."""
    return {"user_id": card_holder.id, "user_name": card_holder.name} if card_holder else {}


def _next_step(attendance: Attendance, now: datetime, context: ScanContext, *, replay: bool = False) -> str:
    replay = replay or (context.nonce is not None and context.nonce in (attendance.in_nonce, attendance.out_nonce))
    if not replay and attendance.state == "inside" and context.intent == "check_out":
        return "check_out"  # confirmed on purpose: even within the repeat window
    return rules.next_step(attendance.state, attendance.checked_in_at, now, replay=replay)


def _checks_out_now(activity: Activity, kind: str, source: str, context: ScanContext) -> bool:
    """A second scan checks out only on purpose: the person confirmed (intent check_out),
    or the manager chose one-step check-out for the station's and the kiosk's (rotating) scans."""
    return context.intent == "check_out" or (activity.one_step_checkout and (source == "station" or kind == "rotating"))


# A scan that finds the state it decided on changed before it wrote (a close, the same person's
# other scan, the same nonce uploaded twice) reads again and decides again; twice is already rare.
_DECISIONS = 3


async def _act(conn: asyncpg.Connection, scan: _Scan, user_id: int, *, kind: ActivityCodeKind, source: str,
               actor_id: int | None, context: ScanContext, holder: dict[str, Any]) -> ActivityScan:
    received = clock.now()
    # the device's time of a late (queued) scan, within the community's offline window
    now = offline.scan_time(context.scanned_at, received, scan.policy.offline_max_delay_seconds)
    ledger.refuse_self_payment(actor_id, user_id)  # a scan credits its person: never whoever recorded it
    # a late scan that cannot be believed alone has its credit held for review
    ended = min(scan.activity.ends_at, scan.activity.closed_at or scan.activity.ends_at)  # closed early: ended
    held = offline.held_reasons(claimed=context.scanned_at, received=received, ends_at=ended, source=source,
                                code_stale=context.code_stale)
    context = msgspec.structs.replace(context, code_stale=False)  # said once, in `held`
    for _ in range(_DECISIONS):
        if scan.own and source == "self":
            # A manager's own scan writes its attendance and the held credit together: one
            # transaction, where everyone else's scan is one statement.
            async with conn.transaction():
                result = await _decide(conn, scan, user_id, now=now, received=received, kind=kind, source=source,
                                       actor_id=actor_id, context=context, holder=holder, held=held)
        else:
            result = await _decide(conn, scan, user_id, now=now, received=received, kind=kind, source=source,
                                   actor_id=actor_id, context=context, holder=holder, held=held)
        if result is not None:
            return result
        again = await _load_scan(conn, scan.activity.id, user_id, context.nonce)
        assert again is not None  # activities are never deleted
        scan = again
    raise DomainError("invalid_state", details={"problem": "scan again"})


async def _claim(conn: asyncpg.Connection, scan: _Scan, user_id: int, context: ScanContext, received: datetime
                 ) -> bool:
    """A scan that writes nothing else still takes its nonce (a later upload of it only replays);
    False when it was taken meanwhile."""
    if context.nonce is None:
        return True
    return await offline.claim_nonce(conn, scan.activity.id, user_id, context.nonce, context.scanned_at, received)


async def _decide(conn: asyncpg.Connection, scan: _Scan, user_id: int, *, now: datetime, received: datetime,
                  kind: ActivityCodeKind, source: str, actor_id: int | None, context: ScanContext,
                  holder: dict[str, Any], held: list[str]) -> ActivityScan | None:
    """One decision on what the scan read, and its write; None when the write found the state changed."""
    activity, attendance, replay = scan.activity, scan.attendance, scan.nonce_seen
    if attendance is None:
        if replay:  # the scan this nonce belongs to wrote no attendance
            raise DomainError("invalid_state", details={"problem": "scan again"})
        return await _check_in(conn, scan, user_id, now=now, received=received, source=source,
                               actor_id=actor_id, context=context, kind=kind, holder=holder, held=held)
    step = _next_step(attendance, now, context, replay=replay)
    if step == "annulled":
        raise DomainError("invalid_state", details={"annulled": True, "reason": attendance.annul_reason})
    if step == "check_out" and not _checks_out_now(activity, kind, source, context):
        step = "confirm_check_out"
    # An automatic check-out always set checked_out_at; `is not None` says so to mypy.
    after_auto = (step == "already_checked_out" and not replay and context.scanned_at is not None
                  and attendance.auto_checkout and attendance.checked_out_at is not None
                  and now > attendance.checked_out_at)
    if after_auto or (step in ("check_out", "confirm_check_out") and not replay):
        _fence(activity, context, source)  # a check-out is fenced like a check-in
    if after_auto:
        # A queued scan that reached us after the automatic check-out claims presence until its own
        # time. that claim is not paid at once, whoever sent it; it waits on
        # the review list, where a manager credits it (an offline station's check-outs are not lost).
        why = held + ["after_auto_checkout"]
        async with conn.transaction():
            if not await _claim(conn, scan, user_id, context, received):
                return None
            attendance = await _lock_attendance(conn, attendance.id)
            if not (attendance.auto_checkout and attendance.checked_out_at is not None
                    and now > attendance.checked_out_at):
                return None
            await _hold(conn, activity, attendance, step="check_out", why=why, at=now, received=received)
        return CheckedOut(kind=kind, target_id=activity.id, title=activity.title, details=CheckOutDetails(
            attendance_id=attendance.id, checked_in_at=attendance.checked_in_at.isoformat(),
            checked_out_at=now.isoformat(), late=True, after_auto_checkout=True, held=why, **holder))
    if step == "check_out":
        at = max(now, attendance.checked_in_at)
        # A held check-out is recorded at the last proof of presence; the time it claims waits.
        proven = min(at, max(attendance.checked_in_at, attendance.last_seen_at or attendance.checked_in_at))
        hold = bool(held) and proven < at
        write = partial(check_out, conn, activity, attendance, at=proven if hold else at, actor_id=actor_id,
                        nonce=context.nonce, claimed=context.scanned_at, accounts=scan.accounts,
                        received=received if context.scanned_at is not None else None,
                        own=scan.own and source == "self")
        if hold:
            async with conn.transaction():  # the check-out and its review item commit together
                paid = await write()
                if paid is not None:
                    await _hold(conn, activity, attendance, step="check_out", why=held, at=at, received=received)
        else:
            paid = await write()  # one statement, its own transaction
        if paid is None:
            return None
        extra: dict[str, Any] = {"late": True, "held": held} if hold else {}
        return CheckedOut(kind=kind, target_id=activity.id, title=activity.title, points=paid.points,
                          minutes=paid.minutes, details=CheckOutDetails(
                              attendance_id=attendance.id, checked_in_at=attendance.checked_in_at.isoformat(),
                              checked_out_at=at.isoformat(), **paid.cap, **extra, **paid.held, **holder))
    if not replay and not await _claim(conn, scan, user_id, context, received):
        return None
    if step == "confirm_check_out" and not held:
        # A later scan while inside proves presence: an automatic check-out credits up to it, not
        # the whole window. One statement (the repeat within REPEAT_WINDOW adds nothing worth a write).
        # A late scan that is not believed alone proves nothing.
        await conn.execute("update attendances set last_seen_at = greatest(last_seen_at, $2) "
                           "where id = $1 and state = 'inside'", attendance.id, now)
    if step == "confirm_check_out":
        served = rules.attended_minutes(attendance.checked_in_at, now, activity.starts_at, activity.ends_at,
                                        activity.max_minutes)
        return ConfirmCheckOut(kind=kind, target_id=activity.id, title=activity.title,
                               details=ConfirmCheckOutDetails(
                                   attendance_id=attendance.id, checked_in_at=attendance.checked_in_at.isoformat(),
                                   served_minutes=served, at=now.isoformat(), **holder))
    details = AttendanceDetails(
        attendance_id=attendance.id, checked_in_at=attendance.checked_in_at.isoformat(),
        checked_out_at=attendance.checked_out_at.isoformat() if attendance.checked_out_at else None,
        total_points=attendance.points, total_minutes=attendance.minutes, **holder)
    unchanged = AlreadyCheckedIn if step == "already_checked_in" else AlreadyCheckedOut
    return unchanged(kind=kind, target_id=activity.id, title=activity.title, details=details)


def _fence(activity: Activity, context: ScanContext, source: str) -> None:
    """A fenced activity needs a location inside its radius from a self-scan that checks in, checks
    out or proves presence (leaving it out used to skip the fence:
    a check-out from 104 km away was paid). A station scan is made by the manager at the
    venue. A refused check-out leaves the person inside: the automatic check-out credits only up to
    the last proof of presence."""
    if activity.radius_m is None or source != "self":
        return
    if context.lat is None or context.lng is None:
        raise DomainError("location_required", field="lat", details={"radius_m": activity.radius_m})
    assert activity.lat is not None and activity.lng is not None  # the table's check: null with radius_m
    distance = rules.distance_m(context.lat, context.lng, activity.lat, activity.lng)
    if distance > activity.radius_m:
        raise DomainError("too_far", details={"distance_m": round(distance), "radius_m": activity.radius_m})


async def _hold(conn: asyncpg.Connection, activity: Activity, attendance: Attendance, *, step: str,
                why: list[str], at: datetime, received: datetime) -> None:
    """Put a late check-out's claim (presence until `at`) on the review list. One open item
    per attendance: a later claim moves its end, so the list shows each person once."""
    moved = await conn.fetchval(
        """Update scan_flags set details = details || jsonb_build_object(
                  'until', greatest((details->>'until')::timestamptz, $2::timestamptz),
                  'why', (select jsonb_agg(distinct w) from jsonb_array_elements_text(details->'why' || $3::jsonb) w),
                  'received_at', $4::text)
           where attendance_id = $1 and reason = 'late_scan' and details->>'step' = 'check_out'
             and resolved_at is null returning id""",
        attendance.id, at, msgspec.json.encode(why).decode(), received.isoformat())
    if moved is None:
        await fraud.flag(conn, activity_id=activity.id, attendance_id=attendance.id, user_id=attendance.user_id,
                         reason="late_scan", details={"step": step, "why": why, "until": at.isoformat(),
                                                      "scanned_at": at.isoformat(),
                                                      "received_at": received.isoformat()})


async def _proven_start(conn: asyncpg.Connection, attendance: Attendance) -> datetime:
    """Where an attendance's credited time starts: its check-in, or, while its late check-in is held
    for review, the moment that check-in reached the server (the time before it is not
    proven until a manager credits the check-in)."""
    if attendance.in_received_at is None or attendance.in_received_at <= attendance.checked_in_at:
        return attendance.checked_in_at
    held = await conn.fetchval(
        "select exists (select 1 from scan_flags where attendance_id = $1 and reason = 'late_scan' "
        "and details->>'step' = 'check_in' and resolved_at is null)", attendance.id)
    return attendance.in_received_at if held else attendance.checked_in_at


async def _check_in(conn: asyncpg.Connection, scan: _Scan, user_id: int, *, now: datetime, received: datetime,
                    source: str, actor_id: int | None, context: ScanContext, kind: ActivityCodeKind,
                    holder: dict[str, Any], held: list[str]) -> CheckedIn | None:
    """Check in, in one call of `attendance_check_in` (sql/checkin.sql); None when the state it was
    decided on changed before it wrote (the caller reads again)."""
    activity = scan.activity
    if activity.state == "draft":
        raise DomainError("not_published")
    if activity.state == "closed":
        assert activity.closed_at is not None  # the table's check: closed exactly when closed_at is set
        raise DomainError("outside_window", details={"closed_at": activity.closed_at.isoformat()})
    problem = rules.window_problem(now, activity.starts_at, activity.ends_at)
    if problem == "not_started":
        raise DomainError("outside_window", details={"opens_at": activity.starts_at.isoformat()})
    if problem == "ended":
        raise DomainError("outside_window", details={"closed_at": activity.ends_at.isoformat()})
    if not scan.is_member:
        # A request already waiting is named, so the page shows it pending instead of asking again.
        pending = await conn.fetchval(PEOPLE.pending_join_request, activity.community_id, user_id)
        raise DomainError("not_member", details={"community": activity.community_name,
                                                 **({"join_request_id": pending} if pending else {})})
    if activity.requires_training or activity.requires_insurance:  # a query only for such activities
        from domain import records
        await records.require_ready(conn, activity.id, user_id, now)
    _fence(activity, context, source)
    late = context.scanned_at is not None  # from an offline queue: over the capacity is accepted and flagged
    if activity.capacity is not None and scan.taken >= activity.capacity and not late:
        raise DomainError("capacity_full", details={"capacity": activity.capacity})  # full when the scan read
    if activity.capacity is not None and not late and rules.signup_places_held(now, activity.starts_at):
        if scan.taken + scan.held >= activity.capacity:  # a confirmed sign-up keeps its place
            raise DomainError("capacity_full", details={"capacity": activity.capacity, "held_for_signups": scan.held})
    # Two ways a check-in's points wait for a second person: a late check-in held for review
    # is recorded without them (the review list credits them); a manager's own scan at an activity they
    # manage checks them in, its credit held for another manager (managers volunteer too, but nobody
    # credits themself alone).
    held_points = activity.points if scan.own and source == "self" and not held else 0
    award = 0 if held else activity.points - held_points
    account, issuing = await _award_accounts(conn, scan.accounts, "points", award)
    day_start, day_end = rules.local_day(clock.now())
    try:
        row = await conn.fetchrow(
            "select * from attendance_check_in(p_activity => $1, p_user => $2, p_source => $3, p_at => $4,"
            " p_received => $5, p_late => $6, p_nonce => $7, p_claimed => $8, p_actor => $9, p_lat => $10,"
            " p_lng => $11, p_device => $12, p_ip => $13, p_wanted => $14, p_daily_cap => $15,"
            " p_day_start => $16, p_day_end => $17, p_account => $18, p_issuing => $19, p_memo => $20,"
            " p_burst_since => $21, p_travel_lookback => $22)",
            activity.id, user_id, source, now, received, late, context.nonce, context.scanned_at, actor_id,
            context.lat, context.lng, context.device, context.ip, award, activity.daily_points_cap,
            day_start, day_end, account, issuing, activity.title, fraud.burst_since(now, scan.policy),
            fraud.TRAVEL_LOOKBACK)
    except asyncpg.CheckViolationError as error:  # the last place went meanwhile (migrations/010)
        if error.constraint_name != "activities_capacity":
            raise
        raise DomainError("capacity_full", details={"capacity": activity.capacity}) from None
    if row["outcome"] != "checked_in":
        return None
    attendance_id, points = row["attendance_id"], row["points"]
    metrics.transfer_posted(conn, "points", "award", points)
    flags: list[str] = []
    if held:
        await fraud.flag(conn, activity_id=activity.id, attendance_id=attendance_id, user_id=user_id,
                         reason="late_scan", details={"step": "check_in", "why": held, "points": activity.points,
                                                      "scanned_at": now.isoformat(),
                                                      "received_at": received.isoformat()})
    if late and activity.capacity is not None and row["taken"] > activity.capacity:
        await fraud.flag(conn, activity_id=activity.id, attendance_id=attendance_id, user_id=user_id,
                         reason="late_over_capacity", details={"capacity": activity.capacity, "taken": row["taken"]})
        flags.append("late_over_capacity")
    if source == "self":
        seen = fraud.Seen(device_people=row["device_people"], address_people=row["address_people"],
                          other_activity=row["other_activity"], other_at=row["other_at"],
                          other_lat=row["other_lat"], other_lng=row["other_lng"])
        flags += await fraud.flag_self_scan(conn, activity_id=activity.id, attendance_id=attendance_id,
                                            user_id=user_id, at=now, lat=context.lat, lng=context.lng, seen=seen,
                                            policy=scan.policy)
    extra: dict[str, Any] = {}
    if scan.own and source == "self" and not held and (held_id := await hold_own_credit(
            conn, activity, attendance_id, user_id, phase="in", points=held_points, minutes=0)) is not None:
        extra["held_id"] = held_id
    if late:
        extra.update(late=True, received_at=received.isoformat())
    if flags:
        extra["flagged"] = flags
    if held:
        extra["held"] = held
    return CheckedIn(kind=kind, target_id=activity.id, title=activity.title, points=points,
                     details=CheckInDetails(attendance_id=attendance_id, checked_in_at=now.isoformat(),
                                            ends_at=activity.ends_at.isoformat(),
                                            **_cap_note(activity, award, points), **extra, **holder))


async def check_out(conn: asyncpg.Connection, activity: Activity, attendance: Attendance, *, at: datetime,
                    actor_id: int | None = None, nonce: str | None = None, claimed: datetime | None = None,
                    auto: bool = False, accounts: _Accounts | None = None, received: datetime | None = None,
                    own: bool | None = None) -> Credited | None:
    """Bank the minutes of [checked in, `at`] inside the window (capped), and the points per hour, in
    one call of `attendance_check_out` (sql/checkin.sql). None when the attendance is no longer inside
    (or the nonce was taken) when it writes: a scan then reads again. An automatic check-out's caller
    holds the row's lock, so it always writes.

    An automatic check-out (window end, close) credits only up to the last proof of presence (the
    check-in, or a later scan while inside), not to `at`, and flags it for the manager, who can
    credit the rest from the review list (it used to pay the whole window to
    someone who had left). checked_out_at is then that last proof of presence.

    A manager's own attendance (`own`; found out here when the caller does not know: a close, the
    sweep) is checked out with nothing credited: the minutes and points wait for another manager
   , who approves them from the held queue."""
    until = at
    if own is None:
        own = attendance.source == "self" and await _manages(conn, activity, attendance.user_id)
    if auto:
        at = max(attendance.checked_in_at, min(at, attendance.last_seen_at or attendance.checked_in_at))
    start = await _proven_start(conn, attendance)
    minutes = rules.attended_minutes(start, at, activity.starts_at, activity.ends_at, activity.max_minutes)
    if accounts is None:
        accounts = await _accounts(conn, activity.community_id, attendance.user_id)
    wanted = rules.hour_points(minutes, activity.points_per_hour)
    held = (wanted, minutes) if own else (0, 0)
    wanted, minutes = wanted - held[0], minutes - held[1]
    points_account, issuing_points = await _award_accounts(conn, accounts, "points", wanted)
    minutes_account, issuing_minutes = await _award_accounts(conn, accounts, "minutes", minutes)
    day_start, day_end = rules.local_day(clock.now())
    row = await conn.fetchrow(
        "select * from attendance_check_out(p_attendance => $1, p_activity => $2, p_user => $3, p_at => $4,"
        " p_minutes => $5, p_wanted => $6, p_daily_cap => $7, p_day_start => $8, p_day_end => $9, p_nonce => $10,"
        " p_claimed => $11, p_late => $12, p_auto => $13, p_now => $14, p_actor => $15, p_points_account => $16,"
        " p_minutes_account => $17, p_issuing_points => $18, p_issuing_minutes => $19, p_memo => $20)",
        attendance.id, activity.id, attendance.user_id, at, minutes, wanted, activity.daily_points_cap, day_start,
        day_end, nonce, claimed, received is not None, auto, received or clock.now(), actor_id, points_account,
        minutes_account, issuing_points, issuing_minutes, activity.title)
    if row["outcome"] != "checked_out":
        return None
    points = row["points"]
    metrics.transfer_posted(conn, "points", "award", points)
    held_id = await hold_own_credit(conn, activity, attendance.id, attendance.user_id, phase="out",
                                    points=held[0], minutes=held[1]) if own else None
    if auto:
        full = rules.attended_minutes(start, until, activity.starts_at, activity.ends_at, activity.max_minutes)
        if full > minutes + held[1]:
            await fraud.flag(conn, activity_id=activity.id, attendance_id=attendance.id, user_id=attendance.user_id,
                             reason="auto_checkout", details={"credited_minutes": minutes + held[1],
                                                              "window_minutes": full,
                                                              "last_seen_at": at.isoformat(),
                                                              "until": until.isoformat()})
    if auto or (actor_id is not None and actor_id != attendance.user_id):
        # Nobody watched this check-out on their own phone (the sweep, a close, a station): say what it
        # credited; an automatic one with nothing credited offers 申请补录.
        zero = auto and minutes + held[1] == 0  # a held own credit is not "nothing"
        await notify.send(conn, attendance.user_id, "checkout_zero" if zero else "checkout_credited",
                          community_id=activity.community_id,
                          params={"title": activity.title, "minutes": minutes, "points": points},
                          link=f"/activity.html?id={activity.id}&correction={attendance.id}" if zero
                          else "/statement.html")
    return Credited(points=points, minutes=minutes, cap=_cap_note(activity, wanted, points),
                    held={"held_id": held_id} if held_id is not None else {})


async def credit_to_window_end(conn: asyncpg.Connection, activity: Activity, attendance_id: int, until: datetime, *,
                               actor_id: int | None, reason: str | None = None, tag: str = "until"
                               ) -> dict[str, int]:
    """Credit an automatically checked-out person up to `until` (the minutes and their points per
    hour, under the daily cap): a manager vouching from the review list (domain/checkin/review.py,
    which audits it) for an automatic check-out or a late scan held for review."""
    attendance = await _lock_attendance(conn, attendance_id)
    if attendance.state != "done":
        raise DomainError("invalid_state", details={"state": attendance.state})
    if await conn.fetchval("select 1 from held_acts where attendance_id = $1 and state = 'pending'", attendance_id):
        # a manager's own credit is held: decided first, or this would pay its minutes twice
        raise DomainError("invalid_state", details={"problem": "a held credit of this attendance waits"})
    full = rules.attended_minutes(await _proven_start(conn, attendance), until, activity.starts_at,
                                  activity.ends_at, activity.max_minutes)
    extra = max(0, full - attendance.minutes)
    accounts = await _accounts(conn, activity.community_id, attendance.user_id)
    wanted = rules.hour_points(attendance.minutes + extra, activity.points_per_hour) - rules.hour_points(
        attendance.minutes, activity.points_per_hour)
    points, _ = await _capped_points(conn, activity, accounts, wanted)
    key = f"checkin:{attendance.id}:{tag}:{until.isoformat()}"  # each extension once; two differ by their end
    await _post_points(conn, activity, accounts, attendance.id, points, key=f"{key}:points", actor_id=actor_id,
                       reason=reason)
    await _bank_minutes(conn, activity, accounts, attendance.id, extra, key=f"{key}:minutes", actor_id=actor_id,
                        reason=reason)
    await conn.execute("update attendances set minutes = minutes + $2, points = points + $3, "
                       "checked_out_at = greatest(checked_out_at, $4) where id = $1",
                       attendance.id, extra, points, until)
    return {"minutes": extra, "points": points}


async def credit_held_check_in(conn: asyncpg.Connection, activity: Activity, attendance_id: int, points: int, *,
                               actor_id: int, reason: str) -> dict[str, int]:
    """A manager credits a late check-in that was held for review: its check-in points
    (under the daily cap) and, once checked out, the time between the check-in and its arrival that
    the check-out did not credit. The caller has resolved the review item first (so the check-in
    counts from its own time again) and audits it."""
    attendance = await _lock_attendance(conn, attendance_id)
    if attendance.state == "annulled":
        raise DomainError("invalid_state", details={"state": attendance.state})
    accounts = await _accounts(conn, activity.community_id, attendance.user_id)
    awarded, _ = await _capped_points(conn, activity, accounts, points)
    await _post_points(conn, activity, accounts, attendance.id, awarded, key=f"checkin:{attendance.id}:held-in:points",
                       actor_id=actor_id, reason=reason)
    await conn.execute("update attendances set points = points + $2 where id = $1", attendance.id, awarded)
    if attendance.state != "done" or attendance.checked_out_at is None:
        return {"points": awarded, "minutes": 0}
    more = await credit_to_window_end(conn, activity, attendance.id, attendance.checked_out_at, actor_id=actor_id,
                                      reason=reason, tag="held-in")
    return {"points": awarded + more["points"], "minutes": more["minutes"]}


def _check_code(code: Code, now: datetime, policy: community_policy.CommunityPolicy) -> None:
    """Rotating codes expire (after the community's grace period). A poster code is good while its
    activity runs: the activity's window check gives the clearer reason (outside_window), so only
    revocation counts."""
    if code.kind == "rotating":
        codes.check_valid(code, now, policy.rotation_grace_seconds)
    elif code.revoked_at is not None and code.revoked_at <= now:
        raise DomainError("code_revoked")


async def scan_activity_code(conn: asyncpg.Connection, actor: Actor, code: Code, context: ScanContext
                             ) -> ActivityScan:
    return await _scan_code(conn, actor.id, code, context)


async def complete_scan(conn: asyncpg.Connection, user_id: int, text: str, nonce: str | None) -> dict[str, Any]:
    """The scan a join request kept, run as its person when the request is approved (domain/people/
    joining.py, given this function by its caller): the code is checked as any scan's would be, now
    (a poster code of a rotating-only activity, or a rotating code long expired,
    used to check in with points). Returns what it did, as the request keeps it."""
    found = await codes.find(conn, text)
    if found is None or found.kind not in ("poster", "rotating"):
        raise DomainError("code_unknown")
    result = await _scan_code(conn, user_id, found, ScanContext(nonce=nonce))
    return {"action": result.action, "title": result.title, "points": result.points, "minutes": result.minutes}


async def _scan_code(conn: asyncpg.Connection, user_id: int, code: Code, context: ScanContext) -> ActivityScan:
    scan = await _load_scan(conn, code.target_id, user_id, context.nonce)
    attendance = scan.attendance if scan else None
    # The page replaying its own scan (a reload) answers as before, even past the code's life.
    replaying = bool(context.nonce and attendance and context.nonce in (attendance.in_nonce, attendance.out_nonce))
    if scan is None:
        raise not_found("activity")
    context = check_activity_code(code, scan.activity, context, scan.policy, replaying=replaying)
    return await _act(conn, scan, user_id, kind="rotating" if code.kind == "rotating" else "poster", source="self",
                      actor_id=None, context=context, holder={})


def check_activity_code(code: Code, activity: Activity, context: ScanContext,
                        policy: community_policy.CommunityPolicy, *, replaying: bool = False) -> ScanContext:
    """What an activity's code must be to check in or out, on every path that does (a scan, an
    offline queue's upload, the check-in a join request completes): the code
    good at the scan's (device's) time, a poster refused by a rotating-only activity, and a rotating
    code that had expired by the time the scan arrived marked stale (its credit is held for review).
    The page replaying its own scan (a reload) answers as before, even past the code's life."""
    if code.kind == "poster" and activity.rotating_only:
        raise DomainError("poster_not_accepted")
    if replaying:
        return context
    received = clock.now()
    # good when it was scanned
    _check_code(code, offline.scan_time(context.scanned_at, received, policy.offline_max_delay_seconds), policy)
    if code.kind == "rotating" and context.scanned_at is not None:
        try:
            _check_code(code, received, policy)
        except DomainError:
            return msgspec.structs.replace(context, code_stale=True)
    return context


async def preview_activity_code(conn: asyncpg.Connection, actor: Actor | None, code: Code) -> scans.Preview:
    # Every phone scan opens with this preview: the scan's own read, without counts or locks.
    scan = await _load_scan(conn, code.target_id, actor.id if actor else 0)
    if scan is None:
        raise not_found("activity")
    _check_code(code, clock.now(), scan.policy)
    activity = scan.activity
    return scans.Preview(kind=code.kind, target_id=activity.id, title=activity.title, details={
        "starts_at": activity.starts_at.isoformat(), "ends_at": activity.ends_at.isoformat(),
        "place": activity.place, "community": activity.community_name, "state": activity.state,
        "points": activity.points, "points_per_hour": activity.points_per_hour,
        "my_state": scan.attendance.state if scan.attendance else None, "geofence": activity.radius_m is not None})


async def preview_member_card(conn: asyncpg.Connection, actor: Actor | None, code: Code) -> scans.Preview:
    """A member card opened by a phone camera: say what it is; only a station acts on it."""
    codes.check_valid(code, clock.now())
    mine = actor is not None and actor.id == code.target_id
    # Whose card it is stays between the card and a station: 0 for anyone but its owner.
    return scans.Preview(kind="member", target_id=code.target_id if mine else 0, details={"mine": mine})


async def station_scan(pool: asyncpg.Pool, actor: Actor, activity_id: int, text: str,
                       nonce: str | None = None, *, scanned_at: datetime | None = None,
                       intent: str | None = None) -> ActivityScan:
    """A manager scans a member's card at the venue: the member is checked in or out, as if they had
    scanned themselves (membership, window, capacity and caps all apply), recorded as station-scanned."""
    async with pool.acquire() as conn:
        activity = await activities.get_managed(conn, actor, activity_id)  # scope first: strangers' attempts are not logged
        window = (await community_policy.effective(conn, activity.community_id)).offline_max_delay_seconds
    value = codes.code_from_text(text)
    found: Code | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            found = await codes.find(conn, value)
            if found is None or found.kind != "member":
                raise DomainError("code_unknown", details={"expected": "member card"})
            codes.check_valid(found, offline.scan_time(scanned_at, clock.now(), window))
            ledger.refuse_self_payment(actor.id, found.target_id)  # a manager scans nobody's card but others'
            name = await conn.fetchval("select name from users where id = $1", found.target_id)
            result = await record_scan(conn, activity_id, found.target_id, kind="member", source="station",
                                       actor_id=actor.id,
                                       context=ScanContext(nonce=nonce, scanned_at=scanned_at, intent=intent),
                                       card_holder=PersonRef(found.target_id, name))
            # The manager checked someone in or out (and so paid them): one audit row per scan.
            await audit.record(conn, actor, "station_scan", community_id=activity.community_id,
                               target=("user", found.target_id),
                               after={"activity_id": activity_id, "action": result.action})
            return result
    except DomainError as error:
        member = found.target_id if found is not None and found.kind == "member" else None
        error.details.setdefault("station_by", actor.id)
        await scans.log_refusal(pool, code=value or text[:64], found=found, user_id=member, error=error,
                                activity_id=activity_id)
        metrics.scan("refused", error.code)
        raise
    metrics.scan(result.action)  # committed
    return result


# ---- manager actions ----------------------------------------------------------------------

async def annul(conn: asyncpg.Connection, actor: Actor, attendance_id: int, reason: str, *,
                ip: str | None = None) -> Attendance:
    """Undo a mistaken check-in: every credit of it is reversed through the ledger, with the reason.

    If the person already spent the points, the reversal cannot take them back: the ledger refuses
    with insufficient_balance (409) and nothing changes; the manager settles it with an adjustment.
    """
    reason = clean_reason(reason)
    activity_id = await conn.fetchval("select activity_id from attendances where id = $1", attendance_id)
    if activity_id is None:
        raise not_found("attendance")
    activity = await activities.get_managed(conn, actor, activity_id)
    # Giving the place back updates the activity's `taken` counter (with a capacity): the activity
    # first, in the mode of that update, then the attendance, as a close takes them.
    await _lock_activity(conn, activity_id, "no key update")
    row = await conn.fetchrow("select * from attendances where id = $1 for update", attendance_id)
    assert row is not None  # attendances are never deleted
    if row["state"] == "annulled":
        raise DomainError("invalid_state", details={"state": "annulled"})
    credits = await conn.fetch(
        """Select t.id from transfers t where t.cause_type = 'checkin' and t.cause_id = $1 and t.kind = 'award'
             and t.state = 'posted' and not exists (select 1 from transfers r where r.reverses = t.id)
           order by t.id""", attendance_id)
    for credit in credits:
        await ledger.reverse(conn, credit["id"], actor_id=actor.id, reason=reason, key=f"annul:{credit['id']}")
    updated = await conn.fetchrow(
        """Update attendances set state = 'annulled', annulled_at = $2, annulled_by = $3, annul_reason = $4
           where id = $1 returning *""", attendance_id, clock.now(), actor.id, reason)
    await audit.record(conn, actor, "checkin_annul", community_id=activity.community_id,
                       target=("user", row["user_id"]), before={"attendance_id": attendance_id, "state": row["state"]},
                       after={"reversed": [c["id"] for c in credits]}, reason=reason, ip=ip)
    return _attendance(updated)


async def _manages(conn: asyncpg.Connection, activity: Activity, user_id: int) -> bool:
    """The person created the activity or manages its community: their own scans' credits are held."""
    return bool(await conn.fetchval(
        "select $3 = (select created_by from activities where id = $1) or exists (select 1 from org_managers "
        "where org_id = $2 and user_id = $3)", activity.id, activity.community_id, user_id))


async def hold_own_credit(conn: asyncpg.Connection, activity: Activity, attendance_id: int, user_id: int, *,
                          phase: str, points: int, minutes: int) -> int | None:
    """Hold the credit of a manager's own scan for another manager; None when it is nothing."""
    if points <= 0 and minutes <= 0:
        return None
    held = await oversight.hold(conn, user_id, activity.community_id, "own_credit",
                                payload={"attendance_id": attendance_id, "phase": phase, "points": points,
                                         "minutes": minutes},
                                evidence={"activity_id": activity.id, "title": activity.title, "points": points,
                                          "minutes": minutes}, subject_id=user_id, activity_id=activity.id,
                                attendance_id=attendance_id)
    await oversight.flag(conn, activity.community_id, user_id, "own_credit",
                         {"held_id": held, "activity_id": activity.id})
    return held


async def credit_held(conn: asyncpg.Connection, actor: Actor, attendance_id: int, *, points: int, minutes: int,
                      key: str, reason: str | None) -> dict[str, int]:
    """Post what a held act (a manager's own scan, approved by another) credits an attendance:
    the points under the daily cap, the minutes; the attendance's totals follow the ledger."""
    attendance = await _lock_attendance(conn, attendance_id)
    activity = await activities.load(conn, attendance.activity_id)
    ledger.refuse_self_payment(actor.id, attendance.user_id)
    if attendance.state == "annulled":
        raise DomainError("invalid_state", details={"state": "annulled"})
    accounts = await _accounts(conn, activity.community_id, attendance.user_id)
    awarded, _ = await _capped_points(conn, activity, accounts, points)
    await _post_points(conn, activity, accounts, attendance_id, awarded, key=f"{key}:points", actor_id=actor.id,
                       reason=reason)
    await _bank_minutes(conn, activity, accounts, attendance_id, minutes, key=f"{key}:minutes", actor_id=actor.id,
                        reason=reason)
    await conn.execute("update attendances set points = points + $2, minutes = minutes + $3 where id = $1",
                       attendance_id, awarded, minutes)
    return {"points": awarded, "minutes": minutes}


class MarkResult(msgspec.Struct):
    marked: list[int]                 # attendance ids created
    skipped: list[dict[str, Any]]     # {user_id, reason}
    minutes: int                      # as credited to each (after the window and the cap)
    held_id: int | None = None        # above the thresholds or the daily limit: held for a second person


async def mark_attended(conn: asyncpg.Connection, actor: Actor, activity_id: int, user_ids: list[int],
                        reason: str, minutes: int, *, ip: str | None = None) -> MarkResult:
    """A manager records attendance for members who could not scan (flagged manual, with the reason).

    Each gets the activity's check-in points, `minutes` (at most the window and the cap) and the
    points for those minutes, under the same daily cap. People already recorded are skipped, and
    so are non-members. Capacity does not apply: the manager vouches they were there.

    a mark paying one person more than the community's thresholds, or taking
    the manager past their daily limit of value made by hand, is held for a second person (another
    manager of the community, or a street manager) instead: nothing is recorded or credited yet.
    """
    reason = clean_reason(reason)
    activity = await activities.get_managed(conn, actor, activity_id, lock=True)
    return await _mark(conn, actor, activity, user_ids, reason, minutes, ip=ip)


async def mark_for_micro_grid(conn: asyncpg.Connection, actor: Actor, micro_grid_id: int, activity_id: int,
                              user_ids: list[int], reason: str, minutes: int, *, ip: str | None = None) -> MarkResult:
    """A 邻里长 or 微网格员 marks for residents of their 微网格 who have no phone: the
    manager's mark, with its rules (nobody marks themself, the window, the cap, the daily cap, the
    audit row), for the activities of the 微网格's community and only for the people it may mark
    (domain/people/micro.py `markable`). Anyone else in the list makes the whole mark refused."""
    allowed = await micro.markable(conn, actor, micro_grid_id, activity_id)
    reason = clean_reason(reason)
    activity = await activities.load(conn, activity_id, viewer=actor.id, lock=True)
    outside = [u for u in user_ids if u not in allowed]
    if outside:
        raise DomainError("forbidden", details={"why": "only residents of your 微网格 without a phone",
                                                "user_ids": outside[:20]})
    return await _mark(conn, actor, activity, user_ids, reason, minutes, ip=ip)


async def _mark(conn: asyncpg.Connection, actor: Actor, activity: Activity, user_ids: list[int], reason: str,
                minutes: int, *, ip: str | None) -> MarkResult:
    for user_id in user_ids:  # the whole mark is refused, nothing half done
        ledger.refuse_self_payment(actor.id, user_id)
    if activity.state == "draft":
        raise DomainError("not_published")
    minutes = rules.manual_minutes(minutes, activity.starts_at, activity.ends_at, activity.max_minutes)
    people, skipped = [], []
    for user_id in dict.fromkeys(user_ids):
        if not await _is_member(conn, activity.community_id, user_id):
            skipped.append({"user_id": user_id, "reason": "not_member"})
        elif await conn.fetchval("select 1 from attendances where activity_id = $1 and user_id = $2",
                                 activity.id, user_id):
            skipped.append({"user_id": user_id, "reason": "already_recorded"})
        else:
            people.append(user_id)
    each = {"points": min(activity.points + rules.hour_points(minutes, activity.points_per_hour),
                          activity.daily_points_cap), "minutes": minutes}
    limits = await oversight.limits(conn, activity.community_id)
    evidence: dict[str, Any] | None = None
    if people and (over := oversight_rules.above(each, limits.thresholds())):
        evidence = {"above_threshold": over}
    elif people:
        evidence = await oversight.count_manual(conn, activity.community_id, actor.id,
                                                {unit: amount * len(people) for unit, amount in each.items()})
    if evidence is not None:
        held = await oversight.hold(conn, actor, activity.community_id, "mark",
                                    payload={"activity_id": activity.id, "user_ids": people, "minutes": minutes,
                                             "reason": reason},
                                    evidence={**evidence, "each": each, "people": len(people),
                                              "title": activity.title},
                                    subject_id=people[0] if len(people) == 1 else None, activity_id=activity.id,
                                    ip=ip)
        await oversight.flag(conn, activity.community_id, actor.id,
                             "daily_limit" if "daily_limit" in evidence else "large_terms", {"held_id": held})
        await oversight.check_pace(conn, activity.community_id, actor.id)
        return MarkResult(marked=[], skipped=skipped, minutes=minutes, held_id=held)
    marked = await record_marks(conn, actor, activity, people, minutes, reason, recorded_by=actor.id)
    skipped += [{"user_id": u, "reason": "already_recorded"} for u in people if u not in marked]
    # The limits in force, kept on the audit row: `linli audit` judges the mark by them, not by later ones.
    await audit.record(conn, actor, "attendance_mark", community_id=activity.community_id,
                       target=("activity", activity.id),
                       after={"attendances": list(marked.values()), "minutes": minutes,
                              "thresholds": limits.thresholds(),
                              "daily_limits": {"points": limits.daily_points, "minutes": limits.daily_minutes}},
                       reason=reason, ip=ip)
    await oversight.check_pace(conn, activity.community_id, actor.id)
    return MarkResult(marked=list(marked.values()), skipped=skipped, minutes=minutes)


async def record_marks(conn: asyncpg.Connection, actor: Actor, activity: Activity, user_ids: list[int], minutes: int,
                       reason: str, *, recorded_by: int) -> dict[int, int]:
    """Write manual attendances and their credits (the caller holds the activity's lock and audits):
    {user id: attendance id} of those written (someone already recorded is left out)."""
    start = activity.starts_at
    end = start + timedelta(minutes=minutes)
    marked: dict[int, int] = {}
    for user_id in user_ids:
        ledger.refuse_self_payment(actor.id, user_id)
        attendance_id = await conn.fetchval(
            """Insert into attendances (activity_id, user_id, state, source, checked_in_at, checked_out_at,
                                        minutes, recorded_by, note, created_at)
               values ($1, $2, 'done', 'manual', $3, $4, $5, $6, $7, $8)
               on conflict (activity_id, user_id) do nothing returning id""",
            activity.id, user_id, start, end, minutes, recorded_by, reason, clock.now())
        if attendance_id is None:
            continue
        accounts = await _accounts(conn, activity.community_id, user_id)
        points, _ = await _capped_points(conn, activity, accounts,
                                         activity.points + rules.hour_points(minutes, activity.points_per_hour))
        await _post_points(conn, activity, accounts, attendance_id, points,
                           key=f"checkin:{attendance_id}:manual:points", actor_id=actor.id, reason=reason)
        await _bank_minutes(conn, activity, accounts, attendance_id, minutes,
                            key=f"checkin:{attendance_id}:manual:minutes", actor_id=actor.id, reason=reason)
        await conn.execute("update attendances set points = $2 where id = $1", attendance_id, points)
        marked[user_id] = attendance_id
    return marked


async def close(conn: asyncpg.Connection, actor: Actor, activity_id: int, *, ip: str | None = None) -> Activity:
    """Published → closed; whoever is still inside is checked out now (or at the window end if earlier)."""
    async with conn.transaction():
        activity = await activities.get_managed(conn, actor, activity_id, lock=True)
        if activity.state != "published":
            raise DomainError("invalid_state", details={"state": activity.state})
        now = clock.now()
        rows = await conn.fetch("select * from attendances where activity_id = $1 and state = 'inside' "
                                "order by id for update", activity_id)
        for row in rows:
            await check_out(conn, activity, _attendance(row), at=max(row["checked_in_at"], min(now, activity.ends_at)),
                            auto=True)
        await conn.execute("update activities set state = 'closed', closed_at = $2 where id = $1", activity_id, now)
        await audit.record(conn, actor, "activity_close", community_id=activity.community_id,
                           target=("activity", activity_id), after={"checked_out": len(rows)}, ip=ip)
    return await activities.load(conn, activity_id, viewer=actor.id)


async def check_out_at_window_end(pool: asyncpg.Pool, now: datetime, batch: int = 200) -> int:
    """Check out people still inside when their activity's window has ended.

    Their minutes count up to their last proof of presence (the check-in, or a later scan while
    inside), not to the window end, and the check-out is flagged for the manager, who credits the
    rest from the review list when the person did stay (the whole window was
    paid to people who had left). Each person in its own short transaction; SKIP LOCKED and the
    state re-check make several processes safe together.
    """
    due = await pool.fetch(
        """Select t.id, t.activity_id from attendances t join activities a on a.id = t.activity_id
           where t.state = 'inside' and a.ends_at <= $1 order by t.id limit $2""", now, batch)
    async def one(conn: asyncpg.Connection, attendance_id: int, activity_id: int) -> bool:
        # The activity first, as a close takes it: the check-out's flag locks it (its foreign key).
        # A close in progress is waited for; the person it checked out is then no longer inside.
        await _lock_activity(conn, activity_id, "key share")
        row = await conn.fetchrow("select * from attendances where id = $1 and state = 'inside' "
                                  "for update skip locked", attendance_id)
        if row is None:
            return False
        activity = await activities.load(conn, row["activity_id"])
        await check_out(conn, activity, _attendance(row), at=activity.ends_at, auto=True)
        return True

    done = 0
    for item in due:  # a row that fails is logged, counted and skipped (domain/core/sweeper.py)
        done += bool(await sweeper.one_row(pool, "check_out_at_window_end", item["id"],
                                           partial(one, attendance_id=item["id"],
                                                   activity_id=item["activity_id"])))
    return done



# ---- what this capability plugs in (listed in api/capabilities.py) ----------------------------

SCAN_ACTS = {"poster": scan_activity_code, "rotating": scan_activity_code}
SCAN_PREVIEWS = {"poster": preview_activity_code, "rotating": preview_activity_code, "member": preview_member_card}
SWEEPS = (check_out_at_window_end, activities.prune_rotating_codes, offline.prune_scan_nonces)


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

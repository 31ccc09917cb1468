"""Courier reports (兼职网格员上报): file, review (verify with points or reject with a reason), list,
photo, the courier's own summary, per-community settings and demo data.

Scope: a courier files in a grid they are a courier of; the managers of that grid's community
(and admins) review. A single report outside a manager's communities answers 404 not_found, the
same as a report that does not exist, so ids of other communities reveal nothing. A list filtered
by a grid or community the manager does not manage is 403 forbidden (org ids are not secret).

Verify checks, in this order: report exists and is in scope (404), the reviewer is not the courier
(403), the report is pending (409 invalid_state), then points by kind under the daily cap (see
domain/reports/rules.py for the cap decision). State change and ledger award commit together.
Where the community's rulebook (积分细则) has an item for the kind (applies_to
report_<kind>), the item's points (and its daily cap, besides the settings' one) apply and the
report keeps the item, which its credit names; else the settings' points.

Uploads are idempotent through the unique (courier_id, client_key) column rather than the generic
Idempotency-Key table: a retried multipart body need not hash the same, and the photo is decoded
outside any transaction. A courier's rank is by points from reports verified in the current
local quarter (domain/core/clock.py, LINLI_TZ), among the couriers of their grid.
"""

import asyncio
import io
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

import asyncpg
import msgspec
from PIL import Image

from domain import cases, ledger, notify
from domain.cases import rules as case_rules
from domain.core import audit, clock, metrics, photos, queries
from domain.core.actor import Actor, OrgRef, PersonRef
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.core.texts import clean_reason
from domain.people import orgs
from domain.recognition import rules as recognition_rules
from domain.reports import rules

Q = queries.load("reports")

if TYPE_CHECKING:
    from domain.recognition.rulebook import RuleItem

Kind = Literal["civility", "hazard", "service"]
State = Literal["pending", "verified", "rejected"]
HISTORY_DAYS = 30


# ---- types ----------------------------------------------------------------------------------

class NewReport(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    text: str
    place: str = ""
    lat: float | None = None
    lng: float | None = None
    grid_id: int | None = None  # only needed by a courier of several grids


class Flag(msgspec.Struct, frozen=True, kw_only=True):
    """Why a report looks like farming. duplicate: same kind, ≤10 min and ≤50 m after report_ids.
    over_cap: the courier's day is (nearly) capped; verifying awards only points_left."""
    code: Literal["duplicate", "over_cap"]
    report_ids: list[int] = []
    points_left: int | None = None


class CourierHistory(msgspec.Struct, frozen=True):
    """The courier's last 30 days, for the reviewer."""
    verified: int
    rejected: int
    pending: int
    points: int


class Report(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: Kind
    text: str
    place: str
    lat: float | None
    lng: float | None
    photo_url: str | None
    map_url: str | None
    state: State
    points: int | None            # set once verified; may be less than the kind's points (daily cap)
    points_withheld: int          # cut by the daily cap
    withheld_reason: str | None   # "daily_cap_reached" when points_withheld > 0
    reject_reason: str | None
    courier: PersonRef
    grid: OrgRef
    community_id: int
    created_at: datetime
    reviewed_at: datetime | None
    reviewed_by: PersonRef | None
    flags: list[Flag] = []                 # manager views only
    history: CourierHistory | None = None  # manager views only


class ReportPage(msgspec.Struct, frozen=True):
    items: list[Report]
    next_cursor: str | None


class Rank(msgspec.Struct, frozen=True):
    quarter: str       # e.g. "2026Q4", the local quarter (LINLI_TZ)
    position: int      # 1 = most points in the grid this quarter
    of: int            # couriers in the grid
    points: int        # my points from verified reports this quarter


class Today(msgspec.Struct, frozen=True):
    points: int        # earned today (the local day) from reports, in my grid's community
    daily_cap: int


class CourierSummary(msgspec.Struct, frozen=True):
    grid: OrgRef | None           # None: not a courier of any grid
    community_id: int | None
    points: ledger.Balance
    rank: Rank | None
    today: Today | None
    kinds: dict[str, int]      # points per kind in my community
    recent: list[Report]


class ReportSettings(msgspec.Struct, frozen=True):
    community_id: int
    points: dict[str, int]
    daily_cap: int
    defaults: dict[str, int]
    default_daily_cap: int
    # The grid loop's amounts, here until the rulebook is their home: the reporter's bonus
    # for a case closed in time, and a work unit's handler's service minutes for one rated well.
    case_bonus_points: int = case_rules.DEFAULT_CASE_BONUS
    handler_minutes: int = case_rules.DEFAULT_HANDLER_MINUTES
    # What is paid now: per kind, the rulebook's item where the rulebook in force has one
    # for it, else `points`; `rule_labels` names those items by kind (and "case_bonus" for the bonus
    # of a case closed in time), the amounts above then being set aside.
    paid: dict[str, int] = {}
    rule_labels: dict[str, str] = {}


class ProcessedPhoto(msgspec.Struct, frozen=True):
    jpeg: bytes
    width: int
    height: int


# ---- reading --------------------------------------------------------------------------------

_SELECT = """
    select r.id, r.kind, r.text, r.place, r.lat, r.lng, r.has_photo, r.state, r.points, r.points_withheld,
           r.reject_reason, r.courier_id, c.name as courier_name, r.grid_id, g.name as grid_name,
           r.community_id, r.created_at, r.reviewed_at, r.reviewed_by, v.name as reviewer_name
    from reports r
    join users c on c.id = r.courier_id
    join orgs g on g.id = r.grid_id
    left join users v on v.id = r.reviewed_by
"""


def map_url(lat: float | None, lng: float | None, place: str = "") -> str | None:
    """A plain link to Amap (高德); the browser's position is WGS-84, which the link says."""
    if lat is None or lng is None:
        return None
    query = {"position": f"{lng:.6f},{lat:.6f}", "coordinate": "wgs84", "src": "linli"}
    if place:
        query["name"] = place
    return "https://uri.amap.com/marker?" + urlencode(query)


def _report(row: asyncpg.Record, flags: list[Flag] | None = None,
            history: CourierHistory | None = None) -> Report:
    withheld = row["points_withheld"]
    return Report(
        id=row["id"], kind=row["kind"], text=row["text"], place=row["place"], lat=row["lat"], lng=row["lng"],
        photo_url=f"/api/reports/{row['id']}/photo" if row["has_photo"] else None,
        map_url=map_url(row["lat"], row["lng"], row["place"]), state=row["state"], points=row["points"],
        points_withheld=withheld, withheld_reason=rules.WITHHELD_BY_CAP if withheld else None,
        reject_reason=row["reject_reason"], courier=PersonRef(row["courier_id"], row["courier_name"]),
        grid=OrgRef(row["grid_id"], row["grid_name"]), community_id=row["community_id"],
        created_at=row["created_at"], reviewed_at=row["reviewed_at"],
        reviewed_by=PersonRef(row["reviewed_by"], row["reviewer_name"]) if row["reviewed_by"] else None,
        flags=flags or [], history=history)


def _can_review(actor: Actor, community_id: int) -> bool:
    return actor.can_manage(community_id)


async def _load(conn: asyncpg.Connection, report_id: int, *, lock: bool = False) -> asyncpg.Record:
    if lock:  # lock the report row alone (a join would lock users and orgs too)
        await conn.execute("select 1 from reports where id = $1 for update", report_id)
    row = await conn.fetchrow(_SELECT + " where r.id = $1", report_id)
    if row is None:
        raise not_found("report")
    return row


async def get_report(conn: asyncpg.Connection, actor: Actor, report_id: int) -> Report:
    row = await _load(conn, report_id)
    if _can_review(actor, row["community_id"]):
        return (await _with_review_aids(conn, [row]))[0]
    if row["courier_id"] == actor.id:
        return _report(row)
    raise not_found("report")


async def photo(conn: asyncpg.Connection, actor: Actor, report_id: int) -> bytes:
    """The stored JPEG, for the courier who filed the report and the managers of its community."""
    row = await conn.fetchrow(
        "select r.courier_id, r.community_id, p.jpeg from reports r "
        "left join report_photos p on p.report_id = r.id where r.id = $1", report_id)
    if row is None or not (row["courier_id"] == actor.id or _can_review(actor, row["community_id"])):
        raise not_found("report")
    if row["jpeg"] is None:
        raise not_found("photo")
    return row["jpeg"]


# ---- settings -------------------------------------------------------------------------------

async def load_rules(conn: asyncpg.Connection, community_id: int) -> rules.Rules:
    row = await conn.fetchrow(
        "select civility_points, hazard_points, service_points, daily_cap from report_settings "
        "where community_id = $1", community_id)
    return rules.rules_for(dict(row) if row else None)


def _settings(community_id: int, current: rules.Rules, amounts: tuple[int, int] | None = None,
              items: "dict[str, RuleItem] | None" = None) -> ReportSettings:
    bonus, minutes = amounts or (case_rules.DEFAULT_CASE_BONUS, case_rules.DEFAULT_HANDLER_MINUTES)
    items = items or {}
    labels = {kind: item.label for kind in rules.KINDS
              if (item := items.get(recognition_rules.report_purpose(kind)))}
    if case_item := items.get(recognition_rules.CASE_IN_TIME):
        labels["case_bonus"] = case_item.label
    return ReportSettings(community_id=community_id, points=current.points, daily_cap=current.daily_cap,
                          defaults=dict(rules.DEFAULT_POINTS), default_daily_cap=rules.DEFAULT_DAILY_CAP,
                          case_bonus_points=bonus, handler_minutes=minutes, paid=_kind_points(current, items),
                          rule_labels=labels)


async def _read_settings(conn: asyncpg.Connection, community_id: int) -> ReportSettings:
    return _settings(community_id, await load_rules(conn, community_id), await cases.amounts(conn, community_id),
                     await _rule_items(conn, community_id))


async def _require_community(conn: asyncpg.Connection, actor: Actor, community_id: int) -> None:
    org = await orgs.get_org(conn, community_id)
    if org.kind != "community":
        raise invalid("community_id", "not a community")
    orgs.require_manager(actor, community_id)


async def get_settings(conn: asyncpg.Connection, actor: Actor, community_id: int) -> ReportSettings:
    await _require_community(conn, actor, community_id)
    return await _read_settings(conn, community_id)


async def update_settings(conn: asyncpg.Connection, actor: Actor, community_id: int, *,
                          points: dict[str, int | None], daily_cap: int | None,
                          case_bonus_points: int | None = None, handler_minutes: int | None = None) -> ReportSettings:
    """Set a community's points per kind and daily cap; None puts the default back."""
    await _require_community(conn, actor, community_id)
    unknown = set(points) - set(rules.KINDS)
    if unknown:
        raise invalid("points", f"unknown kind {sorted(unknown)[0]}")
    async with conn.transaction():
        before = await _read_settings(conn, community_id)
        await conn.execute(
            """Insert into report_settings (community_id, civility_points, hazard_points, service_points,
                                            daily_cap, case_bonus_points, handler_minutes, updated_by, updated_at)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               on conflict (community_id) do update set civility_points = $2, hazard_points = $3,
                   service_points = $4, daily_cap = $5, case_bonus_points = $6, handler_minutes = $7,
                   updated_by = $8, updated_at = $9""",
            community_id, points.get("civility"), points.get("hazard"), points.get("service"), daily_cap,
            case_bonus_points, handler_minutes, actor.id, clock.now())
        after = await _read_settings(conn, community_id)
        await audit.record(conn, actor, "report_settings", community_id=community_id, target=("org", community_id),
                           before=before, after=after)
    return after


# ---- filing ---------------------------------------------------------------------------------

async def prepare_photo(data: bytes) -> ProcessedPhoto:
    """Validate and re-encode an upload off the event loop (decoding a photo takes a moment)."""
    jpeg = await asyncio.to_thread(photos.process_photo, data)
    with Image.open(io.BytesIO(jpeg)) as image:  # our own output: reading its header is safe
        width, height = image.size
    return ProcessedPhoto(jpeg, width, height)


def _clean(report: NewReport) -> NewReport:
    text = report.text.strip()
    if not text:
        raise invalid("text", "required")
    if len(text) > 500:
        raise invalid("text", "at most 500 characters")
    place = " ".join(report.place.split())
    if len(place) > 200:
        raise invalid("place", "at most 200 characters")
    if report.kind not in rules.KINDS:
        raise invalid("kind", f"one of {', '.join(rules.KINDS)}")
    if (report.lat is None) != (report.lng is None):
        raise invalid("lng" if report.lng is None else "lat", "send lat and lng together")
    return msgspec.structs.replace(report, text=text, place=place)


async def _courier_grid(conn: asyncpg.Connection, courier_id: int, grid_id: int | None) -> asyncpg.Record:
    grids = await conn.fetch(
        """Select o.id, o.parent_id as community_id from org_members m join orgs o on o.id = m.org_id
           where m.user_id = $1 and m.role = 'courier' and o.kind = 'grid' order by m.created_at, o.id""",
        courier_id)
    if not grids:
        raise forbidden("only couriers of a grid file reports")
    if grid_id is None:
        return grids[0]
    for grid in grids:
        if grid["id"] == grid_id:
            return grid
    raise DomainError("forbidden", field="grid_id", details={"why": "not a courier of this grid"})


async def _replay(conn: asyncpg.Connection, courier_id: int, key: str, report: NewReport) -> Report | None:
    row = await conn.fetchrow(_SELECT + " where r.courier_id = $1 and r.client_key = $2", courier_id, key)
    if row is None:
        return None
    for field in ("kind", "text", "place"):
        if row[field] != getattr(report, field):
            raise DomainError("idempotency_conflict", details={"field": field})
    return _report(row)


async def file_report(pool: asyncpg.Pool, courier_id: int, report: NewReport, photo_bytes: bytes | None,
                      client_key: str | None = None) -> tuple[Report, bool]:
    """File a report; returns (report, created). A retry with the same client key (the upload's
    Idempotency-Key) returns the first report and files nothing, even when the first attempt's
    answer never reached the phone. Refused uploads store nothing."""
    report = _clean(report)
    if client_key is not None and not 1 <= len(client_key) <= 200:
        raise invalid("Idempotency-Key", "1 to 200 characters")
    if report.kind in rules.PHOTO_REQUIRED and not photo_bytes:
        raise DomainError("validation_failed", field="photo", details={"problem": "required for this kind"})
    async with pool.acquire() as conn:
        grid = await _courier_grid(conn, courier_id, report.grid_id)
        if client_key and (first := await _replay(conn, courier_id, client_key, report)):
            return first, False
    # Decoding runs without holding a connection: a slow photo must not starve the pool.
    processed = await prepare_photo(photo_bytes) if photo_bytes else None
    async with pool.acquire() as conn, conn.transaction():
        report_id = await conn.fetchval(
            Q.insert_report,
            courier_id, grid["id"], grid["community_id"], report.kind, report.text, report.place, report.lat,
            report.lng, processed is not None, client_key, clock.now())
        if report_id is None:  # the same key committed concurrently, between our check and here
            # ON CONFLICT fires only for a key (NULLs never conflict), and the row it hit is committed.
            assert client_key is not None
            first = await _replay(conn, courier_id, client_key, report)
            assert first is not None
            return first, False
        metrics.report(conn, "pending")
        if processed:
            await conn.execute(Q.insert_report_photo,
                               report_id, processed.jpeg, processed.width, processed.height)
        return _report(await _load(conn, report_id)), True


# ---- review ---------------------------------------------------------------------------------

async def _reviewable(conn: asyncpg.Connection, actor: Actor, report_id: int) -> asyncpg.Record:
    row = await _load(conn, report_id, lock=True)
    if not _can_review(actor, row["community_id"]):
        raise not_found("report")
    ledger.refuse_self_payment(actor.id, row["courier_id"])  # nobody reviews (and pays) their own report
    if row["state"] != "pending":
        raise DomainError("invalid_state", details={"state": row["state"]})
    return row


async def _earned_on_day(conn: asyncpg.Connection, courier_id: int, community_id: int, at: datetime,
                         rule_item_id: int | None = None) -> int:
    """Points of the courier's reports filed on `at`'s local day and verified (only those paid under
    `rule_item_id`, when given)."""
    start, end = rules.day_bounds(rules.local_day(at))
    return await conn.fetchval(
        """Select coalesce(sum(points), 0) from reports where courier_id = $1 and community_id = $2
           and state = 'verified' and created_at >= $3 and created_at < $4
           and ($5::bigint is null or rule_item_id = $5)""", courier_id, community_id, start, end, rule_item_id)


async def _rule_items(conn: asyncpg.Connection, community_id: int) -> "dict[str, RuleItem]":
    """The rulebook items in force in the community that pay for reports (and cases), by purpose."""
    from domain.recognition import rulebook  # recognition reads reports' figures; imported late
    return await rulebook.items_for(conn, community_id)


def _kind_points(current: rules.Rules, items: "dict[str, RuleItem]") -> dict[str, int]:
    """Points per kind now: the rulebook's item where it has one, else the settings'."""
    return {kind: item.points if (item := items.get(recognition_rules.report_purpose(kind))) else points
            for kind, points in current.points.items()}


async def _award(conn: asyncpg.Connection, row: asyncpg.Record, current: rules.Rules,
                 items: "dict[str, RuleItem]") -> "tuple[rules.Award, RuleItem | None]":
    """What verifying the report pays now, and the rulebook item it is paid under (None: settings)."""
    earned = await _earned_on_day(conn, row["courier_id"], row["community_id"], row["created_at"])
    item = items.get(recognition_rules.report_purpose(row["kind"]))
    if item is None:
        return rules.award(current.points[row["kind"]], earned, current.daily_cap), None
    under_item = 0 if item.daily_cap is None else await _earned_on_day(
        conn, row["courier_id"], row["community_id"], row["created_at"], item.id)
    return rules.award(item.points, earned, current.daily_cap, item.daily_cap, under_item), item


async def verify(conn: asyncpg.Connection, actor: Actor, report_id: int) -> Report:
    """Verify a pending report and award its points (capped per day) from the community's issuing account."""
    async with conn.transaction():
        row = await _reviewable(conn, actor, report_id)
        account = await ledger.user_account(conn, row["courier_id"], "points", row["community_id"])
        # Serialise verifications of one courier's reports, so two managers at once cannot both
        # pass the daily cap; the ledger locks this same row again below, which is harmless.
        await conn.execute("select 1 from accounts where id = $1 for update", account)
        current = await load_rules(conn, row["community_id"])
        award, item = await _award(conn, row, current, await _rule_items(conn, row["community_id"]))
        transfer_id = None
        if award.points:
            transfer = await ledger.post(
                conn, unit="points", debit=await ledger.org_account(conn, row["community_id"], "issuing", "points"),
                credit=account, amount=award.points, kind="award", cause=("report", report_id),
                memo=rules.memo(row["kind"]), actor_id=actor.id, key=f"report:{report_id}:award")
            transfer_id = transfer.id
        await conn.execute(
            """Update reports set state = 'verified', points = $2, points_withheld = $3, transfer_id = $4,
                      reviewed_by = $5, reviewed_at = $6, rule_item_id = $7 where id = $1""",
            report_id, award.points, award.withheld, transfer_id, actor.id, clock.now(), item.id if item else None)
        await audit.record(conn, actor, "report_verify", community_id=row["community_id"], target=("report", report_id),
                           after={"courier_id": row["courier_id"], "points": award.points,
                                  "withheld": award.withheld, "transfer_id": transfer_id,
                                  **({"rule_item_id": item.id} if item else {})})
        metrics.report(conn, "verified")
        if row["kind"] in rules.OPENS_CASE:  # a hazard is to be fixed: it enters the grid loop as a case
            await cases.open_from_report(conn, row)
        await notify.send(conn, row["courier_id"], "report_verified", community_id=row["community_id"],
                          params={"points": award.points}, link=f"/courier.html#report-{report_id}")
        return _report(await _load(conn, report_id))


async def reject(conn: asyncpg.Connection, actor: Actor, report_id: int, reason: str) -> Report:
    """Reject a pending report with a reason the courier sees; nothing moves."""
    reason = clean_reason(reason)
    async with conn.transaction():
        row = await _reviewable(conn, actor, report_id)
        await conn.execute(
            "update reports set state = 'rejected', reject_reason = $2, reviewed_by = $3, reviewed_at = $4 "
            "where id = $1", report_id, reason, actor.id, clock.now())
        await audit.record(conn, actor, "report_reject", community_id=row["community_id"], target=("report", report_id),
                           after={"courier_id": row["courier_id"]}, reason=reason)
        metrics.report(conn, "rejected")
        await notify.send(conn, row["courier_id"], "report_rejected", community_id=row["community_id"],
                          params={"reason": reason}, link=f"/courier.html#report-{report_id}")
        return _report(await _load(conn, report_id))


# ---- lists ----------------------------------------------------------------------------------

async def _scope(conn: asyncpg.Connection, actor: Actor, grid_id: int | None,
                 community_id: int | None) -> tuple[str, list]:
    """SQL condition and arguments limiting a manager's list to what they may review."""
    if grid_id is not None:
        org = await orgs.get_org(conn, grid_id)
        if org.kind != "grid":
            raise invalid("grid_id", "not a grid")
        orgs.require_manager(actor, org.community_id)
        return "r.grid_id = {}", [grid_id]
    if community_id is not None:
        orgs.require_manager(actor, community_id)
        return "r.community_id = {}", [community_id]
    if actor.is_admin:
        return "true", []
    if not actor.manages:
        raise forbidden("only managers see other people's reports; use mine=true")
    return "r.community_id = any({}::bigint[])", [sorted(actor.manages)]


async def list_reports(conn: asyncpg.Connection, actor: Actor, *, state: str | None = None,
                       grid_id: int | None = None, community_id: int | None = None,
                       courier_id: int | None = None, mine: bool = False, limit: int = 20,
                       before: int = 0) -> ReportPage:
    """Newest first. mine=true: my own reports. Otherwise the review queue of my communities,
    with farming flags and each courier's recent history."""
    if state is not None and state not in ("pending", "verified", "rejected"):
        raise invalid("state", "pending, verified or rejected")
    conditions: list[str] = []
    args: list[object] = []

    def where(sql: str, *values) -> None:
        placeholders = [f"${len(args) + i + 1}" for i in range(len(values))]
        args.extend(values)
        conditions.append(sql.format(*placeholders))

    if mine:
        where("r.courier_id = {}", actor.id)
    else:
        sql, values = await _scope(conn, actor, grid_id, community_id)
        where(sql, *values)
        if courier_id is not None:
            where("r.courier_id = {}", courier_id)
    if state:
        where("r.state = {}", state)
    if before:
        where("r.id < {}", before)
    args.append(limit + 1)
    rows = await conn.fetch(f"{_SELECT} where {' and '.join(conditions)} order by r.id desc limit ${len(args)}",
                            *args)
    page = rows[:limit]
    items = [_report(r) for r in page] if mine else await _with_review_aids(conn, page)
    return ReportPage(items=items, next_cursor=str(page[-1]["id"]) if len(rows) > limit else None)


async def _with_review_aids(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Report]:
    """Reports as a reviewer sees them: likely-farming flags and the courier's last 30 days."""
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    window = rules.DUPLICATE_WINDOW
    neighbours = await conn.fetch(
        """Select r.id as report_id, o.id, o.kind, o.created_at, o.lat, o.lng, o.place
           from reports r join reports o on o.courier_id = r.courier_id and o.kind = r.kind and o.id <> r.id
                and o.created_at between r.created_at - $2::interval and r.created_at
           where r.id = any($1::bigint[])""", ids, window)
    earlier: dict[int, list[rules.Sighting]] = {}
    for n in neighbours:
        earlier.setdefault(n["report_id"], []).append(
            rules.Sighting(n["id"], n["kind"], n["created_at"], n["lat"], n["lng"], n["place"]))
    since = clock.now() - timedelta(days=HISTORY_DAYS)
    history_rows = await conn.fetch(
        """Select courier_id, count(*) filter (where state = 'verified') as verified,
                  count(*) filter (where state = 'rejected') as rejected,
                  count(*) filter (where state = 'pending') as pending,
                  coalesce(sum(points), 0) as points
           from reports where courier_id = any($1::bigint[]) and created_at >= $2 group by courier_id""",
        list({r["courier_id"] for r in rows}), since)
    history = {h["courier_id"]: CourierHistory(h["verified"], h["rejected"], h["pending"], h["points"])
               for h in history_rows}
    community_rules: dict[int, tuple[rules.Rules, dict[str, RuleItem]]] = {}
    out = []
    for row in rows:
        flags = []
        sighting = rules.Sighting(row["id"], row["kind"], row["created_at"], row["lat"], row["lng"], row["place"])
        duplicates = rules.duplicates_of(sighting, earlier.get(row["id"], []))
        if duplicates:
            flags.append(Flag(code="duplicate", report_ids=duplicates))
        if row["state"] == "pending":
            if row["community_id"] not in community_rules:
                community_rules[row["community_id"]] = (await load_rules(conn, row["community_id"]),
                                                        await _rule_items(conn, row["community_id"]))
            award, _ = await _award(conn, row, *community_rules[row["community_id"]])
            if award.withheld:
                flags.append(Flag(code="over_cap", points_left=award.points))
        out.append(_report(row, flags, history.get(row["courier_id"], CourierHistory(0, 0, 0, 0))))
    return out


# ---- the courier's own page -----------------------------------------------------------------

async def courier_summary(conn: asyncpg.Connection, actor: Actor) -> CourierSummary:
    """Points balance, this quarter's rank in my grid, today's points against the cap, last reports."""
    balance = (await ledger.balances(conn, actor.id))["points"]
    recent = await list_reports(conn, actor, mine=True, limit=10)
    try:
        grid_row = await _courier_grid(conn, actor.id, None)
    except DomainError:
        return CourierSummary(grid=None, community_id=None, points=balance, rank=None, today=None,
                              kinds=dict(rules.DEFAULT_POINTS), recent=recent.items)
    grid = await orgs.get_org(conn, grid_row["id"])
    now = clock.now()
    label, start, end = rules.quarter_of(now)
    standings = await conn.fetch(
        """Select m.user_id, coalesce(sum(r.points), 0) as points
           from org_members m left join reports r on r.courier_id = m.user_id and r.state = 'verified'
                and r.reviewed_at >= $2 and r.reviewed_at < $3
           where m.org_id = $1 and m.role = 'courier' group by m.user_id""", grid.id, start, end)
    points = {s["user_id"]: s["points"] for s in standings}
    mine = points.get(actor.id, 0)
    assert grid.community_id is not None  # a grid belongs to its community
    current = await load_rules(conn, grid.community_id)
    today = await _earned_on_day(conn, actor.id, grid.community_id, now)
    return CourierSummary(
        grid=OrgRef(grid.id, grid.name), community_id=grid.community_id, points=balance,
        rank=Rank(quarter=label, position=rules.rank(mine, [v for k, v in points.items() if k != actor.id]),
                  of=len(points), points=mine),
        today=Today(points=today, daily_cap=current.daily_cap),
        kinds=_kind_points(current, await _rule_items(conn, grid.community_id)), recent=recent.items)


from domain.core.packages import keep_package_home  # noqa: E402

keep_package_home(globals())  # its types keep the package as their home (the OpenAPI names them by it)

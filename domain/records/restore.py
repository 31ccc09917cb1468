"""Restore a record export (.xlsx of export.py) into an empty instance: a community moving between
systems. One admin asks (the file is read and kept as a pending restore, audited), a
second admin approves (applied in one transaction, audited). People come as invited residents do:
an account without a password for their phone (its owner claims it by registering, as usual), or
without a phone when the file has none in full; their service before Linli is kept as service
history (hours, no points: value is created only through the ledger's own acts).

On an instance that already holds communities nothing is written: the answer lists, per group,
the rows only in the file and only here, for the communities of the same names.
"""

import asyncio
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid, not_found
from domain.people import orgs
from domain.records import export

MAX_BYTES = 5 * 1024 * 1024
MAX_INFLATED = 64 * 1024 * 1024
MAX_ROWS = 50_000            # per sheet
EXAMPLES = 20
MASKED_ID = re.compile(r"^\d{3}\*{11}[\dX]{4}$")
PHONE = re.compile(r"^1[3-9]\d{9}$")


class Restore(msgspec.Struct, frozen=True):
    mode: str                          # "pending": waits for a second admin | "differences": nothing written
    summary: dict[str, int]            # rows per group in the file
    id: int | None = None
    state: str | None = None
    differences: dict[str, Any] | None = None


def _read(data: bytes) -> dict[str, list[dict]]:
    """The five sheets as rows of the export's fields; refuses what is not such a file."""
    import openpyxl
    if len(data) > MAX_BYTES:
        raise DomainError("too_large", field="file", details={"max_bytes": MAX_BYTES})
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_INFLATED:
                raise DomainError("too_large", field="file", details={"problem": "the .xlsx inflates too much"})
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except DomainError:
        raise
    except Exception:  # openpyxl raises many kinds for a file that is no workbook: all mean the same here
        raise DomainError("unsupported_media", field="file", details={"problem": "a record export (.xlsx)"}) from None
    try:
        return _sheets(book)
    except DomainError:
        raise
    except Exception:
        raise DomainError("unsupported_media", field="file", details={"problem": "a record export (.xlsx)"}) from None
    finally:
        book.close()


def _sheets(book: Any) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for group, (title, columns) in export.GROUPS.items():
        if title not in book.sheetnames:
            raise invalid("file", f"the sheet {title} is missing")
        rows = book[title].iter_rows(values_only=True, max_col=len(columns))
        header = [str(h or "") for h in next(rows, ())]
        if header != [h for _, h in columns]:
            raise invalid("file", f"the columns of {title} are not the export's")
        found = []
        for n, raw in enumerate(rows, start=2):
            if n > MAX_ROWS:
                raise DomainError("too_large", field="file", details={"max_rows": MAX_ROWS})
            if raw is None or all(v in (None, "") for v in raw):
                continue
            row = {f: _cell(f, v) for (f, _), v in zip(columns, list(raw) + [None] * len(columns))}
            if not row["volunteer_key"]:
                raise invalid("file", f"{title} row {n}: no volunteer number")
            found.append(row)
        groups[group] = found
    return groups


def _cell(field: str, value: Any) -> str | int:
    if field in export.INT_FIELDS:
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            raise invalid("file", f"{field}: a number") from None
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()[:500]
    if text and (field.endswith("_on") or field == "birth_date"):
        try:
            date.fromisoformat(text)
        except ValueError:
            raise invalid("file", f"{field}: a date (YYYY-MM-DD)") from None
    return text


def _counts(groups: dict[str, list[dict]]) -> dict[str, int]:
    return {group: len(rows) for group, rows in groups.items()}


def _tuples(rows: list[dict]) -> Counter:
    return Counter(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


async def differences(conn: asyncpg.Connection, groups: dict[str, list[dict]]) -> dict[str, Any]:
    """Per group: how many rows are only in the file and only here (communities matched by name)."""
    names = sorted({r.get("community", "") for rows in groups.values() for r in rows})
    here = [r["id"] for r in await conn.fetch("select id from orgs where kind = 'community' and name = any($1)", names)]
    current = await export.gather(conn, here, full_phones=True)
    out: dict[str, Any] = {"communities_not_here": sorted(set(names) - set(
        await conn.fetchval("select coalesce(array_agg(name), '{}') from orgs where id = any($1)", here)))}
    for group in export.GROUPS:
        theirs, ours = _tuples(groups.get(group, [])), _tuples(current[group])
        only_file, only_here = theirs - ours, ours - theirs
        out[group] = {"only_in_file": sum(only_file.values()), "only_here": sum(only_here.values()),
                      "keys_only_in_file": sorted({json.loads(k)["volunteer_key"] for k in only_file})[:EXAMPLES]}
    return out


async def _empty(conn: asyncpg.Connection) -> bool:
    return not await conn.fetchval("select exists (select 1 from orgs where kind = 'community')")


async def request(conn: asyncpg.Connection, actor: Actor, data: bytes) -> Restore:
    orgs.require_admin(actor)
    groups = await asyncio.to_thread(_read, data)
    if not groups["people"]:
        raise invalid("file", "no people in the file")
    summary = _counts(groups)
    if not await _empty(conn):
        return Restore("differences", summary, differences=await differences(conn, groups))
    async with conn.transaction():
        restore_id = await conn.fetchval(
            """Insert into record_restores (state, file_sha256, payload, summary, requested_by, created_at)
               values ('pending', $1, $2::text::jsonb, $3::text::jsonb, $4, $5) returning id""",
            hashlib.sha256(data).hexdigest(), json.dumps(groups, ensure_ascii=False), json.dumps(summary),
            actor.id, clock.now())
        await audit.record(conn, actor, "records_restore_request", community_id=None, target=("restore", restore_id),
                           after=summary)
    return Restore("pending", summary, id=restore_id, state="pending")


async def approve(conn: asyncpg.Connection, actor: Actor, restore_id: int) -> Restore:
    """The second admin applies a pending restore, in one transaction, while the instance is still empty;
    if communities appeared meanwhile, nothing is written, the restore is closed as refused, and the
    answer holds the differences."""
    orgs.require_admin(actor)
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(7305036)")  # one restore at a time
        row = await conn.fetchrow("select * from record_restores where id = $1 for update", restore_id)
        if row is None:
            raise not_found("restore")
        if row["requested_by"] == actor.id:
            raise forbidden("a second admin approves a restore")
        if row["state"] != "pending":
            raise DomainError("invalid_state", details={"state": row["state"]})
        groups = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        summary = row["summary"] if isinstance(row["summary"], dict) else json.loads(row["summary"])
        if not await _empty(conn):  # data came meanwhile: nothing is written, the restore is closed
            await conn.execute("update record_restores set state = 'refused', decided_by = $2, decided_at = $3 "
                               "where id = $1", restore_id, actor.id, clock.now())
            await audit.record(conn, actor, "records_restore_apply", community_id=None,
                               target=("restore", restore_id), after={"state": "refused", "problem": "not empty"})
            return Restore("differences", summary, id=restore_id, state="refused",
                           differences=await differences(conn, groups))
        skipped = await _apply(conn, groups)
        await conn.execute("update record_restores set state = 'applied', decided_by = $2, decided_at = $3 "
                           "where id = $1", restore_id, actor.id, clock.now())
        await audit.record(conn, actor, "records_restore_apply", community_id=None, target=("restore", restore_id),
                           after={**summary, "skipped": skipped, "requested_by": row["requested_by"]})
    return Restore("applied", summary, id=restore_id, state="applied",
                   differences={"skipped": skipped} if skipped else None)


async def _org(conn: asyncpg.Connection, cache: dict, kind: str, name: str, parent: int | None) -> int:
    key = (kind, name, parent)
    if key not in cache:
        found = await conn.fetchval("select id from orgs where kind = $1 and name = $2 and parent_id is not distinct "
                                    "from $3", kind, name, parent)
        cache[key] = found or await conn.fetchval(
            "insert into orgs (kind, name, parent_id) values ($1, $2, $3) returning id", kind, name, parent)
    return cache[key]


async def _apply(conn: asyncpg.Connection, groups: dict[str, list[dict]]) -> int:
    """Write the file's rows; returns how many record rows named nobody in the people sheet."""
    cache: dict = {}
    communities: dict[str, int] = {}
    people: dict[str, int] = {}
    now = clock.now()
    for p in groups["people"]:
        district = await _org(conn, cache, "district", p["district"] or "未命名区", None)
        street = await _org(conn, cache, "street", p["street"] or "未命名街道", district)
        community = communities[p["community"]] = await _org(conn, cache, "community", p["community"], street)
        key = p["volunteer_key"]
        user_id = people.get(key)
        if user_id is None:
            phone = p["phone"] if PHONE.fullmatch(p["phone"] or "") else None
            user_id = await conn.fetchval("select id from users where phone = $1", phone) if phone else None
            if user_id is None:
                user_id = await conn.fetchval("insert into users (phone, name) values ($1, $2) returning id",
                                              phone, p["name"][:50] or "志愿者")
                await ledger.open_user_accounts(conn, user_id)
            national = not key.startswith(export.LINLI_KEY_PREFIX)
            masked = p["id_number"] if MASKED_ID.fullmatch(p["id_number"] or "") else None
            await conn.execute(
                """Insert into identities (user_id, id_number_masked, birth_date, volunteer_number, record_key, updated_at)
                   values ($1, $2, $3, $4, $5, $6)""",
                user_id, masked, date.fromisoformat(p["birth_date"]) if p["birth_date"] else None,
                key if national else None, None if national else key, now)
            people[key] = user_id
        joined = clock.local_midnight(date.fromisoformat(p["joined_on"])) \
            if p["joined_on"] else now
        await conn.execute("insert into org_members (org_id, user_id, role, created_at) values ($1, $2, 'volunteer', $3) "
                           "on conflict do nothing", community, user_id, joined)
    skipped = 0
    trainings: dict[tuple, int] = {}
    for group in ("service", "training", "commendations", "evaluations"):
        for r in groups[group]:
            person, place = people.get(r["volunteer_key"]), communities.get(r["community"])
            if person is None or place is None:
                skipped += 1
                continue
            user_id, community = person, place
            if group == "service":
                await conn.execute("insert into service_history (community_id, user_id, served_on, title, minutes, "
                                   "created_at) values ($1, $2, $3, $4, $5, $6)", community, user_id,
                                   date.fromisoformat(r["served_on"]), r["title"][:100], r["minutes"], now)
            elif group == "training":
                session = (community, r["held_on"], r["title"], r["topic"], r["minutes"])
                if session not in trainings:
                    trainings[session] = await conn.fetchval(
                        """Insert into trainings (community_id, title, topic, held_on, minutes, created_at)
                           values ($1, $2, $3, $4, $5, $6) returning id""",
                        community, r["title"][:100], r["topic"][:50], date.fromisoformat(r["held_on"]), r["minutes"], now)
                await conn.execute("insert into training_attendance (training_id, user_id, created_at) values ($1, $2, $3) "
                                   "on conflict do nothing", trainings[session], user_id, now)
            elif group == "commendations":
                await conn.execute("insert into commendations (community_id, user_id, title, awarded_on, note, created_at) "
                                   "values ($1, $2, $3, $4, $5, $6)", community, user_id, r["title"][:100],
                                   date.fromisoformat(r["awarded_on"]), r["note"][:500], now)
            else:
                await conn.execute(
                    """Insert into evaluations (community_id, user_id, activity_title, rating, comment, evaluated_on,
                                                created_at) values ($1, $2, $3, $4, $5, $6, $7)""",
                    community, user_id, r["activity_title"][:100], r["rating"], r["comment"][:500],
                    date.fromisoformat(r["evaluated_on"]), now)
    return skipped

"""Bulk import of a community's residents from a spreadsheet (.xlsx or .csv), by its manager.

Columns (header row, Chinese or English, any order): 姓名 name, 手机号 phone, 网格 grid,
户/地址 household, 标签 tags (e.g. 党员; several split by 、,;), 工作单位 work unit.

First a dry run (`check`): every row is classified, with its spreadsheet row number —
- new: nobody has this phone yet: an account is made (claimed later by the person with an SMS
  code, as any invited account), a volunteer of the community, with the row's profile;
- member: already a member and nothing differs;
- updated: already a member, and the grid, household, tags or work unit differ (and the name,
  while the person has not claimed the account: a claimed account's name is the person's own);
- error: missing/bad name or phone, unknown grid, duplicate phone in the file, a phone whose
  account belongs to someone outside this community (they join by their own request, never by
  a manager's file), a value too long.
Then `commit` with the same file (its SHA-256, as the dry run reported it): the valid rows in one
transaction (all or nothing), set-based (unnest arrays: one statement per table, whatever the
size); importing the same file again changes nothing. One audit row (member_import) with the
file's hash and the counts.
"""

import asyncio
import csv
import hashlib
import io
import re
from typing import Any

import asyncpg
import msgspec

from domain import ledger
from domain.core import audit, clock, sheets
from domain.core.actor import Actor
from domain.core.errors import DomainError, invalid
from domain.people import auth, orgs

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
SHOWN_ROWS = 200          # non-error rows listed in a report (all errors are)
TEMPLATE_HEADER = ["姓名 name", "手机号 phone", "网格 grid", "户/地址 household", "标签 tags", "工作单位 work unit"]
TEMPLATE_EXAMPLE = ["王秀兰", "13912345678", "第一网格", "3栋2单元501", "党员", "眉山市第一中学"]
# Column detection: the first field whose keyword appears in the header cell (lower case).
COLUMNS = (("name", ("姓名", "名字", "name")), ("phone", ("手机", "电话", "phone", "mobile")),
           ("grid", ("网格", "grid")), ("work_unit", ("工作单位", "单位", "work")),
           ("household", ("户", "地址", "住址", "household", "address")), ("tags", ("标签", "tag")))
_TAG_SPLIT = re.compile(r"[,，;；、/|\s]+")


class RowResult(msgspec.Struct, frozen=True):
    row: int                    # the spreadsheet's row number (the header is row 1)
    status: str                 # new | member | updated | error
    name: str
    phone: str
    reason: str | None = None   # for errors: missing_name, bad_name, missing_phone, bad_phone, unknown_grid,
                                # duplicate_in_file, account_elsewhere, account_inactive, too_long, bad_tags
    first_row: int | None = None  # duplicate_in_file: where the phone first appeared


class Counts(msgspec.Struct, frozen=True):
    rows: int
    new: int
    member: int
    updated: int
    error: int


class Report(msgspec.Struct, frozen=True):
    file_sha256: str
    committed: bool
    counts: Counts
    errors: list[RowResult]
    rows: list[RowResult]       # the first SHOWN_ROWS rows that are not errors
    columns: list[str]          # the fields found in the header


class _Row(msgspec.Struct):
    row: int
    name: str
    phone: str
    grid: str = ""
    household: str = ""
    tags: str = ""
    work_unit: str = ""
    # filled by the check
    grid_id: int | None = None
    tag_list: list[str] = []
    status: str = ""
    reason: str | None = None
    first_row: int | None = None
    user_id: int | None = None


# ---- reading the file --------------------------------------------------------------------------

_cell = sheets.cell


def _columns(header: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        text = _cell(raw).lower()
        for field, keywords in COLUMNS:
            if field not in found and any(k in text for k in keywords):
                found[field] = index
                break
    missing = [f for f in ("name", "phone") if f not in found]
    if missing:
        raise DomainError("import_columns", field="file", details={"missing": missing})
    return found


def read(data: bytes, filename: str = "") -> tuple[list[_Row], list[str]]:
    """CPU work (an .xlsx is parsed here): call it through `read_async` from the event loop."""
    table = sheets.read_table(data, filename, max_rows=MAX_ROWS, max_bytes=MAX_BYTES)
    if not table:
        raise invalid("file", "the file is empty")
    columns = _columns(table[0])
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        # Any, not str: mypy would match the strings against every field of _Row; they fill only its str columns.
        values: dict[str, Any] = {f: _cell(cells[i]) if i < len(cells) else "" for f, i in columns.items()}
        if not any(values.values()):
            continue  # blank lines are not residents
        rows.append(_Row(row=number, **values))
    return rows, list(columns)


async def read_async(data: bytes, filename: str = "") -> tuple[list[_Row], list[str]]:
    return await asyncio.to_thread(read, data, filename)


# ---- checking ------------------------------------------------------------------------------------

def _check_row(row: _Row, grids: dict[str, int], seen: dict[str, int]) -> None:
    """Rules on the row alone (and the rows before it)."""
    def fail(reason: str, first_row: int | None = None) -> None:
        row.status, row.reason, row.first_row = "error", reason, first_row
    if not row.name:
        return fail("missing_name")
    if len(row.name) > 50:
        return fail("bad_name")
    if not row.phone:
        return fail("missing_phone")
    try:
        row.phone = auth.normalise_phone(row.phone)
    except DomainError:
        return fail("bad_phone")
    if row.phone in seen:
        return fail("duplicate_in_file", seen[row.phone])
    seen[row.phone] = row.row
    if row.grid:
        row.grid_id = grids.get(row.grid)
        if row.grid_id is None:
            return fail("unknown_grid")
    if len(row.household) > 100 or len(row.work_unit) > 100:
        return fail("too_long")
    tags = sorted({t for t in _TAG_SPLIT.split(row.tags) if t})
    if len(tags) > 10 or any(len(t) > 20 for t in tags):
        return fail("bad_tags")
    row.tag_list = tags


async def _classify(conn: asyncpg.Connection, community_id: int, rows: list[_Row]) -> None:
    community_name = await conn.fetchval("select name from orgs where id = $1", community_id)
    grids = {r["name"]: r["id"] for r in await conn.fetch(
        "select id, name from orgs where kind = 'grid' and parent_id = $1", community_id)}
    # "三苏社区第一网格" in a file names the grid "第一网格" of 三苏社区
    grids.update({f"{community_name}{name}": gid for name, gid in list(grids.items())})
    seen: dict[str, int] = {}
    for row in rows:
        _check_row(row, grids, seen)
    valid = [r for r in rows if r.status != "error"]
    known = {r["phone"]: r for r in await conn.fetch(
        """Select u.id, u.phone, u.name, u.password_hash is null as unclaimed, u.active and u.closed_at is null as live,
                  exists (select 1 from org_members m join orgs o on o.id = m.org_id where m.user_id = u.id
                          and (o.id = $2 or (o.kind = 'grid' and o.parent_id = $2))) as member,
                  p.grid_id, p.household, p.tags, p.work_unit
           from users u left join resident_profiles p on p.community_id = $2 and p.user_id = u.id
           where u.phone = any($1::text[])""", [r.phone for r in valid], community_id)}
    for row in valid:
        found = known.get(row.phone)
        if found is None:
            row.status = "new"
            continue
        row.user_id = found["id"]
        if not found["member"]:
            row.status, row.reason = "error", "account_elsewhere"
        elif not found["live"]:
            row.status, row.reason = "error", "account_inactive"
        elif (found["grid_id"], found["household"] or "", list(found["tags"] or []), found["work_unit"] or "") != \
                (row.grid_id, row.household, row.tag_list, row.work_unit) \
                or (found["unclaimed"] and found["name"] != row.name):
            row.status = "updated"
        else:
            row.status = "member"


def _report(digest: str, rows: list[_Row], columns: list[str], committed: bool) -> Report:
    def result(r: _Row) -> RowResult:
        return RowResult(row=r.row, status=r.status, name=r.name, phone=r.phone, reason=r.reason, first_row=r.first_row)
    by = {s: sum(1 for r in rows if r.status == s) for s in ("new", "member", "updated", "error")}
    return Report(file_sha256=digest, committed=committed, counts=Counts(rows=len(rows), **by),
                  errors=[result(r) for r in rows if r.status == "error"],
                  rows=[result(r) for r in rows if r.status != "error"][:SHOWN_ROWS], columns=columns)


async def check(conn: asyncpg.Connection, actor: Actor, community_id: int, data: bytes,
                filename: str = "") -> Report:
    """The dry run: what a commit of this file would do, row by row. Changes nothing."""
    orgs.require_manager(actor, community_id)
    rows, columns = await read_async(data, filename)
    await _classify(conn, community_id, rows)
    return _report(hashlib.sha256(data).hexdigest(), rows, columns, committed=False)


async def commit(conn: asyncpg.Connection, actor: Actor, community_id: int, data: bytes, file_sha256: str,
                 filename: str = "", *, ip: str | None = None) -> Report:
    """Import the valid rows of the file the dry run checked (all or nothing)."""
    orgs.require_manager(actor, community_id)
    digest = hashlib.sha256(data).hexdigest()
    if file_sha256.lower() != digest:
        raise invalid("file_sha256", "not the file of the dry run: check it again")
    rows, columns = await read_async(data, filename)
    now = clock.now()
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(4019, $1::int)", community_id)  # one import at a time
        await _classify(conn, community_id, rows)
        new = [r for r in rows if r.status == "new"]
        if new:
            made = await conn.fetch(
                "insert into users (phone, name) select * from unnest($1::text[], $2::text[]) returning id, phone",
                [r.phone for r in new], [r.name for r in new])
            ids = {m["phone"]: m["id"] for m in made}
            for r in new:
                r.user_id = ids[r.phone]
            await ledger.open_many_user_accounts(conn, list(ids.values()), community_id)
            await conn.execute("insert into org_members (org_id, user_id, role) select $1, u, 'volunteer' "
                               "from unnest($2::bigint[]) u on conflict do nothing", community_id, list(ids.values()))
        changed = new + [r for r in rows if r.status == "updated"]
        if changed:
            await conn.execute(
                """Insert into resident_profiles (community_id, user_id, grid_id, household, tags, work_unit,
                                                  updated_at)
                   select $1, u, g, nullif(h, ''), coalesce(string_to_array(nullif(t, ''), ','), '{}'),
                          nullif(w, ''), $7
                   from unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) as x(u, g, h, t, w)
                   on conflict (community_id, user_id) do update set grid_id = excluded.grid_id,
                       household = excluded.household, tags = excluded.tags,
                       work_unit = excluded.work_unit, updated_at = excluded.updated_at""",
                community_id, [r.user_id for r in changed], [r.grid_id for r in changed],
                [r.household for r in changed], [",".join(r.tag_list) for r in changed],
                [r.work_unit for r in changed], now)
            # a name from the file replaces only the name of an account nobody has claimed yet
            await conn.execute(
                """Update users u set name = x.n from unnest($1::bigint[], $2::text[]) as x(id, n)
                   where u.id = x.id and u.password_hash is null and u.name <> x.n""",
                [r.user_id for r in changed], [r.name for r in changed])
        report = _report(digest, rows, columns, committed=True)
        await audit.record(conn, actor, "member_import", community_id=community_id, target=("org", community_id),
                           after={"file_sha256": digest, "filename": filename[:100],
                                  **msgspec.to_builtins(report.counts)}, ip=ip)
    return report


def template_csv() -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM as Chinese, not mojibake
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(TEMPLATE_EXAMPLE)
    return out.getvalue().encode()


def template_xlsx() -> bytes:
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "居民 residents"
    sheet.append(TEMPLATE_HEADER)
    sheet.append(TEMPLATE_EXAMPLE)
    for column, width in zip("ABCDEF", (12, 16, 12, 20, 12, 20)):
        sheet.column_dimensions[column].width = width
    sheet["B2"].number_format = "@"  # phones as text: Excel would show 1.39E+10
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

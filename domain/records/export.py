"""The export of the five §19 groups (志愿服务条例 2017 §19; 民政部《志愿服务信息系统基本规范》2015)
per community, street or district and period, as CSV (one group a file) or XLSX (one sheet a
group), keyed by the volunteer number. The column set and its source: docs/records-export.md.

The ID number is masked (`id=masked`, the default) or left out (`id=omit`); its full form never
leaves the person's own view. Phones are written in full only for a viewer who may see them (a
manager of every community in the export, or an admin moving a community); others get them masked.
"""

import csv
import io
from datetime import date
from typing import Any

import asyncpg

from domain.core import clock, queries
from domain.core.actor import Actor
from domain.core.errors import forbidden, invalid, not_found
from domain.people import auth

# group -> (sheet title, [(field, column header)]); the order is the file's.
GROUPS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "people": ("基本信息", [("volunteer_key", "志愿者编号"), ("name", "姓名"), ("phone", "手机号"),
                        ("id_number", "身份证号"), ("birth_date", "出生日期"), ("district", "所属区"),
                        ("street", "所属街道"), ("community", "所属社区"), ("joined_on", "加入日期")]),
    "service": ("服务记录", [("volunteer_key", "志愿者编号"), ("community", "服务社区"), ("served_on", "服务日期"),
                         ("title", "服务内容"), ("minutes", "服务时长（分钟）")]),
    "training": ("培训记录", [("volunteer_key", "志愿者编号"), ("community", "培训社区"), ("held_on", "培训日期"),
                          ("title", "培训名称"), ("topic", "培训主题"), ("minutes", "培训时长（分钟）")]),
    "commendations": ("表彰奖励", [("volunteer_key", "志愿者编号"), ("community", "表彰社区"),
                               ("awarded_on", "表彰日期"), ("title", "表彰名称"), ("note", "说明")]),
    "evaluations": ("服务评价", [("volunteer_key", "志愿者编号"), ("community", "评价社区"),
                             ("evaluated_on", "评价日期"), ("activity_title", "服务活动"), ("rating", "评分（1-5）"),
                             ("comment", "评语")]),
}
INT_FIELDS = frozenset({"minutes", "rating"})
LINLI_KEY_PREFIX = "LL"   # a key Linli made (no national number, queries.sql): kept as record_key by a restore
Q = queries.load("records")


async def communities_of(conn: asyncpg.Connection, org_id: int) -> list[int]:
    """The communities an org is or holds (a community, a street's, a district's)."""
    rows = await conn.fetch(
        """Select c.id from orgs c left join orgs s on s.id = c.parent_id
           where c.kind = 'community' and (c.id = $1 or c.parent_id = $1 or s.parent_id = $1) order by c.id""",
        org_id)
    if not rows and not await conn.fetchval("select 1 from orgs where id = $1", org_id):
        raise not_found("org")
    return [r["id"] for r in rows]


async def scope(conn: asyncpg.Connection, viewer: Actor, org_id: int) -> tuple[list[int], bool]:
    """The communities of the export and whether the viewer sees full phones; 403 unless the viewer
    reads every one of them (its manager, a street or district manager above it, an admin)."""
    communities = await communities_of(conn, org_id)
    if not all(viewer.reads(c) for c in communities) or not (communities or viewer.is_admin):
        raise forbidden("not a manager of this community, street or district")
    return communities, all(viewer.can_manage(c) for c in communities)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    first, last = start or date(2000, 1, 1), end or date(9999, 12, 31)
    if last < first:
        raise invalid("to", "on or after from")
    return first, last


async def gather(conn: asyncpg.Connection, communities: list[int], *, start: date | None = None,
                 end: date | None = None, id_mode: str = "masked", full_phones: bool = False) -> dict[str, list[dict]]:
    """The five groups as rows of plain values (str or int), sorted, for the communities and period."""
    if id_mode not in ("masked", "omit"):
        raise invalid("id", "masked or omit")
    first, last = period(start, end)
    tz = clock.zone().key
    people = await conn.fetch(Q.export_people, communities, tz)
    service = await conn.fetch(Q.export_service, communities, first, last, tz)
    training = await conn.fetch(Q.export_training, communities, first, last)
    commendations = await conn.fetch(Q.export_commendations, communities, first, last)
    evaluations = await conn.fetch(Q.export_evaluations, communities, first, last)
    out: dict[str, list[dict]] = {}
    for group, rows in (("people", people), ("service", service), ("training", training),
                        ("commendations", commendations), ("evaluations", evaluations)):
        fields = [f for f, _ in GROUPS[group][1]]
        plain = []
        for r in rows:
            row = {f: _plain(f, r[f]) for f in fields}
            if group == "people":
                row["phone"] = row["phone"] if full_phones else (auth.mask_phone(str(row["phone"]) or None) or "")
                if id_mode == "omit":
                    row["id_number"] = ""
            plain.append(row)
        out[group] = sorted(plain, key=lambda row: [str(row[f]) for f in fields])
    return out


def _plain(field: str, value: Any) -> str | int:
    if field in INT_FIELDS:
        return int(value or 0)
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def _csv_safe(value: str | int) -> str | int:
    # A cell starting with = + - @ would run as a formula in Excel.
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def to_csv(groups: dict[str, list[dict]], group: str) -> bytes:
    if group not in GROUPS:
        raise invalid("group", " / ".join(GROUPS))
    out = io.StringIO()
    writer = csv.writer(out)
    columns = GROUPS[group][1]
    writer.writerow([header for _, header in columns])
    for row in groups[group]:
        writer.writerow([_csv_safe(row[f]) for f, _ in columns])
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel in China opens UTF-8 then


def to_xlsx(groups: dict[str, list[dict]]) -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # control characters no worksheet may hold
    book = openpyxl.Workbook(write_only=True)
    for group, (title, columns) in GROUPS.items():
        sheet = book.create_sheet(title)
        sheet.append([header for _, header in columns])
        for row in groups[group]:
            cells = []
            for f, _ in columns:
                value = ILLEGAL_CHARACTERS_RE.sub("", row[f]) if isinstance(row[f], str) else row[f]
                cell = openpyxl.cell.WriteOnlyCell(sheet, value=value)
                if isinstance(row[f], str):
                    cell.data_type = "s"  # text stays text: "=1+1" is no formula, "0012" no number
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def export(conn: asyncpg.Connection, viewer: Actor, org_id: int, *, fmt: str, group: str | None,
                 start: date | None, end: date | None, id_mode: str) -> tuple[bytes, str]:
    """The file and its media type."""
    if fmt not in ("csv", "xlsx"):
        raise invalid("format", "csv or xlsx")
    communities, full_phones = await scope(conn, viewer, org_id)
    groups = await gather(conn, communities, start=start, end=end, id_mode=id_mode, full_phones=full_phones)
    if fmt == "csv":
        return to_csv(groups, group or "people"), "text/csv; charset=utf-8"
    if group is not None:
        raise invalid("group", "only with format=csv (the .xlsx has every group)")
    return to_xlsx(groups), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

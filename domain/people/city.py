"""A city loads itself from the lists it has: four kinds of spreadsheet (.xlsx or .csv),
each a dry run (`check`) then a `commit` of the same file, as the resident import (imports.py).

- `tree` (platform admins): the org tree, one row per level: 层级 level (区/街道/社区/网格), 编码
  code, 名称 name, 上级编码 parent code, 地址 address (communities, optional). Codes find rows again:
  a re-import renames or readdresses, never moves (moving is the console's act, with its checks).
- `managers`: 编码 the org's code (a district, street or community), 姓名, 手机号.
- `units`: 单位编码, 单位名称, 类型, 上级编码 (a street or district), 党组织, 管理员姓名, 管理员手机.
- `party_members`: 姓名, 手机号, 单位编码, 社区编码 (home), 网格编码 (optional).

An admin loads any of them; a street or district manager loads the last three for their part of the
tree (the orgs they manage and everything below; a manager list names only levels below theirs).
Nobody is given a role by a list: each person named gets an invitation by phone (role_invites,
domain/people/invites.py) and the role is theirs only when they accept.

Rows are classified (new, same, updated, error with a reason and the spreadsheet's row number); the
commit must name the dry run's file hash, runs under one advisory lock, writes the valid rows with
one statement per table (unnest arrays) and one audit row (city_import) with the counts. Importing
the same file again changes nothing: every row is `same`.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from domain.core import audit, clock, sheets
from domain.core.actor import Actor
from domain.core.errors import DomainError, forbidden, invalid
from domain.people import auth, orgs

KINDS = ("tree", "managers", "units", "party_members")
MAX_ROWS = 100_000            # Meishan's 39,000 party members in one file, with room
MAX_BYTES = 8 * 1024 * 1024   # Meishan's 39,000 party members are 1.4 MB as .xlsx
SHOWN_ROWS = 200
LEVELS = {"区": "district", "县": "district", "市辖区": "district", "district": "district",
          "街道": "street", "镇": "street", "乡": "street", "street": "street",
          "社区": "community", "村": "community", "community": "community",
          "网格": "grid", "grid": "grid"}
UNIT_KINDS = {"机关": "government", "政府": "government", "government": "government", "企业": "enterprise",
              "enterprise": "enterprise", "学校": "school", "school": "school", "事业单位": "institution",
              "institution": "institution", "社会组织": "social", "social": "social", "其他": "other", "other": "other"}
CODE_OK = __import__("re").compile(r"^[A-Za-z0-9_.-]{1,40}$")

# Columns per kind: (field, keywords found in the header cell, lower case), required fields.
_COLUMNS: dict[str, tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]] = {
    "tree": ((("parent_code", ("上级编码", "上级代码", "parent")), ("level", ("层级", "级别", "level")),
              ("code", ("编码", "代码", "code")), ("address", ("地址", "address")),
              ("name", ("名称", "名字", "name"))), ("level", "code", "name")),
    "managers": ((("code", ("编码", "代码", "code")), ("name", ("姓名", "name")),
                  ("phone", ("手机", "电话", "phone"))), ("code", "name", "phone")),
    "units": ((("parent_code", ("上级编码", "上级代码", "parent")), ("admin_phone", ("管理员手机", "admin phone")),
               ("admin_name", ("管理员姓名", "管理员", "admin")), ("party_org", ("党组织", "party")),
               ("code", ("单位编码", "编码", "code")), ("unit_kind", ("类型", "kind", "type")),
               ("name", ("单位名称", "名称", "name"))), ("code", "name", "parent_code")),
    # "community" contains "unit": the community's column is looked for first
    "party_members": ((("community_code", ("社区编码", "社区", "community")), ("grid_code", ("网格编码", "网格", "grid")),
                       ("unit_code", ("单位编码", "单位", "unit")), ("name", ("姓名", "name")),
                       ("phone", ("手机", "电话", "phone"))), ("name", "phone", "unit_code", "community_code")),
}
TEMPLATES: dict[str, tuple[str, list[str], list[list[str]], str]] = {
    "tree": ("组织架构 tree", ["层级 level", "编码 code", "名称 name", "上级编码 parent code", "地址 address"],
             [["区", "MS-DP", "东坡区", "", ""], ["街道", "MS-DP-SS", "苏祠街道", "MS-DP", ""],
              ["社区", "MS-DP-SS-01", "三苏社区", "MS-DP-SS", "纱縠行南段12号"],
              ["网格", "MS-DP-SS-01-G1", "第一网格", "MS-DP-SS-01", ""]], ""),
    "managers": ("管理员 managers", ["编码 code", "姓名 name", "手机号 phone"],
                 [["MS-DP-SS-01", "李桂芳", "13912345678"]], "C"),
    "units": ("单位 units", ["单位编码 code", "单位名称 name", "类型 kind", "上级编码 parent code", "党组织 party",
                             "管理员姓名 admin name", "管理员手机 admin phone"],
              [["U-0001", "眉山市税务局东坡分局", "机关", "MS-DP", "东坡分局机关党委", "赵建国", "13812345678"]], "G"),
    "party_members": ("在职党员 party members", ["姓名 name", "手机号 phone", "单位编码 unit", "社区编码 community",
                                                  "网格编码 grid"],
                      [["王秀兰", "13712345678", "U-0001", "MS-DP-SS-01", "MS-DP-SS-01-G1"]], "B"),
}


class RowResult(msgspec.Struct, frozen=True):
    row: int                    # the spreadsheet's row number (the header is row 1)
    status: str                 # new | same | updated | error
    key: str                    # the row's code, or phone
    name: str
    reason: str | None = None   # missing_<field>, bad_code, bad_level, bad_name, bad_phone, bad_kind,
                                # duplicate_in_file, unknown_parent, wrong_parent, moved, kind_differs,
                                # unknown_org, not_a_manager_level, unknown_unit, unknown_community,
                                # unknown_grid, outside_your_area, too_long
    first_row: int | None = None


class Counts(msgspec.Struct, frozen=True):
    rows: int
    new: int
    same: int
    updated: int
    error: int


class Report(msgspec.Struct, frozen=True):
    kind: str
    file_sha256: str
    committed: bool
    counts: Counts
    errors: list[RowResult]
    rows: list[RowResult]
    invites: int = 0            # invitations sent (commit) or to send (dry run)


@dataclass
class _Row:
    row: int
    values: dict[str, str]
    status: str = ""
    reason: str | None = None
    first_row: int | None = None
    ids: dict[str, int | None] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def fail(self, reason: str, first_row: int | None = None) -> None:
        self.status, self.reason, self.first_row = "error", reason, first_row


# ---- reading ------------------------------------------------------------------------------------

def _columns(kind: str, header: list[Any]) -> dict[str, int]:
    fields, required = _COLUMNS[kind]
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        text = sheets.cell(raw).lower()
        for name, keywords in fields:
            if name not in found and any(k in text for k in keywords):
                found[name] = index
                break
    missing = [f for f in required if f not in found]
    if missing:
        raise DomainError("import_columns", field="file", details={"missing": missing},
                          message=f"文件第一行缺少这些列：{'、'.join(missing)}。请使用模板 "
                                  f"(missing columns: {', '.join(missing)}; use the template)")
    return found


def read(kind: str, data: bytes, filename: str = "") -> list[_Row]:
    """CPU work: run through `asyncio.to_thread`."""
    table = sheets.read_table(data, filename, max_rows=MAX_ROWS, max_bytes=MAX_BYTES)
    if not table:
        raise invalid("file", "the file is empty")
    columns = _columns(kind, table[0])
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        values = {f: sheets.cell(cells[i]) if i < len(cells) else "" for f, i in columns.items()}
        if any(values.values()):
            rows.append(_Row(number, values))
    return rows


# ---- rules on a row alone (pure) ----------------------------------------------------------------

def _code(row: _Row, name: str, required: bool = True) -> bool:
    value = row.get(name)
    if not value:
        if required:
            row.fail(f"missing_{name}")
        return not required
    if not CODE_OK.match(value):
        row.fail("bad_code")
        return False
    return True


def _person(row: _Row, name_field: str = "name", phone_field: str = "phone") -> bool:
    name, phone = row.get(name_field), row.get(phone_field)
    if not name:
        row.fail(f"missing_{name_field}")
        return False
    if len(name) > 50:
        row.fail("bad_name")
        return False
    if not phone:
        row.fail(f"missing_{phone_field}")
        return False
    try:
        row.values[phone_field] = auth.normalise_phone(phone)
    except DomainError:
        row.fail("bad_phone")
        return False
    return True


def check_row(kind: str, row: _Row) -> None:
    """The rules a row must meet on its own; marks it as an error if it breaks one."""
    if kind == "tree":
        level = LEVELS.get(row.get("level").lower())
        if not _code(row, "code") or not _code(row, "parent_code", required=False):
            return
        if level is None:
            return row.fail("missing_level" if not row.get("level") else "bad_level")
        row.values["level"] = level
        if not row.get("name"):
            return row.fail("missing_name")
        if len(row.get("name")) > 100 or len(row.get("address")) > 200:
            return row.fail("too_long")
        if (level == "district") != (not row.get("parent_code")):
            return row.fail("wrong_parent")
    elif kind == "managers":
        if _code(row, "code"):
            _person(row)
    elif kind == "units":
        if not _code(row, "code") or not _code(row, "parent_code"):
            return
        if not row.get("name"):
            return row.fail("missing_name")
        if len(row.get("name")) > 100 or len(row.get("party_org")) > 100:
            return row.fail("too_long")
        unit_kind = UNIT_KINDS.get(row.get("unit_kind").lower() or "other")
        if unit_kind is None:
            return row.fail("bad_kind")
        row.values["unit_kind"] = unit_kind
        if row.get("admin_phone") or row.get("admin_name"):
            _person(row, "admin_name", "admin_phone")
    elif kind == "party_members":
        if _person(row) and _code(row, "unit_code") and _code(row, "community_code"):
            _code(row, "grid_code", required=False)


def row_key(kind: str, row: _Row) -> str:
    """What must be unique in a file: a code, or a person (in a role)."""
    if kind == "tree" or kind == "units":
        return row.get("code")
    if kind == "managers":
        return f"{row.get('code')}/{row.get('phone')}"
    return f"{row.get('unit_code')}/{row.get('phone')}"


def check_rows(kind: str, rows: list[_Row]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        check_row(kind, row)
        if row.status == "error":
            continue
        key = row_key(kind, row)
        if key in seen:
            row.fail("duplicate_in_file", seen[key])
        else:
            seen[key] = row.row


# ---- what the actor may load ----------------------------------------------------------------------

async def _area(conn: asyncpg.Connection, actor: Actor) -> set[int] | None:
    """The orgs the actor loads for: None for an admin (all); else the streets and districts they
    manage and every org below them."""
    if actor.is_admin:
        return None
    rows = await conn.fetch(
        """With recursive below as (
               select o.id from org_managers m join orgs o on o.id = m.org_id
               where m.user_id = $1 and o.kind in ('street', 'district')
               union select c.id from orgs c join below b on c.parent_id = b.id)
           select id from below""", actor.id)
    return {r["id"] for r in rows}


async def _require_loader(conn: asyncpg.Connection, actor: Actor, kind: str) -> set[int] | None:
    if kind not in KINDS:
        raise invalid("kind", ", ".join(KINDS))
    if kind == "tree":
        orgs.require_admin(actor)
        return None
    area = await _area(conn, actor)
    if area is not None and not area:
        raise forbidden("not a manager of a street or district")
    return area


# ---- classifying against the database --------------------------------------------------------------

PARENT = {"street": "district", "community": "street", "grid": "community"}


async def _orgs_by_code(conn: asyncpg.Connection, codes: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("select id, kind, name, parent_id, code, address from orgs where code = any($1::text[])",
                            list(set(codes)))
    return {r["code"]: r for r in rows}


async def _classify_tree(conn: asyncpg.Connection, rows: list[_Row]) -> None:
    valid = [r for r in rows if r.status != "error"]
    known = await _orgs_by_code(conn, [r.get("code") for r in valid] + [r.get("parent_code") for r in valid])
    in_file = {r.get("code"): r for r in valid}
    code_of = {r["id"]: r["code"] for r in known.values()}
    for row in valid:
        level, parent_code = row.get("level"), row.get("parent_code")
        if parent_code:
            parent_level = in_file[parent_code].get("level") if parent_code in in_file else \
                known[parent_code]["kind"] if parent_code in known else None
            if parent_level is None:
                row.fail("unknown_parent")
                continue
            if parent_level != PARENT[level]:
                row.fail("wrong_parent")
                continue
            if parent_code in in_file and in_file[parent_code].status == "error":
                row.fail("unknown_parent")  # its parent's own row is wrong: fix that one first
                continue
        found = known.get(row.get("code"))
        if found is None:
            row.status = "new"
        elif found["kind"] != level:
            row.fail("kind_differs")
        elif (code_of.get(found["parent_id"]) if found["parent_id"] else None) != (parent_code or None):
            row.fail("moved")  # the file's parent is not where the org sits: moving is the console's act
        elif found["name"] != row.get("name") or (row.get("address") and found["address"] != row.get("address")):
            row.status = "updated"
        else:
            row.status = "same"
    # a parent that failed after its children were classified takes them with it
    changed = True
    while changed:
        changed = False
        for row in valid:
            parent = in_file.get(row.get("parent_code"))
            if row.status != "error" and parent is not None and parent.status == "error":
                row.fail("unknown_parent")
                changed = True


def _inside(area: set[int] | None, *org_ids: int | None) -> bool:
    return area is None or all(o in area for o in org_ids if o is not None)


async def _invites(conn: asyncpg.Connection, kind: str, phones: list[str]) -> dict[tuple, asyncpg.Record]:
    rows = await conn.fetch("select * from role_invites where kind = $1 and phone = any($2::text[])", kind, phones)
    if kind == "party_member":
        return {(r["phone"], r["unit_id"]): r for r in rows}
    return {(r["phone"], r["org_id"], r["unit_id"]): r for r in rows}


async def _classify_managers(conn: asyncpg.Connection, area: set[int] | None, actor: Actor,
                             rows: list[_Row]) -> None:
    valid = [r for r in rows if r.status != "error"]
    known = await _orgs_by_code(conn, [r.get("code") for r in valid])
    managed = set() if area is None else {r["org_id"] for r in await conn.fetch(
        "select org_id from org_managers where user_id = $1", actor.id)}
    invites = await _invites(conn, "manager", [r.get("phone") for r in valid])
    for row in valid:
        org = known.get(row.get("code"))
        if org is None:
            row.fail("unknown_org")
        elif org["kind"] not in ("district", "street", "community"):
            row.fail("not_a_manager_level")
        elif not _inside(area, org["id"]) or org["id"] in managed:  # levels below one's own only
            row.fail("outside_your_area")
        else:
            row.ids["org_id"] = org["id"]
            row.status = "same" if (row.get("phone"), org["id"], None) in invites else "new"


async def _classify_units(conn: asyncpg.Connection, area: set[int] | None, rows: list[_Row]) -> None:
    valid = [r for r in rows if r.status != "error"]
    parents = await _orgs_by_code(conn, [r.get("parent_code") for r in valid])
    units = {r["code"]: r for r in await conn.fetch(
        "select id, code, name, kind, parent_id, party_org from units where code = any($1::text[])",
        [r.get("code") for r in valid])}
    invites = await _invites(conn, "unit_admin", [r.get("admin_phone") for r in valid if r.get("admin_phone")])
    for row in valid:
        parent = parents.get(row.get("parent_code"))
        if parent is None:
            row.fail("unknown_parent")
            continue
        if parent["kind"] not in ("street", "district"):
            row.fail("wrong_parent")
            continue
        if not _inside(area, parent["id"]):
            row.fail("outside_your_area")
            continue
        row.ids["parent_id"] = parent["id"]
        unit = units.get(row.get("code"))
        invite_new = bool(row.get("admin_phone")) and (
            unit is None or (row.get("admin_phone"), None, unit["id"]) not in invites)
        if unit is None:
            row.status = "new"
        elif unit["parent_id"] != parent["id"]:
            row.fail("moved")
        else:
            row.ids["unit_id"] = unit["id"]
            differs = (unit["name"], unit["kind"], unit["party_org"] or "") != \
                (row.get("name"), row.get("unit_kind"), row.get("party_org"))
            row.status = "updated" if differs or invite_new else "same"


async def _classify_party_members(conn: asyncpg.Connection, area: set[int] | None, rows: list[_Row]) -> None:
    valid = [r for r in rows if r.status != "error"]
    units = {r["code"]: r for r in await conn.fetch(
        "select id, code, parent_id from units where code = any($1::text[])", list({r.get("unit_code") for r in valid}))}
    places = await _orgs_by_code(conn, [r.get("community_code") for r in valid] + [r.get("grid_code") for r in valid
                                                                                  if r.get("grid_code")])
    invites = await _invites(conn, "party_member", [r.get("phone") for r in valid])
    for row in valid:
        unit = units.get(row.get("unit_code"))
        community = places.get(row.get("community_code"))
        grid = places.get(row.get("grid_code")) if row.get("grid_code") else None
        if unit is None:
            row.fail("unknown_unit")
        elif community is None or community["kind"] != "community":
            row.fail("unknown_community")
        elif row.get("grid_code") and (grid is None or grid["kind"] != "grid" or grid["parent_id"] != community["id"]):
            row.fail("unknown_grid")
        elif not _inside(area, unit["parent_id"], community["id"]):
            row.fail("outside_your_area")
        else:
            row.ids.update(unit_id=unit["id"], org_id=community["id"], grid_id=grid["id"] if grid else None)
            found = invites.get((row.get("phone"), unit["id"]))
            if found is None:
                row.status = "new"
            elif found["state"] == "open" and (found["org_id"], found["grid_id"], found["name"]) != \
                    (community["id"], row.ids["grid_id"], row.get("name")):
                row.status = "updated"
            else:
                row.status = "same"  # unchanged, or answered already (the answer is the person's)


async def _classify(conn: asyncpg.Connection, actor: Actor, kind: str, area: set[int] | None,
                    rows: list[_Row]) -> None:
    check_rows(kind, rows)
    if kind == "tree":
        await _classify_tree(conn, rows)
    elif kind == "managers":
        await _classify_managers(conn, area, actor, rows)
    elif kind == "units":
        await _classify_units(conn, area, rows)
    else:
        await _classify_party_members(conn, area, rows)


def _invites_to_send(kind: str, rows: list[_Row]) -> int:
    if kind == "tree":
        return 0
    if kind == "units":
        return sum(1 for r in rows if r.status in ("new", "updated") and r.get("admin_phone"))
    return sum(1 for r in rows if r.status in ("new", "updated"))


def _report(kind: str, digest: str, rows: list[_Row], committed: bool, invites: int) -> Report:
    def result(r: _Row) -> RowResult:
        key = r.get("code") if kind in ("tree", "units") else r.get("phone")
        return RowResult(row=r.row, status=r.status, key=key, name=r.get("name"), reason=r.reason,
                         first_row=r.first_row)
    by = {s: sum(1 for r in rows if r.status == s) for s in ("new", "same", "updated", "error")}
    return Report(kind=kind, file_sha256=digest, committed=committed, counts=Counts(rows=len(rows), **by),
                  errors=[result(r) for r in rows if r.status == "error"],
                  rows=[result(r) for r in rows if r.status != "error"][:SHOWN_ROWS], invites=invites)


async def check(conn: asyncpg.Connection, actor: Actor, kind: str, data: bytes, filename: str = "") -> Report:
    """The dry run: what a commit of this file would do, row by row. Changes nothing."""
    area = await _require_loader(conn, actor, kind)
    rows = await asyncio.to_thread(read, kind, data, filename)
    await _classify(conn, actor, kind, area, rows)
    return _report(kind, hashlib.sha256(data).hexdigest(), rows, False, _invites_to_send(kind, rows))


# ---- committing ------------------------------------------------------------------------------------

async def _commit_tree(conn: asyncpg.Connection, rows: list[_Row]) -> None:
    for level in ("district", "street", "community", "grid"):
        todo = [r for r in rows if r.status in ("new", "updated") and r.get("level") == level]
        if not todo:
            continue
        parents = await _orgs_by_code(conn, [r.get("parent_code") for r in todo if r.get("parent_code")])
        made = await conn.fetch(
            """Insert into orgs (kind, code, name, parent_id, address)
               select $1, c, n, p, nullif(a, '') from unnest($2::text[], $3::text[], $4::bigint[], $5::text[])
                   as x(c, n, p, a)
               on conflict (code) where code is not null do update set name = excluded.name,
                   address = coalesce(excluded.address, orgs.address)
               returning id, (xmax = 0) as inserted""",
            level, [r.get("code") for r in todo], [r.get("name") for r in todo],
            [parents[r.get("parent_code")]["id"] if r.get("parent_code") else None for r in todo],
            [r.get("address") for r in todo])
        if level == "community":
            new_ids = [m["id"] for m in made if m["inserted"]]
            if new_ids:
                await conn.execute(
                    # ledger.open_community_accounts, for many communities in one statement
                    """Insert into accounts (unit, kind, org_id)
                       select a.unit, a.kind, c from unnest($1::bigint[]) c
                       cross join (values ('points', 'issuing'), ('minutes', 'issuing'), ('minutes', 'pool'),
                                          ('points', 'supermarket')) as a(unit, kind)
                       on conflict do nothing""", new_ids)


async def _commit_managers(conn: asyncpg.Connection, actor: Actor, rows: list[_Row]) -> int:
    todo = [r for r in rows if r.status == "new"]
    result = await conn.execute(
        """Insert into role_invites (kind, phone, name, org_id, invited_by, created_at)
           select 'manager', p, n, o, $4, $5 from unnest($1::text[], $2::text[], $3::bigint[]) as x(p, n, o)
           on conflict (kind, phone, coalesce(org_id, 0), coalesce(unit_id, 0), coalesce(micro_grid_id, 0))
               where kind <> 'party_member' do nothing""",
        [r.get("phone") for r in todo], [r.get("name") for r in todo], [r.ids["org_id"] for r in todo],
        actor.id, clock.now())
    return int(result.split()[-1])


async def _commit_units(conn: asyncpg.Connection, actor: Actor, rows: list[_Row]) -> int:
    todo = [r for r in rows if r.status in ("new", "updated")]
    now = clock.now()
    made = await conn.fetch(
        """Insert into units (code, name, kind, parent_id, party_org, created_at)
           select c, n, k, p, nullif(o, ''), $6 from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
               as x(c, n, k, p, o)
           on conflict (code) where code is not null do update set name = excluded.name, kind = excluded.kind,
               party_org = excluded.party_org
           returning id, code""",
        [r.get("code") for r in todo], [r.get("name") for r in todo], [r.get("unit_kind") for r in todo],
        [r.ids["parent_id"] for r in todo], [r.get("party_org") for r in todo], now)
    ids = {m["code"]: m["id"] for m in made}
    admins = [r for r in todo if r.get("admin_phone")]
    result = await conn.execute(
        """Insert into role_invites (kind, phone, name, unit_id, invited_by, created_at)
           select 'unit_admin', p, n, u, $4, $5 from unnest($1::text[], $2::text[], $3::bigint[]) as x(p, n, u)
           on conflict (kind, phone, coalesce(org_id, 0), coalesce(unit_id, 0), coalesce(micro_grid_id, 0))
               where kind <> 'party_member' do nothing""",
        [r.get("admin_phone") for r in admins], [r.get("admin_name") for r in admins],
        [ids[r.get("code")] for r in admins], actor.id, now)
    return int(result.split()[-1])


async def _commit_party_members(conn: asyncpg.Connection, actor: Actor, rows: list[_Row]) -> int:
    todo = [r for r in rows if r.status in ("new", "updated")]
    result = await conn.execute(
        """Insert into role_invites (kind, phone, name, unit_id, org_id, grid_id, invited_by, created_at)
           select 'party_member', p, n, u, c, g, $6, $7
           from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) as x(p, n, u, c, g)
           on conflict (phone, unit_id) where kind = 'party_member' do update set name = excluded.name,
               org_id = excluded.org_id, grid_id = excluded.grid_id
               where role_invites.state = 'open'""",
        [r.get("phone") for r in todo], [r.get("name") for r in todo], [r.ids["unit_id"] for r in todo],
        [r.ids["org_id"] for r in todo], [r.ids["grid_id"] for r in todo], actor.id, clock.now())
    return int(result.split()[-1])


async def commit(conn: asyncpg.Connection, actor: Actor, kind: str, data: bytes, file_sha256: str,
                 filename: str = "", *, ip: str | None = None) -> Report:
    """Load the valid rows of the file the dry run checked (all or nothing)."""
    area = await _require_loader(conn, actor, kind)
    digest = hashlib.sha256(data).hexdigest()
    if file_sha256.lower() != digest:
        raise invalid("file_sha256", "not the file of the dry run: check it again")
    rows = await asyncio.to_thread(read, kind, data, filename)
    async with conn.transaction():
        await conn.execute("select pg_advisory_xact_lock(4031, 0)")  # one city import at a time
        await _classify(conn, actor, kind, area, rows)
        invites = 0
        if kind == "tree":
            await _commit_tree(conn, rows)
        elif kind == "managers":
            invites = await _commit_managers(conn, actor, rows)
        elif kind == "units":
            invites = await _commit_units(conn, actor, rows)
        else:
            invites = await _commit_party_members(conn, actor, rows)
        report = _report(kind, digest, rows, True, invites)
        # the list itself is the target: named by the first 52 bits of its hash (the whole hash is in `after`)
        await audit.record(conn, actor, "city_import", community_id=None, target=("city_list", int(digest[:13], 16)),
                           after={"kind": kind, "file_sha256": digest, "filename": filename[:100],
                                  "invites": invites, **msgspec.to_builtins(report.counts)}, ip=ip)
    return report


def template(kind: str, fmt: str) -> bytes:
    if kind not in KINDS:
        raise invalid("kind", ", ".join(KINDS))
    title, header, examples, text_columns = TEMPLATES[kind]
    if fmt == "csv":
        return sheets.template_csv(header, examples)
    return sheets.template_xlsx(title, header, examples, text_columns)

"""Bulk import of residents (issue 18): a dry run classifies every row with its row number, the
commit imports the valid rows all or nothing, a second import of the same file changes nothing,
and the act is audited with the file's hash and counts."""

import csv
import hashlib
import io
import random

import openpyxl

from tests.conftest import new_phone

HEADER = ["姓名 name", "手机号 phone", "网格 grid", "户/地址 household", "标签 tags", "工作单位 work unit"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


async def dry_run(client, community, data: bytes, filename="residents.csv"):
    return await client.post(f"/api/communities/{community.id}/imports/dry-run", headers=community.manager.headers,
                             files={"file": (filename, data)})


async def commit(client, community, data: bytes, filename="residents.csv"):
    return await client.post(f"/api/communities/{community.id}/imports", headers=community.manager.headers,
                             files={"file": (filename, data)}, data={"file_sha256": hashlib.sha256(data).hexdigest()})


async def state(pool, community_id: int, phones: list[str] = ()) -> tuple:
    """Everything an import writes, to compare before and after: scoped to the community and the
    file's phones (other tests create people at the same time)."""
    members = await pool.fetchval("select count(*) from org_members where org_id = $1", community_id)
    profiles = await pool.fetch("select user_id, grid_id, household, tags, work_unit, updated_at from resident_profiles "
                                "where community_id = $1 order by user_id", community_id)
    users = await pool.fetch("select id, name from users where phone = any($1::text[]) order by id", list(phones))
    accounts = await pool.fetchval("select count(*) from accounts a join users u on u.id = a.user_id "
                                   "where u.phone = any($1::text[])", list(phones))
    return members, [tuple(p) for p in profiles], [tuple(u) for u in users], accounts


async def test_ten_thousand_rows_with_fifty_planted_errors(client, world, pool):
    c = await world.community("三苏社区")
    other = await world.community("诗书社区")
    elsewhere = [await world.member(other, f"外社区{i}") for i in range(10)]
    rng = random.Random(18)
    rows = [[f"居民{i}", new_phone(), "第一网格", f"{i % 40 + 1}栋{i % 6 + 1}单元", "党员" if i % 7 == 0 else "",
             "眉山市第一中学" if i % 5 == 0 else ""] for i in range(10_000)]
    planted: dict[int, str] = {}  # spreadsheet row number -> reason (row 1 is the header)
    positions = rng.sample(range(100, 10_000), 50)
    for n, index in enumerate(positions):
        kind = ("bad_phone", "unknown_grid", "duplicate_in_file", "missing_name", "account_elsewhere")[n % 5]
        row = rows[index]
        if kind == "bad_phone":
            row[1] = "1380013800"  # ten digits
        elif kind == "unknown_grid":
            row[2] = "第九网格"
        elif kind == "duplicate_in_file":
            row[1] = rows[n][1]   # the phone of an early, valid row
        elif kind == "missing_name":
            row[0] = ""
        else:
            row[1] = elsewhere[n // 5].phone  # someone of another community: never enrolled by a file
        planted[index + 2] = kind
    data = csv_bytes(rows)
    phones = [row[1] for row in rows]
    before = await state(pool, c.id, phones)

    r = await dry_run(client, c, data)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["counts"] == {"rows": 10_000, "new": 9_950, "member": 0, "updated": 0, "error": 50}
    assert {e["row"]: e["reason"] for e in report["errors"]} == planted
    assert report["committed"] is False and await state(pool, c.id, phones) == before  # a dry run changes nothing

    r = await commit(client, c, data)
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"rows": 10_000, "new": 9_950, "member": 0, "updated": 0, "error": 50}
    members = await pool.fetchval("select count(*) from org_members where org_id = $1", c.id)
    assert members == before[0] + 9_950
    assert await pool.fetchval("select count(*) from accounts a join org_members m on m.user_id = a.user_id "
                               "where m.org_id = $1", c.id) == 2 * members
    for person in elsewhere:  # not pulled into 三苏社区
        assert await pool.fetchval("select count(*) from org_members where user_id = $1", person.id) == 1
    tagged = await pool.fetchval("select count(*) from resident_profiles where community_id = $1 and '党员' = any(tags)",
                                 c.id)
    assert tagged == sum(1 for i, row in enumerate(rows) if row[4] and i + 2 not in planted)
    audit = await pool.fetch("select * from audit_log where act = 'member_import' and community_id = $1", c.id)
    assert len(audit) == 1 and audit[0]["after"]["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert audit[0]["after"]["new"] == 9_950 and audit[0]["after"]["error"] == 50
    assert audit[0]["actor_id"] == c.manager.id

    after = await state(pool, c.id, phones)
    r = await commit(client, c, data)  # the same file again: nothing changes
    assert r.json()["counts"] == {"rows": 10_000, "new": 0, "member": 9_950, "updated": 0, "error": 50}
    assert await state(pool, c.id, phones) == after


async def test_changed_rows_are_updated_and_a_claimed_name_is_kept(client, world, pool):
    c = await world.community()
    data = csv_bytes([["王秀兰", "13912340001", "第一网格", "1栋", "", ""], ["李建华", "13912340002", "", "2栋", "", ""]])
    assert (await commit(client, c, data)).json()["counts"]["new"] == 2
    await pool.execute("update users set password_hash = 'claimed' where phone = '13912340002'")
    changed = csv_bytes([["王秀兰", "13912340001", "第一网格", "1栋", "", ""],
                         ["李建国", "13912340002", "第一网格", "5栋", "党员、楼长", ""]])
    report = (await dry_run(client, c, changed)).json()
    assert [(r["row"], r["status"]) for r in report["rows"]] == [(2, "member"), (3, "updated")]
    assert (await commit(client, c, changed)).json()["counts"]["updated"] == 1
    row = await pool.fetchrow("select u.name, p.household, p.tags, p.grid_id from users u join resident_profiles p "
                              "on p.user_id = u.id where u.phone = '13912340002'")
    assert (row["name"], row["household"], sorted(row["tags"]), row["grid_id"]) == ("李建华", "5栋", ["党员", "楼长"],
                                                                                 c.grid_id)


async def test_xlsx_with_numeric_phones_and_the_template(client, world, pool):
    c = await world.community()
    template = await client.get(f"/api/communities/{c.id}/imports/template.xlsx", headers=c.manager.headers)
    assert template.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(template.content)).active
    assert [cell.value for cell in sheet[1]] == HEADER
    sheet.delete_rows(2)
    sheet.append(["赵桂芳", 13912345601, "第一网格", "6栋", "党员", "社区医院"])   # Excel keeps phones as numbers
    sheet.append(["钱志强", "139 1234 5602", "", "", "", ""])
    sheet.append(["孙丽", "abc", "", "", "", ""])
    sheet.append(["周芳", "１３９１２３４５６０４", "", "", "", ""])  # full-width digits: not a phone the SMS can reach
    out = io.BytesIO()
    sheet.parent.save(out)
    report = (await dry_run(client, c, out.getvalue(), "居民.xlsx")).json()
    assert report["counts"] == {"rows": 4, "new": 2, "member": 0, "updated": 0, "error": 2}
    assert [(e["row"], e["name"], e["reason"]) for e in report["errors"]] == [(4, "孙丽", "bad_phone"),
                                                                              (5, "周芳", "bad_phone")]
    assert (await commit(client, c, out.getvalue(), "居民.xlsx")).json()["counts"]["new"] == 2
    csv_template = await client.get(f"/api/communities/{c.id}/imports/template.csv", headers=c.manager.headers)
    assert csv_template.content.decode("utf-8-sig").splitlines()[0] == ",".join(HEADER)


async def test_commit_needs_the_dry_runs_file_and_a_manager_of_the_community(client, world, pool):
    a, b = await world.community("A"), await world.community("B")
    data = csv_bytes([["王秀兰", new_phone(), "", "", "", ""]])
    r = await client.post(f"/api/communities/{a.id}/imports", headers=a.manager.headers,
                          files={"file": ("r.csv", data)}, data={"file_sha256": "0" * 64})
    assert r.status_code == 422 and r.json()["details"]["field"] == "file_sha256"
    assert (await dry_run(client, type("C", (), {"id": a.id, "manager": b.manager}), data)).status_code == 403
    r = await dry_run(client, a, b"\x00\x01 not a sheet", "x.xlsx")
    assert r.status_code == 415
    r = await dry_run(client, a, "名称,地址\n张三,1栋\n".encode())
    assert r.status_code == 422 and r.json()["details"] == {"field": "file", "missing": ["name", "phone"]}
    assert r.json()["message"] == "文件第一行需要“姓名”和“手机号”两列，请使用模板"


async def test_a_dry_run_of_changed_households_writes_nothing(client, world, pool):
    """Item 8 of issue 30: a dry run that wrote households (or names, or new people) survived the
    suite, because the only dry run checked was of new people. Members whose rows change, a new
    person and a renamed unclaimed account: the dry run reports them and changes nothing."""
    c = await world.community()
    phones = [new_phone(), new_phone(), new_phone()]
    first = csv_bytes([["王秀兰", phones[0], "第一网格", "1栋", "党员", ""], ["李建华", phones[1], "", "2栋", "", ""]])
    assert (await commit(client, c, first)).json()["counts"]["new"] == 2
    before = await state(pool, c.id, phones)
    changed = csv_bytes([["王秀兰", phones[0], "", "9栋", "", "社区医院"], ["李建国", phones[1], "第一网格", "2栋", "楼长", ""],
                         ["赵桂芳", phones[2], "", "3栋", "", ""]])
    report = (await dry_run(client, c, changed)).json()
    assert report["counts"] == {"rows": 3, "new": 1, "member": 0, "updated": 2, "error": 0}
    assert await state(pool, c.id, phones) == before


# ---- issue 30 finding 6: a spreadsheet cannot stall or kill the server ------------------------------

def _xlsx_with(sheet_xml_edit) -> bytes:
    """The template's .xlsx with its sheet's XML changed by `sheet_xml_edit` (str -> str)."""
    import zipfile

    from domain.people import imports
    source = zipfile.ZipFile(io.BytesIO(imports.template_xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml_edit(data.decode()).encode()
            target.writestr(item.filename, data)
    return out.getvalue()


def _declaring(ref: str):
    import re

    def edit(xml: str) -> str:  # the declared size, and an empty row at its end (rows between are "missing")
        last = re.search(r"\d+$", ref).group()
        xml = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>', xml)
        return xml.replace("</sheetData>", f'<row r="{last}"/></sheetData>')
    return edit


def test_finding_6_a_declared_sheet_size_allocates_nothing():
    """A 1.5 KB .xlsx declaring A1:XFD8000 took the server from 105 to 1,106 MB: every row was padded
    to the declared 16,384 columns. It is read as what it holds, at a few MB whatever it declares."""
    import tracemalloc

    from domain.people import imports
    data = _xlsx_with(_declaring("A1:XFD1000"))
    assert len(data) < 10_000 and b"XFD1000" not in data  # compressed: small on the wire
    tracemalloc.start()
    try:
        rows, columns = imports.read(data, "crafted.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == 1 and columns == ["name", "phone", "grid", "household", "tags", "work_unit"]
    assert peak < 20 * 1024 * 1024, peak  # was ~250 MB for these 1,000 declared rows


def test_finding_6_rows_and_columns_are_bounded_as_they_are_read():
    """Rows far down the sheet, and a row of 16,384 cells: counted while read, never padded first."""
    import time

    from domain.people import imports
    far = _xlsx_with(lambda xml: xml.replace("</sheetData>",
                                             '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c>'
                                             "</row></sheetData>"))
    started = time.monotonic()
    rows, _ = imports.read(far, "far.xlsx")  # a long run of blank rows ends the sheet (sheets.MAX_BLANK_RUN)
    assert [r.name for r in rows] == ["王秀兰"]
    assert time.monotonic() - started < 5
    wide = _xlsx_with(lambda xml: xml.replace("</sheetData>",
                                              '<row r="3"><c r="A3" t="inlineStr"><is><t>张三</t></is></c>'
                                              '<c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    rows, _ = imports.read(wide, "wide.xlsx")
    assert [r.name for r in rows] == ["王秀兰", "张三"]


async def test_finding_6_an_xlsx_that_inflates_beyond_the_bound_is_refused_unread(client, world, monkeypatch):
    """499 KB inflating to 500 MB stalled the server 2.6 s; the parts' sizes are checked first."""
    padding = " " * (41 * 1024 * 1024)  # 41 MB of spaces deflate to ~40 KB
    bomb = _xlsx_with(lambda xml: xml.replace("<sheetData>", "<sheetData>" + padding))
    assert len(bomb) < 200_000
    c = await world.community()
    parsed = []
    monkeypatch.setattr("openpyxl.load_workbook", lambda *a, **k: parsed.append(1))
    r = await dry_run(client, c, bomb, "bomb.xlsx")
    assert r.status_code == 413 and r.json()["error"] == "too_large", r.text
    assert parsed == []  # refused from the zip's directory, before openpyxl saw it


async def test_finding_6_the_sheet_is_read_off_the_event_loop(client, world, monkeypatch):
    import threading

    from domain.people import imports
    c = await world.community()
    threads = []
    real = imports.read

    def spy(data, filename=""):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(data, filename)
    monkeypatch.setattr(imports, "read", spy)
    data = csv_bytes([["王秀兰", new_phone(), "", "", "", ""]])
    assert (await dry_run(client, c, data)).status_code == 200
    assert (await commit(client, c, data)).status_code == 200
    assert threads == [False, False]  # both on a worker thread, never on the event loop's

"""A city loads itself (issue 31): the org tree, managers, units and party members from spreadsheets,
dry run then commit, errors by row, nobody given a role without accepting it, the same file twice
changes nothing, and an old .xls is told to be saved as .xlsx."""

import hashlib
import io
import secrets

import openpyxl

from domain.core import sheets
from domain.people import city
from tests.conftest import new_phone


def xlsx(header: list[str], rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TREE = ["层级", "编码", "名称", "上级编码", "地址"]


def small_city(p: str) -> list[list[str]]:
    """Codes prefixed with `p`: each test its own city."""
    return [["区", f"{p}D", "东坡区", "", ""],
            ["街道", f"{p}S1", "苏祠街道", f"{p}D", ""],
            ["街道", f"{p}S2", "通惠街道", f"{p}D", ""],
            ["社区", f"{p}C1", "三苏社区", f"{p}S1", "纱縠行南段12号"],
            ["社区", f"{p}C2", "诗书社区", f"{p}S2", ""],
            ["网格", f"{p}G1", "第一网格", f"{p}C1", ""],
            ["网格", f"{p}G2", "第一网格", f"{p}C2", ""]]


async def load(client, who, kind: str, data: bytes, name: str = "list.xlsx"):
    dry = await client.post(f"/api/city-imports/{kind}/dry-run", headers=who.headers, files={"file": (name, data)})
    assert dry.status_code == 200, dry.text
    done = await client.post(f"/api/city-imports/{kind}", headers=who.headers, files={"file": (name, data)},
                             data={"file_sha256": hashlib.sha256(data).hexdigest()})
    assert done.status_code == 200, done.text
    return dry.json(), done.json()


async def tree_state(pool, p: str) -> list[tuple]:
    rows = await pool.fetch("select code, kind, name, parent_id, address from orgs where code like $1 order by code",
                            p + "%")
    return [tuple(r) for r in rows]


async def test_the_tree_loads_with_errors_by_row_and_again_changes_nothing(client, world, pool):
    admin = await world.admin()
    p = secrets.token_hex(3).upper() + "-"
    rows = small_city(p) + [
        ["网格", f"{p}G9", "第九网格", f"{p}NOPE", ""],      # row 9: parent unknown
        ["小区", f"{p}X", "某小区", f"{p}C1", ""],           # row 10: no such level
        ["社区", f"{p}C1", "重复社区", f"{p}S1", ""],         # row 11: code twice
        ["网格", f"{p}G3", "第三网格", f"{p}S1", ""],         # row 12: a grid under a street
        ["社区", "bad code!", "坏编码", f"{p}S1", ""]]        # row 13: bad code
    dry, done = await load(client, admin, "tree", xlsx(TREE, rows))
    assert dry["committed"] is False and done["committed"] is True
    assert {e["row"]: e["reason"] for e in done["errors"]} == {
        9: "unknown_parent", 10: "bad_level", 11: "duplicate_in_file", 12: "wrong_parent", 13: "bad_code"}
    assert done["counts"] == {"rows": 12, "new": 7, "same": 0, "updated": 0, "error": 5}
    loaded = await tree_state(pool, p)
    assert [(c, k) for c, k, *_ in loaded] == [(f"{p}C1", "community"), (f"{p}C2", "community"), (f"{p}D", "district"),
                                               (f"{p}G1", "grid"), (f"{p}G2", "grid"), (f"{p}S1", "street"),
                                               (f"{p}S2", "street")]
    community = await pool.fetchval("select id from orgs where code = $1", f"{p}C1")
    assert await pool.fetchval("select count(*) from accounts where org_id = $1 and user_id is null", community) == 4
    audits = await pool.fetchval("select count(*) from audit_log where act = 'city_import' and actor_id = $1", admin.id)

    again_dry, again = await load(client, admin, "tree", xlsx(TREE, rows))
    assert again["counts"]["new"] == 0 and again["counts"]["same"] == 7 and again["counts"]["updated"] == 0
    assert await tree_state(pool, p) == loaded
    assert await pool.fetchval("select count(*) from audit_log where act = 'city_import' and actor_id = $1",
                               admin.id) == audits + 1  # the commit is audited, even when it changes nothing


async def test_a_street_manager_loads_units_and_party_members_who_accept(client, world, pool):
    admin = await world.admin()
    p = secrets.token_hex(3).upper() + "-"
    await load(client, admin, "tree", xlsx(TREE, small_city(p)))
    street1 = await pool.fetchval("select id from orgs where code = $1", f"{p}S1")
    boss = await world.person("街道书记")
    async with pool.acquire() as conn:
        await conn.execute("insert into org_managers (org_id, user_id) values ($1, $2)", street1, boss.id)
    admin_phone, member = new_phone(), await world.person("王党员")
    units = xlsx(["单位编码", "单位名称", "类型", "上级编码", "党组织", "管理员姓名", "管理员手机"], [
        [f"{p}U1", "税务分局", "机关", f"{p}S1", "分局党委", "赵管理", admin_phone],
        [f"{p}U2", "别人的单位", "企业", f"{p}S2", "", "", ""]])        # row 3: another street's
    _, done = await load(client, boss, "units", units)
    assert [(e["row"], e["reason"]) for e in done["errors"]] == [(3, "outside_your_area")]
    assert done["counts"]["new"] == 1 and done["invites"] == 1
    unit_id = await pool.fetchval("select id from units where code = $1", f"{p}U1")
    assert await pool.fetchval("select count(*) from unit_admins where unit_id = $1", unit_id) == 0  # not yet
    sent = (await client.get("/api/role-invites", params={"level_id": street1}, headers=boss.headers)).json()
    assert [(i["unit_id"], i["name"], i["state"]) for i in sent] == [(unit_id, "赵管理", "open")]
    other = await world.person("路人")
    assert (await client.get("/api/role-invites", params={"level_id": street1},
                             headers=other.headers)).status_code == 403

    members = xlsx(["姓名", "手机号", "单位编码", "社区编码", "网格编码"], [
        ["王党员", member.phone, f"{p}U1", f"{p}C1", f"{p}G1"],
        ["李党员", "12345", f"{p}U1", f"{p}C1", ""],                      # row 3: bad phone
        ["张党员", new_phone(), f"{p}U1", f"{p}C1", f"{p}G2"],           # row 4: another community's grid
        ["陈党员", new_phone(), f"{p}NOPE", f"{p}C1", ""]])                # row 5: unknown unit
    _, done = await load(client, boss, "party_members", members)
    assert {e["row"]: e["reason"] for e in done["errors"]} == {3: "bad_phone", 4: "unknown_grid", 5: "unknown_unit"}
    assert done["invites"] == 1
    assert not await pool.fetchval("select exists (select 1 from unit_members where user_id = $1)", member.id)

    again_dry, again = await load(client, boss, "party_members", members)
    assert again["invites"] == 0 and again["counts"]["same"] == 1

    mine = (await client.get("/api/me/role-invites", headers=member.headers)).json()
    assert [(i["kind"], i["unit_name"], i["org_name"]) for i in mine] == [("party_member", "税务分局", "三苏社区")]
    other = await world.person("路人")
    assert (await client.post(f"/api/me/role-invites/{mine[0]['id']}/accept", headers=other.headers)).status_code == 404
    accepted = await client.post(f"/api/me/role-invites/{mine[0]['id']}/accept", headers=member.headers)
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert await pool.fetchval("select confirmed and party_member from unit_members where user_id = $1 and unit_id = $2",
                               member.id, unit_id)
    report = await pool.fetchrow("select state, community_id from unit_reports where user_id = $1", member.id)
    assert report["state"] == "pending"  # the community confirms the 报到, as any other
    assert (await client.post(f"/api/me/role-invites/{mine[0]['id']}/accept",
                              headers=member.headers)).status_code == 409


async def test_managers_list_names_levels_below_only(client, world, pool):
    admin = await world.admin()
    p = secrets.token_hex(3).upper() + "-"
    await load(client, admin, "tree", xlsx(TREE, small_city(p)))
    street1 = await pool.fetchval("select id from orgs where code = $1", f"{p}S1")
    boss = await world.person("街道书记")
    async with pool.acquire() as conn:
        await conn.execute("insert into org_managers (org_id, user_id) values ($1, $2)", street1, boss.id)
    rows = [[f"{p}C1", "社区书记", new_phone()], [f"{p}S1", "自己", new_phone()], [f"{p}C2", "别处", new_phone()],
            [f"{p}G1", "网格", new_phone()]]
    _, done = await load(client, boss, "managers", xlsx(["编码", "姓名", "手机号"], rows))
    assert {e["row"]: e["reason"] for e in done["errors"]} == {
        3: "outside_your_area", 4: "outside_your_area", 5: "not_a_manager_level"}
    assert done["invites"] == 1
    tree = await client.post("/api/city-imports/tree/dry-run", headers=boss.headers,
                             files={"file": ("t.xlsx", xlsx(TREE, small_city(p)))})
    assert tree.status_code == 403  # the tree is the platform admin's


async def test_an_old_xls_is_told_to_be_saved_as_xlsx(client, world):
    admin = await world.admin()
    old = sheets.OLE2_MAGIC + b"\x00" * 600
    answer = await client.post("/api/city-imports/tree/dry-run", headers=admin.headers, files={"file": ("城市.xls", old)})
    assert answer.status_code == 415 and answer.json()["error"] == "old_spreadsheet"
    assert ".xlsx" in answer.json()["message"]


def test_a_sheet_declaring_a_huge_dimension_reads_only_its_rows():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["层级", "编码", "名称"])
    sheet.append(["区", "X", "某区"])
    out = io.BytesIO()
    book.save(out)
    # rewrite the sheet's declared dimension to the largest a sheet can have
    import zipfile
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    target = io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:C2"/>', b'<dimension ref="A1:XFD1048576"/>')
                data = data.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr">'
                                                     b'<is><t>x</t></is></c></row></sheetData>')
            z.writestr(item, data)
    table = sheets.read_table(target.getvalue(), "x.xlsx", max_rows=10, max_bytes=10**6)
    assert table[:2] == [["层级", "编码", "名称"] + [None] * (sheets.MAX_COLUMNS - 3),
                         ["区", "X", "某区"] + [None] * (sheets.MAX_COLUMNS - 3)]
    assert len(table) <= sheets.MAX_BLANK_RUN + 2


def test_row_rules_alone():
    rows = [city._Row(2, {"level": "街道", "code": "S", "name": "街", "parent_code": ""}),
            city._Row(3, {"level": "区", "code": "D", "name": "区", "parent_code": "X"}),
            city._Row(4, {"level": "区", "code": "D2", "name": "", "parent_code": ""})]
    city.check_rows("tree", rows)
    assert [r.reason for r in rows] == ["wrong_parent", "wrong_parent", "missing_name"]


async def test_nobody_is_made_a_manager_without_accepting(client, world, pool):
    c = await world.community()
    admin = await world.admin()
    someone = await world.person("某人")
    before = await pool.fetchval("select count(*) from org_managers where org_id = $1", c.id)
    by_id = await client.post(f"/api/orgs/{c.id}/managers", headers=admin.headers, json={"user_id": someone.id})
    assert by_id.status_code == 422  # appointing by user id is gone
    named = await client.post(f"/api/orgs/{c.id}/managers", headers=admin.headers,
                              json={"phone": someone.phone, "name": "某人"})
    assert named.status_code == 201 and named.json()["state"] == "open"
    # they are told (the inbox, with the act); naming them again tells them nothing more
    await client.post(f"/api/orgs/{c.id}/managers", headers=admin.headers, json={"phone": someone.phone, "name": "某人"})
    assert await pool.fetchval("select count(*) from notifications where user_id = $1 and kind = 'role_invited'",
                               someone.id) == 1
    assert await pool.fetchval("select count(*) from org_managers where org_id = $1", c.id) == before
    # a street's manager names its communities' managers, not its own street's; a community's manager neither
    street_boss = await world.person("街道书记")
    await pool.execute("insert into org_managers (org_id, user_id) values ($1, $2)", c.street_id, street_boss.id)
    ok = await client.post(f"/api/orgs/{c.id}/managers", headers=street_boss.headers,
                           json={"phone": new_phone(), "name": "新书记"})
    assert ok.status_code == 201
    for who, org in ((street_boss, c.street_id), (c.manager, c.id)):
        refused = await client.post(f"/api/orgs/{org}/managers", headers=who.headers,
                                    json={"phone": new_phone(), "name": "新书记"})
        assert refused.status_code == 403, refused.text
    declined = await client.post(f"/api/me/role-invites/{named.json()['id']}/decline", headers=someone.headers)
    assert declined.json()["state"] == "declined"
    assert await pool.fetchval("select count(*) from org_managers where org_id = $1", c.id) == before

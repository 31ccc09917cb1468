"""Records beyond service (issue 36): training required before an activity, insurance, commendations
and evaluations the person sees; the export of the five §19 groups and its restore into an empty
instance (a round trip loses nothing; an instance with data only hears the differences)."""

import asyncio
import base64
import io
import os
import uuid
from datetime import date, datetime, timedelta, timezone

import asyncpg
import pytest

from domain.core import db
from domain.core.actor import Actor
from domain.people import auth, identity
from domain.records import export, restore
from tests.checkin.test_activities import new_activity, poster_code, scan
from tests.conftest import _fresh_database, drop_database, new_phone

T0 = datetime.now(timezone.utc).replace(microsecond=0)
TODAY = date.today()


async def test_a_required_training_and_insurance_come_before_the_check_in(client, world, pool):
    c = await world.community("培训社区")
    v = await world.member(c, "卫东")
    activity = await new_activity(client, c, title="独居老人探访")
    r = await client.put(f"/api/activities/{activity['id']}/requirements", headers=c.manager.headers,
                         json={"requires_training": "探访安全", "requires_insurance": True})
    assert r.status_code == 200, r.text
    code = await poster_code(pool, activity["id"])
    snapshot = lambda: pool.fetch("select id, state from attendances where user_id = $1", v.id)  # noqa: E731
    before = await snapshot()
    r = await scan(client, v, code)
    assert r.status_code == 409 and r.json()["error"] == "requirement_unmet", r.text
    assert r.json()["details"]["missing"] == ["training", "insurance"]
    assert await snapshot() == before
    # The training, with attendance, then a personal policy in force today.
    r = await client.post("/api/trainings", headers=c.manager.headers, json={
        "community_id": c.id, "title": "探访前安全培训", "topic": "探访安全", "held_on": TODAY.isoformat(), "minutes": 90})
    assert r.status_code == 201, r.text
    training = r.json()["id"]
    r = await client.post(f"/api/trainings/{training}/attendance", headers=c.manager.headers, json={"user_ids": [v.id]})
    assert r.status_code == 200 and r.json()["attendees"] == 1
    r = await scan(client, v, code)
    assert r.status_code == 409 and r.json()["details"]["missing"] == ["insurance"]
    r = await client.post("/api/insurance", headers=c.manager.headers, json={
        "community_id": c.id, "user_id": v.id, "policy_number": "PICC-2024-001", "insurer": "人保",
        "starts_on": (TODAY - timedelta(days=1)).isoformat(), "ends_on": (TODAY + timedelta(days=365)).isoformat()})
    assert r.status_code == 201, r.text
    r = await scan(client, v, code)
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text


async def test_commendations_and_evaluations_are_entered_by_managers_and_seen_by_the_person(client, world, pool):
    a, b = await world.community("表彰社区"), await world.community("别的社区")
    v = await world.member(a, "褚红")
    body = {"community_id": a.id, "user_id": v.id, "title": "优秀志愿者", "awarded_on": TODAY.isoformat()}
    audit_before = await pool.fetchval("select count(*) from audit_log where target_type = 'user' and target_id = $1", v.id)
    r = await client.post("/api/commendations", headers=b.manager.headers, json=body)
    assert r.status_code == 403
    r = await client.post("/api/commendations", headers=b.manager.headers, json={**body, "community_id": b.id})
    assert r.status_code == 404   # not a member of b: nothing to commend there
    r = await client.post("/api/evaluations", headers=v.headers,
                          json={"community_id": a.id, "user_id": v.id, "rating": 5})
    assert r.status_code == 403   # nobody rates themself
    assert await pool.fetchval("select count(*) from commendations where user_id = $1", v.id) == 0
    assert await pool.fetchval("select count(*) from audit_log where target_type = 'user' and target_id = $1",
                               v.id) == audit_before
    assert (await client.post("/api/commendations", headers=a.manager.headers, json=body)).status_code == 201
    r = await client.post("/api/evaluations", headers=a.manager.headers,
                          json={"community_id": a.id, "user_id": v.id, "rating": 4, "comment": "耐心细致"})
    assert r.status_code == 201, r.text
    r = await client.post("/api/evaluations", headers=a.manager.headers,
                          json={"community_id": a.id, "user_id": v.id, "rating": 6})
    assert r.status_code == 422
    mine = (await client.get("/api/me/records", headers=v.headers)).json()
    assert [x["title"] for x in mine["commendations"]] == ["优秀志愿者"]
    assert [(x["rating"], x["comment"], x["evaluator_name"]) for x in mine["evaluations"]] == \
        [(4, "耐心细致", a.manager.name)]
    acts = await pool.fetch("select act from audit_log where target_type = 'user' and target_id = $1 "
                            "and act in ('commendation_add', 'evaluation_add') order by id", v.id)
    assert [x["act"] for x in acts] == ["commendation_add", "evaluation_add"]


async def test_a_restore_on_an_instance_with_data_only_reports_differences(client, world, pool):
    c = await world.community("差异社区")
    await world.member(c, "蒋涛")
    admin = await world.admin()
    r = await client.get(f"/api/orgs/{c.id}/records-export?format=xlsx", headers=c.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    before = await pool.fetchval("select count(*) from record_restores")
    r = await client.post("/api/records/restores", headers=c.manager.headers, files={"file": ("r.xlsx", r.content)})
    assert r.status_code == 403
    r = await client.post("/api/records/restores", headers=admin.headers,
                          files={"file": ("r.xlsx", (await client.get(f"/api/orgs/{c.id}/records-export",
                                                                      headers=c.manager.headers)).content)})
    assert r.status_code == 200 and r.json()["mode"] == "differences", r.text
    assert r.json()["differences"]["people"] == {"only_in_file": 0, "only_here": 0, "keys_only_in_file": []}
    assert await pool.fetchval("select count(*) from record_restores") == before
    r = await client.post("/api/records/restores", headers=admin.headers, files={"file": ("r.xlsx", b"not a workbook")})
    assert r.status_code == 415
    # A restore asked while the instance was empty, approved once data came: nothing written, closed.
    other = await world.person("另一位管理员", admin=True)
    pending = await pool.fetchval(
        """insert into record_restores (state, file_sha256, payload, summary, requested_by, created_at)
           values ('pending', repeat('0', 64), $2::text::jsonb, '{}', $1, now()) returning id""", other.id,
        '{"people": [{"volunteer_key": "LL1", "community": "差异社区"}], "service": [], "training": [], '
        '"commendations": [], "evaluations": []}')
    orgs_before = await pool.fetchval("select count(*) from orgs")
    r = await client.post(f"/api/records/restores/{pending}/approve", headers=other.headers)
    assert r.status_code == 403   # not the one who asked
    r = await client.post(f"/api/records/restores/{pending}/approve", headers=admin.headers)
    assert r.status_code == 200 and r.json()["mode"] == "differences" and r.json()["state"] == "refused", r.text
    assert r.json()["differences"]["people"]["keys_only_in_file"] == ["LL1"]
    assert await pool.fetchval("select count(*) from orgs") == orgs_before


# ---- the round trip --------------------------------------------------------------------------------

async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    return conn


async def _small_city(conn: asyncpg.Connection) -> int:
    """A district, a street, two communities; people with and without phones and national numbers;
    service, training, commendations and evaluations. Returns the district's id."""
    district = await conn.fetchval("insert into orgs (kind, name) values ('district', '和平区') returning id")
    street = await conn.fetchval("insert into orgs (kind, name, parent_id) values ('street', '幸福街道', $1) returning id",
                                 district)
    manager = await auth.create_user(conn, phone=new_phone(), password=None, name="主任")
    people = []
    for n, community_name in enumerate(("春风社区", "秋月社区")):
        community = await conn.fetchval(
            "insert into orgs (kind, name, parent_id) values ('community', $1, $2) returning id", community_name, street)
        activity = await conn.fetchval(
            """insert into activities (community_id, title, starts_at, ends_at, state, created_by, created_at,
                                       published_at, closed_at)
               values ($1, $2, $3, $4, 'closed', $5, $3, $3, $4) returning id""",
            community, f"{community_name}环境整治", T0 - timedelta(days=3), T0 - timedelta(days=3, hours=-3), manager)
        training = await conn.fetchval(
            "insert into trainings (community_id, title, topic, held_on, minutes, created_at) "
            "values ($1, '急救培训', '急救', $2, 120, now()) returning id", community, TODAY - timedelta(days=10))
        for i in range(3):
            phone = new_phone() if i < 2 else None
            user_id = await conn.fetchval("insert into users (phone, name) values ($1, $2) returning id",
                                          phone, f"志愿者{n}{i}")
            from domain import ledger
            await ledger.open_user_accounts(conn, user_id)
            await conn.execute("insert into org_members (org_id, user_id, role, created_at) values ($1, $2, 'volunteer', $3)",
                               community, user_id, T0 - timedelta(days=30 + i))
            if i == 0:
                await identity.set_identity(conn, user_id, id_number="11010519491231002X",
                                            volunteer_number=f"V{uuid.uuid4().hex[:10]}", consent_version=1)
            minutes = 60 * (i + 1) + n
            await conn.execute(
                """insert into attendances (activity_id, user_id, state, source, checked_in_at, checked_out_at, minutes,
                                            recorded_by, note, created_at)
                   values ($1, $2, 'done', 'manual', $3::timestamptz, $3::timestamptz + make_interval(mins => $4), $4, $5, '补录', $3::timestamptz)""",
                activity, user_id, T0 - timedelta(days=3), minutes, manager)
            await conn.execute("insert into training_attendance (training_id, user_id, created_at) values ($1, $2, now())",
                               training, user_id)
            if i != 2:
                await conn.execute("insert into commendations (community_id, user_id, title, awarded_on, note, created_at) "
                                   "values ($1, $2, '五星志愿者', $3, '=SUM(A1)', now())", community, user_id,
                                   TODAY - timedelta(days=2))
            await conn.execute("insert into evaluations (community_id, user_id, activity_id, activity_title, rating, "
                               "comment, evaluated_on, created_at) values ($1, $2, $3, $4, $5, '认真', $6, now())",
                               community, user_id, activity, f"{community_name}环境整治", 3 + i % 3,
                               TODAY - timedelta(days=1))
            people.append(user_id)
    return district


async def test_the_export_of_a_small_city_restores_into_an_empty_instance(fresh_conn, admin_url, setenv):
    setenv("LINLI_ID_KEY", base64.b64encode(os.urandom(32)).decode())
    district = await _small_city(fresh_conn)
    communities = await export.communities_of(fresh_conn, district)
    original = await export.gather(fresh_conn, communities, full_phones=True)
    data = export.to_xlsx(original)
    assert "11010519491231002X" not in _all_text(data)
    url = await _fresh_database(admin_url)
    empty = await _connect(url)
    try:
        first = Actor(await auth.create_user(empty, phone=new_phone(), password=None, name="甲", is_admin=True),
                      "甲", True, frozenset())
        second = Actor(await auth.create_user(empty, phone=new_phone(), password=None, name="乙", is_admin=True),
                       "乙", True, frozenset())
        asked = await restore.request(empty, first, data)
        assert asked.mode == "pending" and asked.summary == {g: len(rows) for g, rows in original.items()}
        with pytest.raises(Exception) as alone:
            await restore.approve(empty, first, asked.id)        # nobody restores alone
        assert alone.value.code == "forbidden"
        assert await empty.fetchval("select count(*) from orgs") == 0
        applied = await restore.approve(empty, second, asked.id)
        assert applied.state == "applied" and applied.differences is None
        district_b = await empty.fetchval("select id from orgs where kind = 'district' and name = '和平区'")
        restored = await export.gather(empty, await export.communities_of(empty, district_b), full_phones=True)
        # Nothing is lost: every row of every group, the same counts, hours, training and commendations.
        assert restored == original
        assert {g: len(rows) for g, rows in restored.items()} == {"people": 6, "service": 6, "training": 6,
                                                                 "commendations": 4, "evaluations": 6}
        assert sum(r["minutes"] for r in restored["service"]) == sum(r["minutes"] for r in original["service"])
        acts = await empty.fetch("select act, actor_id from audit_log order by id")
        assert [(a["act"], a["actor_id"]) for a in acts] == [("records_restore_request", first.id),
                                                             ("records_restore_apply", second.id)]
        # People came as invited residents: accounts without passwords, members of their community.
        assert await empty.fetchval("select count(*) from users where password_hash is null and not is_admin") == 6
        # Handing the same file in again, now that the instance holds it: only the differences, none.
        again = await restore.request(empty, first, data)
        assert again.mode == "differences" and all(
            again.differences[g]["only_in_file"] == 0 and again.differences[g]["only_here"] == 0
            for g in export.GROUPS)
        assert await empty.fetchval("select count(*) from record_restores") == 1
    finally:
        await empty.close()
        await drop_database(admin_url, url)


def _all_text(data: bytes) -> str:
    import openpyxl
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(c) for s in book.worksheets for row in s.iter_rows(values_only=True) for c in row)


def test_a_name_with_control_characters_still_exports():
    """Found by the fuzzing: openpyxl refuses control characters in a cell (a 500 before)."""
    groups = {g: [] for g in export.GROUPS}
    groups["people"] = [{"volunteer_key": "LL1", "name": "王\x01芳", "phone": "", "id_number": "", "birth_date": "",
                         "district": "区", "street": "街道", "community": "社区", "joined_on": "2024-01-01"}]
    assert "王芳" in _all_text(export.to_xlsx(groups))


def test_csv_cells_that_look_like_formulas_are_text():
    groups = {g: [] for g in export.GROUPS}
    groups["commendations"] = [{"volunteer_key": "V1", "community": "社区", "awarded_on": "2024-01-01",
                                "title": "=HYPERLINK(\"x\")", "note": "+1"}]
    text = export.to_csv(groups, "commendations").decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1" in text
    assert asyncio.iscoroutinefunction(restore.request)

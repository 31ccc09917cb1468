"""The audit trail (issue 12): one row per act, in the act's transaction; append-only; scoped reading."""

from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from domain import oversight
from domain.core import audit, clock
from domain.oversight import adjustments
from domain.people import orgs
from tests.conftest import new_phone


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    """Registering and logging in through the shared client leave cookies; later tests expect none."""
    yield
    client.cookies.clear()


async def last_id(pool) -> int:
    return await pool.fetchval("select coalesce(max(id), 0) from audit_log")


async def rows_since(pool, start: int) -> list[asyncpg.Record]:
    return await pool.fetch("select * from audit_log where id > $1 order by id", start)


async def one_row(pool, start: int, act: str) -> asyncpg.Record:
    rows = await rows_since(pool, start)
    assert [r["act"] for r in rows] == [act], [r["act"] for r in rows]
    return rows[0]


async def test_each_act_writes_exactly_one_row_with_actor_target_and_ip(client, pool, world):
    admin = await world.admin()
    h = admin.headers

    async def act(expected: str, method: str, path: str, body: dict | None = None, headers=None):
        start = await last_id(pool)
        r = await client.request(method, path, json=body, headers=headers or h)
        assert r.status_code in (200, 201, 204), r.text
        row = await one_row(pool, start, expected)
        assert row["ip"] == client.client_ip
        return r, row

    r, row = await act("org_create", "POST", "/api/orgs", {"kind": "district", "name": "审计区"})
    district = r.json()["id"]
    assert (row["actor_id"], row["target_type"], row["target_id"]) == (admin.id, "org", district)
    assert row["community_id"] is None and row["after"]["name"] == "审计区"
    street = (await act("org_create", "POST", "/api/orgs", {"kind": "street", "name": "审计街道",
                                                           "parent_id": district}))[0].json()["id"]
    r, row = await act("org_create", "POST", "/api/orgs", {"kind": "community", "name": "审计社区",
                                                          "parent_id": street})
    community = r.json()["id"]
    assert row["community_id"] == community
    grid = (await act("org_create", "POST", "/api/orgs", {"kind": "grid", "name": "一网格",
                                                         "parent_id": community}))[0].json()["id"]
    grid2 = (await act("org_create", "POST", "/api/orgs", {"kind": "grid", "name": "二网格",
                                                          "parent_id": community}))[0].json()["id"]

    manager = await world.person("审计管理员")
    # A manager is named by phone and holds the role once they accept (issue 31): two acts, two rows.
    r, row = await act("role_invite", "POST", f"/api/orgs/{community}/managers",
                       {"phone": manager.phone, "name": manager.name})
    assert (row["target_type"], row["target_id"], row["community_id"]) == ("role_invite", r.json()["id"], community)
    # Naming again changes nothing, so nothing is written.
    start = await last_id(pool)
    assert (await client.post(f"/api/orgs/{community}/managers", headers=h,
                              json={"phone": manager.phone, "name": manager.name})).status_code == 201
    assert await rows_since(pool, start) == []
    _, row = await act("role_invite_answer", "POST", f"/api/me/role-invites/{r.json()['id']}/accept", None,
                       manager.headers)
    assert (row["actor_id"], row["community_id"], row["after"]["state"]) == (manager.id, community, "accepted")

    m = manager.headers
    # Inviting by phone is asking (issue 30: the same answer for any phone); accepting is the person's act.
    rider = await world.person("快递小哥")
    r, row = await act("member_invite", "POST", f"/api/communities/{community}/invitations",
                       {"phone": rider.phone, "name": "快递小哥", "role": "courier", "grid_id": grid}, m)
    assert (row["actor_id"], row["target_type"], row["after"]) == (manager.id, "invitation",
                                                                   {"role": "courier", "org_id": grid})
    assert "phone" not in row["after"]  # audit rows never keep phone numbers
    _, row = await act("invitation_answer", "POST", f"/api/me/invitations/{row['target_id']}/accept", None,
                       rider.headers)
    assert (row["actor_id"], row["target_id"], row["after"]["joined"]) == (rider.id, rider.id, True)
    courier = rider.id
    volunteer = await world.person("志愿者甲")
    # An admin places a person who belongs nowhere yet (a manager may not: issue 16).
    await act("member_add", "POST", f"/api/orgs/{community}/members", {"user_id": volunteer.id, "role": "volunteer"}, h)
    _, row = await act("member_edit", "POST", f"/api/members/{courier}/grid", {"grid_id": grid2}, m)
    assert (row["before"], row["after"]) == ({"grid_id": grid}, {"grid_id": grid2})

    r, row = await act("adjustment", "POST", "/api/adjustments",
                       {"user_id": volunteer.id, "unit": "points", "amount": 30, "reason": "补录"}, m)
    transfer = r.json()["id"]
    # The row also keeps the limits in force when it was made (issue 30): `linli audit` judges by them.
    async with pool.acquire() as conn:
        in_force = await oversight.limits(conn, community)
    assert row["reason"] == "补录" and row["after"] == {
        "unit": "points", "amount": 30, "transfer_id": transfer,
        "threshold": in_force.threshold("points"), "daily_limit": in_force.daily("points")}
    _, row = await act("reversal", "POST", f"/api/transfers/{transfer}/reverse", {"reason": "录错了"}, m)
    assert (row["target_type"], row["target_id"]) == ("transfer", transfer)
    assert row["after"]["user_ids"] == [volunteer.id]

    _, row = await act("member_deactivate", "POST", f"/api/members/{volunteer.id}/deactivate", {"reason": "搬走了"}, m)
    assert row["reason"] == "搬走了" and row["after"] == {"active": False}
    await act("member_reactivate", "POST", f"/api/members/{volunteer.id}/reactivate", {"reason": "又搬回来了"}, m)
    r, _ = await act("team_create", "POST", "/api/teams", {"name": "机关支部", "community_id": community}, m)
    await act("team_member_add", "POST", f"/api/teams/{r.json()['id']}/members", {"user_id": volunteer.id}, m)

    _, row = await act("org_edit", "PATCH", f"/api/orgs/{community}", {"name": "审计新社区"})
    assert (row["before"], row["after"]) == ({"name": "审计社区"}, {"name": "审计新社区"})
    _, row = await act("role_revoke", "DELETE", f"/api/orgs/{community}/managers/{manager.id}")
    assert row["before"] == {"role": "manager", "org_id": community}


async def test_replayed_adjustment_is_audited_once(client, pool, world):
    c = await world.community()
    v = await world.member(c)
    start = await last_id(pool)
    body = {"user_id": v.id, "unit": "points", "amount": 5, "reason": "重复提交"}
    headers = {**c.manager.headers, "Idempotency-Key": "audit-replay-1"}
    first = await client.post("/api/adjustments", headers=headers, json=body)
    again = await client.post("/api/adjustments", headers=headers, json=body)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert [r["act"] for r in await rows_since(pool, start)] == ["adjustment"]
    # The domain's own key (below the HTTP replay cache) is audited once too.
    actor = await world.actor(c.manager)
    start = await last_id(pool)
    async with pool.acquire() as conn:
        for _ in range(2):
            async with conn.transaction():
                await adjustments.adjust(conn, actor, user_id=v.id, unit="points", amount=5, reason="r", key="k-audit")
    assert [r["act"] for r in await rows_since(pool, start)] == ["adjustment"]


async def test_a_failed_act_writes_no_row(client, pool, world):
    c = await world.community()
    v = await world.member(c)
    m = c.manager.headers
    start = await last_id(pool)
    # Refused by the ledger after the scope checks passed: more than the person has.
    r = await client.post("/api/adjustments", headers=m, json={"user_id": v.id, "unit": "points", "amount": -10,
                                                              "reason": "扣分"})
    assert r.status_code == 409 and r.json()["error"] == "insufficient_balance"
    r = await client.post("/api/adjustments", headers=m, json={"user_id": v.id, "unit": "points", "amount": 10,
                                                              "reason": "  "})
    assert r.status_code == 422
    transfer = (await client.post("/api/adjustments", headers=m, json={"user_id": v.id, "unit": "points",
                                                                      "amount": 10, "reason": "奖励"})).json()["id"]
    assert (await client.post(f"/api/transfers/{transfer}/reverse", headers=m, json={"reason": "错"})).status_code == 201
    start = await last_id(pool)
    r = await client.post(f"/api/transfers/{transfer}/reverse", headers=m, json={"reason": "再冲一次"})
    assert r.status_code == 409
    r = await client.post(f"/api/members/{v.id}/reactivate", headers=m, json={"reason": "没停用"})
    assert r.status_code == 409
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=m,
                          json={"phone": new_phone(), "name": "某人", "role": "courier", "grid_id": 10**12})
    assert r.status_code == 422
    assert await rows_since(pool, start) == []


async def test_the_row_lives_and_dies_with_the_act_transaction(pool, world):
    c = await world.community()
    v = await world.member(c)
    actor = await world.actor(c.manager)
    start = await last_id(pool)
    transfers = await pool.fetchval("select count(*) from transfers")
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await adjustments.adjust(conn, actor, user_id=v.id, unit="points", amount=7, reason="稍后失败")
                assert len(await conn.fetch("select 1 from audit_log where id > $1", start)) == 1
                raise RuntimeError("the rest of the act failed")
        # Outside any transaction, record refuses to write a row that could outlive a failed act.
        with pytest.raises(RuntimeError):
            await audit.record(conn, actor, "member_edit", community_id=c.id, target=("user", v.id))
        with pytest.raises(ValueError):
            async with conn.transaction():
                await audit.record(conn, actor, "made_up_act", community_id=c.id, target=("user", v.id))
    assert await rows_since(pool, start) == []
    assert await pool.fetchval("select count(*) from transfers") == transfers


async def test_the_database_refuses_to_change_or_remove_audit_rows(pool, world):
    c = await world.community()
    row_id = await pool.fetchval("select max(id) from audit_log where community_id = $1", c.id)
    async with pool.acquire() as conn:
        for sql in ("update audit_log set reason = 'rewritten' where id = $1",
                    "delete from audit_log where id = $1"):
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
                await conn.execute(sql, row_id)
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute("truncate audit_log")
        with pytest.raises(asyncpg.ForeignKeyViolationError):  # not one of the acts in audit_acts
            await conn.execute("insert into audit_log (act, target_type, created_at) values ('anything', 'x', now())")
        # The second line: the migration took UPDATE/DELETE/TRUNCATE away from its own role (the owner).
        granted = {r["privilege_type"] for r in await conn.fetch(
            "select a.privilege_type from pg_class c, aclexplode(c.relacl) a "
            "where c.oid = 'audit_log'::regclass and a.grantee = c.relowner")}
        assert {"INSERT", "SELECT"} <= granted and not granted & {"UPDATE", "DELETE", "TRUNCATE"}
    assert await pool.fetchval("select reason from audit_log where id = $1", row_id) is None


async def test_managers_read_their_communities_admins_read_all(client, world):
    a = await world.community("审计A社区")
    b = await world.community("审计B社区")
    va = await world.member(a)
    vb = await world.member(b)
    for c, v in ((a, va), (b, vb)):
        r = await client.post("/api/adjustments", headers=c.manager.headers,
                              json={"user_id": v.id, "unit": "points", "amount": 3, "reason": "测试"})
        assert r.status_code == 201
    mine = (await client.get("/api/audit", headers=a.manager.headers)).json()["items"]
    assert mine and {e["community_id"] for e in mine} == {a.id}
    adjustment = next(e for e in mine if e["act"] == "adjustment")
    assert adjustment["actor_name"] == a.manager.name and adjustment["target_name"] == va.name
    assert adjustment["community_name"] == "审计A社区"
    assert (await client.get(f"/api/audit?community_id={b.id}", headers=a.manager.headers)).status_code == 403
    assert (await client.get("/api/audit", headers=va.headers)).status_code == 403
    client.cookies.clear()  # a session cookie another test's registration left on the shared client
    assert (await client.get("/api/audit")).status_code == 401

    admin = (await world.admin()).headers
    by_actor = (await client.get(f"/api/audit?actor_id={b.manager.id}", headers=admin)).json()["items"]
    assert [e["act"] for e in by_actor] == ["adjustment"] and by_actor[0]["community_id"] == b.id
    about = (await client.get(f"/api/audit?target_type=user&target_id={va.id}", headers=admin)).json()["items"]
    assert [e["act"] for e in about] == ["adjustment", "member_add"]
    page = (await client.get(f"/api/audit?community_id={a.id}&limit=1", headers=admin)).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (await client.get(f"/api/audit?community_id={a.id}&limit=100&cursor={page['next_cursor']}",
                             headers=admin)).json()["items"]
    assert page["items"][0]["id"] not in [e["id"] for e in rest] and rest
    r = await client.get("/api/audit?from=yesterday", headers=admin)
    assert r.status_code == 422 and r.json()["details"]["field"] == "from"


async def test_date_filter_uses_local_days(client, world):
    c = await world.community("日期社区")
    v = await world.member(c)
    m = c.manager.headers
    # 23:30 in Shanghai on 1 Oct is still 1 Oct locally, though 15:30 UTC.
    clock.freeze(datetime(2026, 10, 1, 15, 30, tzinfo=timezone.utc))
    await client.post("/api/adjustments", headers=m, json={"user_id": v.id, "unit": "points", "amount": 1, "reason": "a"})
    clock.advance(timedelta(hours=1))  # 00:30 on 2 Oct locally
    await client.post("/api/adjustments", headers=m, json={"user_id": v.id, "unit": "points", "amount": 2, "reason": "b"})
    base = f"/api/audit?community_id={c.id}&act=adjustment"
    day1 = (await client.get(f"{base}&from=2026-10-01&to=2026-10-01", headers=m)).json()["items"]
    day2 = (await client.get(f"{base}&from=2026-10-02", headers=m)).json()["items"]
    assert [e["reason"] for e in day1] == ["a"] and [e["reason"] for e in day2] == ["b"]
    exact = (await client.get(f"{base}&from=2026-10-01T16:00:00Z", headers=m)).json()["items"]
    assert [e["reason"] for e in exact] == ["b"]


async def test_org_functions_audit_inside_their_own_transaction(pool, world):
    """Called on a bare connection (as the demo seed and fixtures do), each act still commits with its row."""
    admin = await world.actor(await world.admin())
    start = await last_id(pool)
    async with pool.acquire() as conn:
        district = await orgs.create_org(conn, admin, kind="district", name="裸连接区", parent_id=None)
    row = await one_row(pool, start, "org_create")
    assert row["target_id"] == district.id and row["ip"] is None

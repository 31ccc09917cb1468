"""A person's own data (issue 12): export everything; close the account without breaking the ledger."""

import json
from datetime import timedelta

import pytest

from domain.core import clock, codes
from domain.people import auth, privacy
from domain.recognition import rulebook
from tests.conftest import freeze_at_window_start, new_phone, register


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    """Registering and logging in through the shared client leave cookies; later tests expect none."""
    yield
    client.cookies.clear()


async def registered(client, name: str) -> tuple[int, str, dict]:
    phone = new_phone()
    r = await register(client, phone, "my-own-pass-1", name)
    assert r.status_code == 201
    return r.json()["user_id"], phone, {"Authorization": f"Bearer {r.json()['token']}"}


async def test_export_returns_all_of_a_persons_data(client, pool, world):
    c = await world.community("导出社区")
    user_id, phone, me = await registered(client, "钱多多")
    m = c.manager.headers
    # An admin places the registered person (a manager picks nobody from outside: issue 16).
    await client.post(f"/api/orgs/{c.id}/members", headers=(await world.admin()).headers,
                      json={"user_id": user_id, "role": "volunteer"})
    team = (await client.post("/api/teams", headers=m, json={"name": "楼道小组", "community_id": c.id})).json()
    await client.post(f"/api/teams/{team['id']}/members", headers=m, json={"user_id": user_id})
    for unit, amount in (("points", 25), ("minutes", 90), ("points", -5)):
        r = await client.post("/api/adjustments", headers=m,
                              json={"user_id": user_id, "unit": unit, "amount": amount, "reason": f"调整{unit}"})
        assert r.status_code == 201
    await client.post("/api/scans", headers=me, json={"code": "nosuchcode00000"})  # a refused scan is kept
    # A table another capability might add, naming the person as its subject (with a photo column).
    await pool.execute("create table if not exists export_probe (id bigint generated always as identity primary key, "
                       "user_id bigint references users (id), decided_by bigint references users (id), "
                       "note text, photo bytea)")
    await pool.execute("insert into export_probe (user_id, note, photo) values ($1, '我的记录', '\\x0102'::bytea)", user_id)
    await pool.execute("insert into export_probe (user_id, decided_by, note) values ($1, $2, '别人的记录')",
                       c.manager.id, user_id)

    r = await client.get("/api/me/export", headers=me)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["profile"]["id"] == user_id and data["profile"]["phone"] == phone
    assert data["profile"]["name"] == "钱多多" and "password_hash" not in data["profile"]
    assert [(x["org_id"], x["role"]) for x in data["memberships"]] == [(c.id, "volunteer")]
    assert [x["name"] for x in data["teams"]] == ["楼道小组"]
    assert data["balances"]["points"]["balance"] == 20 and data["balances"]["minutes"]["balance"] == 90
    assert [x["amount"] for x in data["statements"]["points"]] == [-5, 25]
    assert [x["amount"] for x in data["statements"]["minutes"]] == [90]
    assert data["statements"]["points"][0]["reason"] == "调整points"
    assert [x["reason"] for x in data["failed_scans"]] == ["code_unknown"]
    assert len(data["sessions"]) == 1 and "token_hash" not in data["sessions"][0]
    assert [x["act"] for x in data["audit_about_me"]] == ["member_add", "team_member_add", "adjustment",
                                                          "adjustment", "adjustment"]
    probe = data["records"]["export_probe"]
    assert [x["note"] for x in probe] == ["我的记录"]  # not the row they only decided on
    assert probe[0]["photo"] == 2  # binaries by size, not content
    # Tables of installed capabilities are part of it whenever they name the person.
    installed = {r["t"] for r in await pool.fetch(
        "select t from unnest(array['redemptions', 'service_requests', 'reports', 'family_links']) t "
        "where to_regclass(t) is not null")}
    async with pool.acquire() as conn:
        assert installed <= set(await privacy.subject_tables(conn))
    if "reports" in installed:  # a real capability's table, read the same way
        await pool.execute("insert into reports (courier_id, grid_id, community_id, kind, text, created_at) "
                           "values ($1, $2, $3, 'service', '帮邻居搬米', now())", user_id, c.grid_id, c.id)
        data = (await client.get("/api/me/export", headers=me)).json()
        assert [x["text"] for x in data["records"]["reports"]] == ["帮邻居搬米"]
    client.cookies.clear()  # registering left a session cookie on the shared client
    assert (await client.get("/api/me/export")).status_code == 401
    await pool.execute("drop table export_probe")


async def test_closing_keeps_the_ledger_and_removes_phone_and_name_everywhere(client, pool, world):
    c = await world.community("注销社区")
    user_id, phone, me = await registered(client, "孙悟空")
    m = c.manager.headers
    admin = (await world.admin()).headers
    await client.post(f"/api/orgs/{c.id}/members", headers=admin, json={"user_id": user_id, "role": "volunteer"})
    adjustment = (await client.post("/api/adjustments", headers=m, json={"user_id": user_id, "unit": "points",
                                                                         "amount": 50, "reason": "奖励"})).json()
    await client.post(f"/api/transfers/{adjustment['id']}/reverse", headers=m, json={"reason": "重复"})
    await client.post("/api/adjustments", headers=m, json={"user_id": user_id, "unit": "minutes", "amount": 30,
                                                           "reason": "服务"})
    async with pool.acquire() as conn:
        card = await codes.member_card(conn, user_id)
    transfers = await pool.fetchval("select count(*) from transfers")
    entries = await pool.fetchval("select count(*) from entries")
    before = (await client.get("/api/me/balances", headers=me)).json()

    r = await client.post("/api/me/close", headers=me, json={"password": "wrong-password"})
    assert r.status_code == 401 and r.json()["details"]["field"] == "password"
    r = await client.post("/api/me/close", headers=me, json={"password": "my-own-pass-1"})
    assert r.status_code == 204

    # Access ends: the session, the password and the member card.
    assert (await client.get("/api/me", headers=me)).status_code == 401
    assert (await client.post("/api/auth/login", json={"phone": phone, "password": "my-own-pass-1"})).status_code == 401
    async with pool.acquire() as conn:
        assert (await codes.find(conn, card.code)).revoked_at is not None
    # The ledger is untouched and still balances.
    assert await pool.fetchval("select count(*) from transfers") == transfers
    assert await pool.fetchval("select count(*) from entries") == entries
    assert await world.ledger_problems() == {}
    async with pool.acquire() as conn:
        from domain import ledger
        after = await ledger.balances(conn, user_id)
    assert after["points"].balance == before["points"]["balance"] and after["minutes"].balance == 30

    # Neither the phone nor the name appears in any response or export about them.
    responses = [
        await client.get(f"/api/communities/{c.id}/members", headers=m),
        await client.get(f"/api/communities/{c.id}/members.csv", headers=m),
        await client.get(f"/api/members/{user_id}", headers=m),
        await client.get(f"/api/users/{user_id}/statement?unit=points", headers=m),
        await client.get(f"/api/audit?community_id={c.id}", headers=m),
        await client.get("/api/audit", headers=admin),
        await client.post("/api/people/search", headers=admin, json={"q": phone}),
        await client.post("/api/people/search", headers=admin, json={"q": "孙悟空"}),
        await client.get("/api/console/tree", headers=admin),
    ]
    for r in responses:
        assert r.status_code == 200, (r.request.url, r.text)
        assert phone not in r.text and masked_tail(phone) not in r.text and "孙悟空" not in r.text, r.request.url
    listed = [x for x in responses[0].json()["items"] if x["id"] == user_id][0]
    assert listed["name"] == "已注销用户" and listed["phone"] is None and listed["closed"] is True
    async with pool.acquire() as conn:
        exported = json.dumps(await privacy.export(conn, user_id, rules_of=rulebook.rules_of), ensure_ascii=False)
    assert phone not in exported and "孙悟空" not in exported and "已注销用户" in exported
    closed_row = await pool.fetchrow("select phone, name, password_hash, active, closed_at from users where id = $1",
                                     user_id)
    assert (closed_row["phone"], closed_row["password_hash"], closed_row["active"]) == (None, None, False)
    assert closed_row["closed_at"] is not None
    assert await pool.fetchval("select count(*) from audit_log where act = 'account_close' and target_id = $1",
                               user_id) == 1
    # The number is free again: registering with it makes a new, empty account.
    r = await register(client, phone, "fresh-pass-12", "新人")
    assert r.status_code == 201 and r.json()["user_id"] != user_id
    fresh = (await client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"})).json()
    assert fresh["balances"]["points"]["balance"] == 0 and fresh["memberships"] == []


def masked_tail(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


async def test_managers_and_admins_hand_over_before_closing(client, world, pool):
    c = await world.community("交接社区")
    async with pool.acquire() as conn:
        await conn.execute("update users set password_hash = $2 where id = $1", c.manager.id,
                           auth.hash_password("manager-pass-1"))
    r = await client.post("/api/me/close", headers=c.manager.headers, json={"password": "manager-pass-1"})
    assert r.status_code == 409 and r.json()["error"] == "invalid_state"
    assert (await client.get("/api/me", headers=c.manager.headers)).status_code == 200


async def test_wrong_passwords_on_close_are_throttled(client):
    """Five wrong passwords in 15 minutes, then closing waits for the next window."""
    _, _, me = await registered(client, "试密码")
    freeze_at_window_start(15 * 60)
    codes_seen = [(await client.post("/api/me/close", headers=me, json={"password": f"guess-{i}"})).status_code
                  for i in range(6)]
    assert codes_seen == [401] * 5 + [429]
    # Even the right password waits now; the account is still open.
    r = await client.post("/api/me/close", headers=me, json={"password": "my-own-pass-1"})
    assert r.status_code == 429
    assert (await client.get("/api/me", headers=me)).status_code == 200
    clock.advance(timedelta(minutes=15))
    assert (await client.post("/api/me/close", headers=me, json={"password": "my-own-pass-1"})).status_code == 204
    assert (await client.get("/api/me", headers=me)).status_code == 401

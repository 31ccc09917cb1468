"""The ledger over HTTP (issue 4 acceptance 5): manager adjustments with a reason and inside their
communities only, statements with actor, reason and balance after each posting, cursor pages,
reversals once, balances."""

import pytest

from domain import ledger
from tests.ledger.ledger_support import accounts_of
from tests.conftest import appoint
from tests.snapshot import unchanged

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def adjust(client, manager, user_id, amount, reason="补录：敬老院陪护活动", **extra):
    return await client.post("/api/adjustments", headers=manager.headers,
                             json={"user_id": user_id, "unit": "points", "amount": amount, "reason": reason, **extra})


async def test_adjustment_needs_a_reason(client, world, pool):
    a = await world.community()
    m = await world.member(a)
    async with unchanged(pool, people=[m.id, a.manager.id], communities=[a.id]):
        r = await client.post("/api/adjustments", headers=a.manager.headers,
                              json={"user_id": m.id, "unit": "points", "amount": 5})
        assert r.status_code == 422 and r.json()["error"] == "validation_failed"
        assert r.json()["details"]["field"] == "reason"
        for blank in ("", "   \n "):
            r = await adjust(client, a.manager, m.id, 5, reason=blank)
            assert r.status_code == 422 and r.json()["details"]["field"] == "reason"
        r = await adjust(client, a.manager, m.id, 5, reason="x" * 501)
        assert r.status_code == 422
    assert (await client.get("/api/me/balances", headers=m.headers)).json()["points"]["balance"] == 0


async def test_adjustment_input_is_validated(client, world, pool):
    a = await world.community()
    m = await world.member(a)
    async with unchanged(pool, people=[m.id, a.manager.id], communities=[a.id]):
        r = await client.post("/api/adjustments", headers=a.manager.headers,
                              json={"user_id": m.id, "unit": "bananas", "amount": 5, "reason": "x"})
        assert r.status_code == 422 and r.json()["details"]["field"] == "unit"
        r = await adjust(client, a.manager, m.id, 0)
        assert r.status_code == 422 and r.json()["details"]["field"] == "amount"
        r = await adjust(client, a.manager, m.id, -1)  # more than the member has
        assert r.status_code == 409 and r.json()["error"] == "insufficient_balance"
        r = await client.post("/api/adjustments", json={"user_id": m.id, "unit": "points", "amount": 5,
                                                        "reason": "x"})
        assert r.status_code == 401


async def test_adjustment_shows_in_the_members_statement(client, world):
    a = await world.community()
    m = await world.member(a, "王秀英")
    r = await adjust(client, a.manager, m.id, 50)
    assert r.status_code == 201
    credit = r.json()
    assert (credit["kind"], credit["amount"], credit["actor_id"], credit["reason"]) == (
        "adjustment", 50, a.manager.id, "补录：敬老院陪护活动")
    r = await adjust(client, a.manager, m.id, -20, reason="重复登记，扣回")
    assert r.status_code == 201

    page = (await client.get("/api/me/statement", headers=m.headers)).json()
    assert page["next_cursor"] is None and page["held"] == 0
    newest, oldest = page["items"]
    assert (newest["amount"], newest["balance_after"], newest["reason"]) == (-20, 30, "重复登记，扣回")
    assert (oldest["amount"], oldest["balance_after"], oldest["transfer_id"]) == (50, 50, credit["id"])
    for line in page["items"]:
        assert line["kind"] == "adjustment" and line["state"] == "posted"
        assert line["actor"] == {"id": a.manager.id, "name": a.manager.name}
        assert line["cause"]["type"] == "adjustment"
    assert (await client.get("/api/me/balances", headers=m.headers)).json()["points"] == {
        "balance": 30, "held": 0, "available": 30}
    # the manager reads the same statement
    r = await client.get(f"/api/users/{m.id}/statement", headers=a.manager.headers)
    assert r.status_code == 200 and r.json()["items"] == page["items"]
    assert (await client.get("/api/me/statement?unit=minutes", headers=m.headers)).json()["items"] == []


async def test_statement_pages_with_a_cursor(client, world, pool):
    a = await world.community()
    m = await world.member(a)
    for i in range(1, 26):
        assert (await adjust(client, a.manager, m.id, i, reason=f"第{i}次")).status_code == 201
    seen, cursor = [], None
    while True:
        url = "/api/me/statement?limit=10" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=m.headers)).json()
        seen.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in seen] == [10, 10, 5]
    lines = [line for p in seen for line in p]
    assert [line["amount"] for line in lines] == list(range(25, 0, -1))
    assert [line["reason"] for line in lines][:2] == ["第25次", "第24次"]
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 25
    assert lines[0]["balance_after"] == sum(range(1, 26))
    for newer, older in zip(lines, lines[1:]):  # balance after each posting chains through the pages
        assert newer["balance_after"] - newer["amount"] == older["balance_after"]
    assert lines[-1]["balance_after"] == 1
    for bad in ("limit=0", "limit=101", "cursor=abc", "unit=bananas"):
        r = await client.get(f"/api/me/statement?{bad}", headers=m.headers)
        assert r.status_code == 422, bad


async def test_manager_of_a_cannot_adjust_or_read_a_member_of_b(client, world, pool):
    a = await world.community("A社区")
    b = await world.community("B社区")
    only_b = await world.member(b, "只在B")
    # A person outside the manager's communities answers as an unknown id (issue 16).
    mine = {"people": [only_b.id, a.manager.id, b.manager.id], "communities": [a.id, b.id]}
    async with unchanged(pool, **mine):
        r = await adjust(client, a.manager, only_b.id, 10)
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = await adjust(client, a.manager, only_b.id, 10, community_id=a.id)
        assert r.status_code == 404
        r = await adjust(client, a.manager, only_b.id, 10, community_id=b.id)
        assert r.status_code == 403  # not a manager of B
    assert (await client.get(f"/api/users/{only_b.id}/statement", headers=a.manager.headers)).status_code == 404
    assert (await client.get("/api/me/balances", headers=only_b.headers)).json()["points"]["balance"] == 0
    only_b_accounts = await accounts_of(pool, b.id, only_b.id)
    assert await pool.fetchval("select count(*) from transfers where $1 in (debit_account, credit_account)",
                               only_b_accounts.user) == 0  # the refusals moved nothing
    # a member of both may be adjusted by A's manager, from A's issuing account
    both = await world.member(b, "两边都在")
    admin = await world.admin()
    r = await client.post(f"/api/orgs/{a.id}/members", headers=admin.headers,
                          json={"user_id": both.id, "role": "volunteer"})
    assert r.status_code == 201
    r = await adjust(client, a.manager, both.id, 10)
    assert r.status_code == 201
    in_a, in_b = await accounts_of(pool, a.id, both.id), await accounts_of(pool, b.id, both.id)
    credit = r.json()
    assert (credit["debit_account"], credit["credit_account"], credit["amount"], credit["actor_id"]) == (
        in_a.issuing, in_a.user, 10, a.manager.id)
    assert await pool.fetchval("select count(*) from entries where account_id = $1", in_b.issuing) == 0
    assert (await client.get("/api/me/balances", headers=both.headers)).json()["points"] == {
        "balance": 10, "held": 0, "available": 10}
    statement = await client.get(f"/api/users/{both.id}/statement", headers=a.manager.headers)
    assert statement.status_code == 200
    assert [(line["amount"], line["balance_after"], line["transfer_id"]) for line in statement.json()["items"]] == [
        (10, 10, credit["id"])]
    assert await world.ledger_problems() == {}
    # a plain member is no manager at all
    async with unchanged(pool, people=[only_b.id, both.id], communities=[a.id, b.id]):
        assert (await adjust(client, both, only_b.id, 10)).status_code == 404
    assert (await client.get(f"/api/users/{only_b.id}/statement", headers=both.headers)).status_code == 404


async def test_adjustment_comes_from_a_community_the_member_belongs_to(client, world, pool):
    a = await world.community("A社区")
    b = await world.community("B社区")
    admin = await world.admin()
    r = await appoint(client, admin, b.id, a.manager)
    assert r.status_code == 200  # A's manager now manages B too
    only_b = await world.member(b, "只在B")
    async with unchanged(pool, people=[only_b.id, a.manager.id], communities=[a.id, b.id]):
        r = await adjust(client, a.manager, only_b.id, 10, community_id=a.id)
        assert r.status_code == 422 and r.json()["details"]["field"] == "community_id"
    r = await adjust(client, a.manager, only_b.id, 10)
    assert r.status_code == 201
    acc_b = await accounts_of(pool, b.id, only_b.id)
    assert r.json()["debit_account"] == acc_b.issuing


async def test_reversal_over_http_works_once(client, world, pool):
    a = await world.community()
    b = await world.community("B社区")
    m = await world.member(a)
    t = (await adjust(client, a.manager, m.id, 40)).json()
    mine = {"people": [m.id, a.manager.id, b.manager.id], "communities": [a.id, b.id]}
    async with unchanged(pool, **mine):
        r = await client.post(f"/api/transfers/{t['id']}/reverse", headers=a.manager.headers, json={})
        assert r.status_code == 422 and r.json()["details"]["field"] == "reason"
        r = await client.post(f"/api/transfers/{t['id']}/reverse", headers=b.manager.headers, json={"reason": "错"})
        assert r.status_code == 403
    r = await client.post(f"/api/transfers/{t['id']}/reverse", headers=a.manager.headers,
                          json={"reason": "调整对象弄错了"})
    assert r.status_code == 201
    reversal = r.json()
    assert (reversal["kind"], reversal["reverses"], reversal["amount"], reversal["actor_id"]) == (
        "reversal", t["id"], 40, a.manager.id)
    async with unchanged(pool, **mine):
        r = await client.post(f"/api/transfers/{t['id']}/reverse", headers=a.manager.headers,
                              json={"reason": "再来"})
        assert r.status_code == 409 and r.json()["error"] == "invalid_state"
        r = await client.post(f"/api/transfers/{reversal['id']}/reverse", headers=a.manager.headers,
                              json={"reason": "撤销撤销"})
        assert r.status_code == 409 and r.json()["error"] == "invalid_state"
        assert (await client.post("/api/transfers/999999999/reverse", headers=a.manager.headers,
                                  json={"reason": "x"})).status_code == 404

    lines = (await client.get("/api/me/statement", headers=m.headers)).json()["items"]
    assert [(line["kind"], line["amount"], line["balance_after"]) for line in lines] == [
        ("reversal", -40, 0), ("adjustment", 40, 40)]
    assert lines[1]["reversed_by"] == reversal["id"] and lines[0]["reversed_by"] is None
    assert lines[0]["reason"] == "调整对象弄错了" and lines[0]["actor"]["id"] == a.manager.id
    assert await world.ledger_problems() == {}


async def test_reversal_replayed_with_its_idempotency_key(client, world, pool):
    a = await world.community()
    m = await world.member(a)
    t = (await adjust(client, a.manager, m.id, 40)).json()
    h = {**a.manager.headers, "Idempotency-Key": "reverse-once"}
    first = await client.post(f"/api/transfers/{t['id']}/reverse", headers=h, json={"reason": "错"})
    again = await client.post(f"/api/transfers/{t['id']}/reverse", headers=h, json={"reason": "错"})
    assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
    async with unchanged(pool, people=[m.id, a.manager.id], communities=[a.id]):
        other = await client.post(f"/api/transfers/{t['id']}/reverse", headers=h, json={"reason": "别的"})
        assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"


async def test_balances(client, world, pool):
    a = await world.community()
    m = await world.member(a)
    await world.fund(m, a, "points", 100)
    await world.fund(m, a, "minutes", 90)
    acc = await accounts_of(pool, a.id, m.id)
    async with pool.acquire() as conn, conn.transaction():
        await ledger.hold(conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=35, kind="redemption")
    r = await client.get("/api/me/balances", headers=m.headers)
    assert r.status_code == 200
    assert r.json() == {"points": {"balance": 100, "held": 35, "available": 65},
                        "minutes": {"balance": 90, "held": 0, "available": 90},
                        "by_community": {
                            "points": [{"community_id": a.id, "community_name": "测试社区", "balance": 100,
                                        "held": 35, "available": 65}],
                            "minutes": [{"community_id": a.id, "community_name": "测试社区", "balance": 90,
                                         "held": 0, "available": 90}]}}
    assert (await client.get("/api/me/statement", headers=m.headers)).json()["held"] == 35
    assert (await client.get("/api/me/balances")).status_code == 401

"""One truthful account (issue 19): hours mean the same on the certificate, the time bank page, the
star levels and the statement, and 总额 / 冻结中 / 可用 are the same numbers everywhere (the console's
member list included)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import checkin
from domain.core import clock

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

NOW = datetime(2026, 11, 12, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


async def ok(client, person, method, path, body=None):
    r = await client.request(method, path, json=body, headers=person.headers)
    assert 200 <= r.status_code < 300, (path, r.text)
    return r.json()


async def test_a_seeded_persons_numbers_agree_on_every_page(client, world, pool):
    clock.freeze(NOW)
    c = await world.community("和平社区")
    person, neighbour, relative = (await world.member(c, "林静"), await world.member(c, "邻居"),
                                   await world.member(c, "林静的母亲"))
    # 90 minutes at an activity (check-in, check-out an hour and a half later)
    activity = await ok(client, c.manager, "POST", "/api/activities", {
        "community_id": c.id, "title": "社区义诊帮手", "starts_at": (NOW - timedelta(minutes=5)).isoformat(),
        "ends_at": (NOW + timedelta(hours=4)).isoformat(), "points": 10})
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/publish")
    async with pool.acquire() as conn, conn.transaction():
        await checkin.record_scan(conn, activity["id"], person.id, kind="poster", source="self")
    clock.freeze(NOW + timedelta(minutes=90))
    async with pool.acquire() as conn, conn.transaction():
        await checkin.record_scan(conn, activity["id"], person.id, kind="poster", source="self",
                                   context=checkin.ScanContext(intent="check_out"))  # the confirmed second scan
    # 45 minutes serving a neighbour
    await world.fund(neighbour, c, "minutes", 100)
    request = await ok(client, neighbour, "POST", "/api/timebank/requests",
                       {"title": "修水龙头", "minutes_estimate": 60})
    await ok(client, person, "POST", f"/api/timebank/requests/{request['id']}/accept")
    await ok(client, person, "POST", f"/api/timebank/requests/{request['id']}/complete")
    await ok(client, neighbour, "POST", f"/api/timebank/requests/{request['id']}/confirm", {"minutes": 45})
    # +30 by a manager's adjustment; 20 received as a gift (not hours)
    await ok(client, c.manager, "POST", "/api/adjustments",
             {"user_id": person.id, "unit": "minutes", "amount": 30, "reason": "纸质记录补录"})
    await world.fund(relative, c, "minutes", 20)
    await ok(client, relative, "POST", "/api/family-links", {"phone": person.phone})
    [link] = (await ok(client, person, "GET", "/api/family-links"))["items"]   # asked of me
    await ok(client, person, "POST", f"/api/family-links/{link['id']}/approve")
    await ok(client, relative, "POST", "/api/gifts", {"to_user_id": person.id, "minutes": 20})
    # 50 of them held: the person asks a neighbour for help, who accepts
    mine = await ok(client, person, "POST", "/api/timebank/requests", {"title": "搬家具", "minutes_estimate": 50})
    await ok(client, neighbour, "POST", f"/api/timebank/requests/{mine['id']}/accept")

    hours = 90 + 45 + 30                       # activities + services + adjustments
    total, held = 90 + 45 + 30 + 20, 50        # the wallet: hours and the gift; the hold
    me = await ok(client, person, "GET", "/api/timebank/me")
    certificate = await ok(client, person, "GET", "/api/timebank/certificate")
    assert me["hours"] == certificate["hours"] == {
        "total_minutes": hours, "activity_minutes": 90, "service_minutes": 45, "adjustment_minutes": 30,
        "gift_minutes": 20}
    assert me["stars"]["earned_minutes"] == certificate["stars"]["earned_minutes"] == hours
    assert [a["minutes"] for a in certificate["activities"]] == [90]
    assert [s["minutes"] for s in certificate["services"]] == [45]

    wallet = {"balance": total, "held": held, "available": total - held}
    assert me["balance"] == wallet
    assert (await ok(client, person, "GET", "/api/me/balances"))["minutes"] == wallet
    statement = await ok(client, person, "GET", "/api/me/statement?unit=minutes")
    assert statement["balance"] == wallet and statement["held"] == held
    members = await ok(client, c.manager, "GET", f"/api/communities/{c.id}/members")
    [row] = [m for m in members["items"] if m["id"] == person.id]
    assert row["minutes"] == wallet["available"]

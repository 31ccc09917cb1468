"""Time bank requests nobody can pay (issue 33, finding 4): a volunteer is never shown an open request
whose requester (or pool) cannot pay its estimate, and is told "求助人时间不足" rather than about their
own balance; a completed service left unconfirmed is confirmed at its estimate after the notice period,
releasing the hold into the payment."""

from datetime import timedelta

from domain import timebank
from domain.core import clock
from tests.timebank.test_timebank import call, minutes, new_request, ok, served, setup


def test_a_request_is_affordable_when_its_payer_has_the_estimate():
    from domain.timebank import rules
    assert rules.affordable("open", 60, 60) and not rules.affordable("open", 60, 3)
    assert rules.affordable("accepted", 60, 0)  # paid from its hold


async def hall(client, person) -> list[int]:
    return [r["id"] for r in (await ok(client, person, "GET", "/api/timebank/requests?state=open"))["items"]]


async def test_volunteers_never_see_a_request_its_requester_cannot_pay(client, world, pool):
    community, newcomer, volunteer = await setup(world, amount=3)
    short = await new_request(client, newcomer, 60)
    assert short["affordable"] is False
    small = await new_request(client, newcomer, 3)  # the smaller request the page offers
    assert small["affordable"] is True
    assert short["id"] not in await hall(client, volunteer) and small["id"] in await hall(client, volunteer)
    assert short["id"] in await hall(client, newcomer)          # its requester sees it, marked
    assert short["id"] in await hall(client, community.manager)  # so do the managers (the pool may help)

    before = (await minutes(client, newcomer), await minutes(client, volunteer))
    r = await call(client, volunteer, "POST", f"/api/timebank/requests/{short['id']}/accept")
    assert r.status_code == 409 and r.json()["error"] == "payer_short" and r.json()["message"] == "求助人时间不足"
    assert (await minutes(client, newcomer), await minutes(client, volunteer)) == before
    detail = await ok(client, newcomer, "GET", f"/api/timebank/requests/{short['id']}")
    assert detail["request"]["state"] == "open" and detail["request"]["volunteer"] is None


async def test_a_service_left_unconfirmed_is_confirmed_at_its_estimate_after_the_notice(client, world, pool):
    clock.freeze(clock.now())
    community, requester, volunteer = await setup(world, amount=100)
    req = await served(client, requester, volunteer, 60)
    [notice] = [m for m in (await ok(client, requester, "GET", "/api/me/messages"))["items"]
                if m["title"] == "服务已完成，请确认"]
    assert "14 天内未确认的，将按预估时长自动确认" in notice["text"]
    assert notice["link"] == f"/timebank.html#request-{req['id']}"
    assert await minutes(client, requester) == {"balance": 100, "held": 60, "available": 40}

    async with pool.acquire() as conn, conn.transaction():  # one row of the sweep, scoped to this request
        assert await timebank._auto_confirm(conn, req["id"], clock.now() + timedelta(days=13)) is False
    assert await minutes(client, requester) == {"balance": 100, "held": 60, "available": 40}
    later = clock.now() + timedelta(days=14, minutes=1)
    async with pool.acquire() as conn, conn.transaction():
        assert await timebank._auto_confirm(conn, req["id"], later) is True
    async with pool.acquire() as conn, conn.transaction():
        assert await timebank._auto_confirm(conn, req["id"], later) is False  # once
    assert await minutes(client, requester) == {"balance": 40, "held": 0, "available": 40}
    assert await minutes(client, volunteer) == {"balance": 60, "held": 0, "available": 60}
    detail = await ok(client, requester, "GET", f"/api/timebank/requests/{req['id']}")
    assert (detail["request"]["state"], detail["request"]["confirmed_minutes"]) == ("confirmed", 60)
    assert (detail["events"][-1]["actor_role"], detail["events"][-1]["transition"]) == ("system", "confirmed")
    assert await world.ledger_problems() == {}

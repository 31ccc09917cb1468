"""Time bank requests nobody can pay (issue 33, finding 4): a volunteer is never shown an open request
whose requester (or pool) cannot pay its estimate, and is told "求助人时间不足" rather than about their
own balance; a completed service left unconfirmed is confirmed at its estimate after the notice period,
releasing the hold into the payment."""

from datetime import timedelta

from domain import timebank
from domain.core import clock
from tests.timebank.test_timebank import call, minutes, new_request, ok, same, served, setup


def test_a_request_is_affordable_when_its_payer_has_the_estimate():
    from domain.timebank import rules
    assert rules.affordable("open", 60, 60) and not rules.affordable("open", 60, 3)
    assert rules.affordable("accepted", 60, 0)  # paid from its hold


async def hall(client, person) -> list[int]:
    return [r["id"] for r in (await ok(client, person, "GET", "/api/timebank/requests?state=open"))["items"]]


async def test_posting_a_request_beyond_ones_banked_minutes_is_refused_and_changes_nothing(client, world):
    """The newcomer with 3 minutes banked asks for 60: refused naming the field, what is banked, and the
    two ways on (a smaller request, or the community pool its staff post from); nothing is written."""
    community, newcomer, volunteer = await setup(world, amount=3)
    async with same(world, community, newcomer, volunteer):
        r = await call(client, newcomer, "POST", "/api/timebank/requests",
                       {"title": "陪我去医院", "minutes_estimate": 60})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "time_short" and r.json()["message"] == "您存储的时间不够支付这次求助"
        assert r.json()["details"] == {"field": "minutes_estimate", "available": 3, "needed": 60,
                                       "offers": {"smaller": 3, "pool_community_id": community.id}}
    mine = await ok(client, newcomer, "GET", "/api/timebank/requests?mine=requested")
    assert mine["items"] == []
    small = await new_request(client, newcomer, 3)  # the smaller request it offers goes through
    assert small["affordable"] is True and small["id"] in await hall(client, volunteer)

    # Nothing banked at all: no smaller request to offer, only the pool.
    nothing = await world.member(community, "新居民")
    r = await call(client, nothing, "POST", "/api/timebank/requests", {"title": "修门", "minutes_estimate": 5})
    assert r.status_code == 422 and r.json()["details"]["offers"] == {"smaller": None,
                                                                      "pool_community_id": community.id}
    # The pool pays for what the community's staff post from it: not refused for the manager's own minutes.
    await ok(client, community.manager, "POST", "/api/timebank/pool/credits",
             {"community_id": community.id, "minutes": 60, "reason": "街道拨付"})
    from_pool = await ok(client, community.manager, "POST", "/api/timebank/requests",
                         {"title": "陪新居民修门", "minutes_estimate": 60, "for_user_id": nothing.id,
                          "use_pool": True})
    assert from_pool["use_pool"] is True and from_pool["affordable"] is True


async def test_volunteers_never_see_a_request_its_requester_can_no_longer_pay(client, world, pool):
    """Posting checks the banked minutes, but they may go after it (another request accepted holds
    them): the request is then hidden from volunteers and accepting it says whose time is short."""
    community, requester, volunteer = await setup(world, amount=100)
    first = await new_request(client, requester, 60)
    short = await new_request(client, requester, 60)   # 100 banked: each request alone is payable
    await ok(client, volunteer, "POST", f"/api/timebank/requests/{first['id']}/accept")  # 60 held, 40 left
    assert short["id"] not in await hall(client, volunteer)
    assert short["id"] in await hall(client, requester)          # its requester sees it, marked
    assert short["id"] in await hall(client, community.manager)  # so do the managers (the pool may help)
    detail = await ok(client, requester, "GET", f"/api/timebank/requests/{short['id']}")
    assert detail["request"]["affordable"] is False

    async with same(world, community, requester, volunteer):
        r = await call(client, volunteer, "POST", f"/api/timebank/requests/{short['id']}/accept")
        assert r.status_code == 409 and r.json()["error"] == "payer_short" and r.json()["message"] == "求助人时间不足"
    detail = await ok(client, requester, "GET", f"/api/timebank/requests/{short['id']}")
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

"""Issue 30: crediting the time bank's community pool (公益时间池) was one manager's act, with no
threshold and no daily limit: a manager could put any number of minutes into the pool, and then pay
services from it. Now it is value created by hand like an adjustment: above the community's minutes
threshold, or past the maker's daily limit (which adjustments, marks and pool credits share), it is
held in the one queue (/held.html, GET /api/held, kind `pool_credit`) for another manager or the
street; the maker never approves their own. Nothing moves until then (snapshot), and `linli audit`
finds nothing afterwards.
"""

from datetime import datetime, timezone

import pytest

from domain.core import clock
from domain.oversight import report
from tests.conftest import appoint
from tests.snapshot import snapshot, unchanged

T0 = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai, a Tuesday


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(T0)


async def pool_of(client, person, community_id: int) -> int:
    r = await client.get("/api/timebank/pool", headers=person.headers, params={"community_id": community_id})
    assert r.status_code == 200, r.text
    return r.json()["balance"]


def credit(client, person, community_id: int, minutes: int, reason: str = "公益时间池拨入"):
    return client.post("/api/timebank/pool/credits", headers=person.headers,
                       json={"community_id": community_id, "minutes": minutes, "reason": reason})


def without_audit(picture: dict) -> dict:
    return {k: v for k, v in picture.items() if k != "audit"}


async def held_items(client, viewer, community_id: int) -> list[dict]:
    r = await client.get("/api/held", headers=viewer.headers, params={"community_id": community_id,
                                                                      "kind": "pool_credit"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_large_pool_credit_waits_for_a_second_person(client, world, pool):
    c = await world.community("时间池社区")
    street = await world.person("街道书记")
    assert (await appoint(client, await world.admin(), c.street_id, street)).status_code == 200
    volunteer = await world.member(c, "志愿者")
    people = [c.manager.id, volunteer.id, street.id]

    # The attack: one manager puts 50,000 minutes into the pool at once.
    before = await snapshot(pool, people=people, communities=[c.id])
    r = await credit(client, c.manager, c.id, 50_000)
    assert r.status_code == 202, r.text
    held = r.json()
    assert (held["minutes"], held["why"], held["threshold"], held["state"]) == (50_000, "threshold", 600, "pending")
    after = await snapshot(pool, people=people, communities=[c.id])
    assert without_audit(after) == without_audit(before)  # nothing moved: balances, holds, transfers
    assert [act for _, act in after["audit"][len(before["audit"]):]] == ["held_request"]
    assert await pool_of(client, c.manager, c.id) == 0

    # In the one queue, with its maker and why; the maker cannot decide it, the street can.
    mine = await held_items(client, c.manager, c.id)
    assert [(i["id"], i["maker"]["id"], i["can_decide"]) for i in mine] == [(held["held_id"], c.manager.id, False)]
    assert mine[0]["summary"]["minutes"] == 50_000 and mine[0]["evidence"]["why"] == "threshold"
    assert [i["can_decide"] for i in await held_items(client, street, c.id)] == [True]

    # Refusals change nothing at all: the maker approving their own, a volunteer crediting the pool.
    async with unchanged(pool, people=people, communities=[c.id]):
        r = await client.post(f"/api/held/pool_credit/{held['held_id']}/approve", headers=c.manager.headers,
                              json={})
        assert r.status_code == 403, r.text
    async with unchanged(pool, people=people, communities=[c.id]):
        assert (await credit(client, volunteer, c.id, 10)).status_code == 403

    # The second person's approval is what credits, once.
    r = await client.post(f"/api/held/pool_credit/{held['held_id']}/approve", headers=street.headers,
                          json={"reason": "重阳节专项"})
    assert r.status_code == 200, r.text
    assert await pool_of(client, c.manager, c.id) == 50_000
    async with unchanged(pool, people=people, communities=[c.id]):
        r = await client.post(f"/api/held/pool_credit/{held['held_id']}/approve", headers=street.headers, json={})
        assert r.status_code == 409
    assert await held_items(client, street, c.id) == []
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}


async def test_pool_credits_add_up_to_the_makers_daily_limit_with_adjustments(client, world, pool):
    """Three credits of 500 minutes each stay under the 600-minute threshold, but the maker's day
    (1,500 minutes by default) is shared with adjustments: after a 100-minute adjustment, the third
    credit passes the day's limit and waits (flagged `daily_limit`); a rejection moves nothing."""
    c = await world.community("限额社区")
    deputy = await world.person("副主任")
    assert (await appoint(client, await world.admin(), c.id, deputy)).status_code == 200
    volunteer = await world.member(c, "志愿者")
    r = await client.post("/api/adjustments", headers=c.manager.headers,
                          json={"user_id": volunteer.id, "unit": "minutes", "amount": 100, "reason": "补录"})
    assert r.status_code == 201, r.text
    assert [(await credit(client, c.manager, c.id, 500)).status_code for _ in range(2)] == [201, 201]
    before = await snapshot(pool, people=[c.manager.id, volunteer.id], communities=[c.id])
    r = await credit(client, c.manager, c.id, 500)
    assert r.status_code == 202 and r.json()["why"] == "daily_limit", r.text
    assert without_audit(await snapshot(pool, people=[c.manager.id, volunteer.id], communities=[c.id])) == \
        without_audit(before)
    assert await pool_of(client, c.manager, c.id) == 1_000
    flags = (await client.get("/api/manager-flags", headers=deputy.headers, params={"community_id": c.id})).json()
    assert "daily_limit" in {f["reason"] for f in flags["items"] if f["manager"]["id"] == c.manager.id}
    # Another manager rejects it: nothing moves, the maker is told.
    async with unchanged(pool, people=[volunteer.id], communities=[]):
        r = await client.post(f"/api/held/pool_credit/{r.json()['held_id']}/reject", headers=deputy.headers,
                              json={"reason": "本月已拨够"})
        assert r.status_code == 200, r.text
    assert await pool_of(client, c.manager, c.id) == 1_000
    assert await pool.fetchval("select count(*) from notifications where user_id = $1 and kind = 'held_decided'",
                               c.manager.id) == 1
    async with pool.acquire() as conn:
        assert await report.report(conn, [c.id]) == {}

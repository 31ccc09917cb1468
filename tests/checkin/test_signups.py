"""Sign-up with a waiting list (issue 22): places up to the capacity, a queue after it, the longest
waiting person promoted when a place frees, never more confirmed than the capacity."""

import asyncio
from datetime import timedelta

import pytest

from domain.core import clock
from tests.checkin.test_activities import T0, new_activity
from tests.snapshot import unchanged

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def signup(client, person, activity_id, action=""):
    r = await client.post(f"/api/activities/{activity_id}/signup{action}", headers=person.headers)
    return r


async def test_a_full_activity_puts_people_on_the_waiting_list_and_promotes_in_order(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    people = [await world.member(c, n) for n in ("甲", "乙", "丙", "丁")]
    activity = await new_activity(client, c, capacity=2, starts=T0 + timedelta(days=1), ends=T0 + timedelta(days=1, hours=2))
    states = []
    for person in people:
        r = await signup(client, person, activity["id"])
        assert r.status_code == 200, r.text
        states.append((r.json()["mine"], r.json()["my_position"]))
    assert states == [("confirmed", None), ("confirmed", None), ("waiting", 1), ("waiting", 2)]
    again = (await signup(client, people[0], activity["id"])).json()
    assert (again["mine"], again["confirmed"], again["waiting"], again["places_left"]) == ("confirmed", 2, 2, 0)

    cancelled = (await signup(client, people[1], activity["id"], "/cancel")).json()
    assert (cancelled["mine"], cancelled["confirmed"], cancelled["waiting"]) == (None, 2, 1)
    promoted = (await client.get(f"/api/activities/{activity['id']}/signup", headers=people[2].headers)).json()
    assert promoted["mine"] == "confirmed"
    last = (await client.get(f"/api/activities/{activity['id']}/signup", headers=people[3].headers)).json()
    assert (last["mine"], last["my_position"]) == ("waiting", 1)
    # Cancelling a place in the queue promotes nobody.
    await signup(client, people[3], activity["id"], "/cancel")
    confirmed = await pool.fetch("select user_id from activity_signups where activity_id = $1 "
                                 "and state = 'confirmed' order by user_id", activity["id"])
    assert [r["user_id"] for r in confirmed] == [people[0].id, people[2].id]


async def test_many_at_once_never_overfill(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    people = [await world.member(c, f"居民{i}") for i in range(12)]
    activity = await new_activity(client, c, capacity=5, starts=T0 + timedelta(days=1), ends=T0 + timedelta(days=1, hours=2))
    answers = await asyncio.gather(*(signup(client, p, activity["id"]) for p in people))
    assert sorted(r.json()["mine"] for r in answers) == ["confirmed"] * 5 + ["waiting"] * 7
    assert await pool.fetchval("select count(*) from activity_signups where activity_id = $1 and state = 'confirmed'",
                               activity["id"]) == 5


async def test_only_members_sign_up_for_published_activities_not_over(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    member = await world.member(c)
    stranger = await world.member(await world.community("别的社区"))
    draft = await new_activity(client, c, publish=False, starts=T0 + timedelta(days=1), ends=T0 + timedelta(days=1, hours=1))
    over = await new_activity(client, c, starts=T0 - timedelta(hours=3), ends=T0 - timedelta(hours=1))
    open_ = await new_activity(client, c, starts=T0 + timedelta(days=1), ends=T0 + timedelta(days=1, hours=1))
    signups = "select activity_id, user_id, state from activity_signups where user_id = any($1::bigint[]) order by 1, 2"
    before = [tuple(r) for r in await pool.fetch(signups, [member.id, stranger.id])]
    async with unchanged(pool, people=[member.id, stranger.id], communities=[c.id]):
        assert (await signup(client, stranger, open_["id"])).json()["error"] == "not_member"
        assert (await signup(client, member, draft["id"])).status_code == 404
        assert (await signup(client, member, over["id"])).json()["error"] == "outside_window"
    assert [tuple(r) for r in await pool.fetch(signups, [member.id, stranger.id])] == before == []
    r = await signup(client, member, open_["id"], "/cancel")  # not signed up: nothing to give back
    assert r.status_code == 200 and r.json()["mine"] is None


async def test_my_activities_upcoming_and_past_with_what_they_gave(client, world):
    clock.freeze(T0)
    c = await world.community()
    me = await world.member(c, "刘芳")
    soon = await new_activity(client, c, title="周末义诊", starts=T0 + timedelta(days=2), ends=T0 + timedelta(days=2, hours=2))
    done = await new_activity(client, c, title="垃圾分类", points=5, points_per_hour=10, max_minutes=60,
                              starts=T0 - timedelta(hours=2), ends=T0 - timedelta(minutes=1))
    await signup(client, me, soon["id"])
    r = await client.post(f"/api/activities/{done['id']}/attendance/mark", headers=c.manager.headers,
                          json={"user_ids": [me.id], "reason": "现场登记", "minutes": 60})
    assert r.status_code == 200, r.text
    upcoming = (await client.get("/api/me/activities", headers=me.headers)).json()
    past = (await client.get("/api/me/activities?when=past", headers=me.headers)).json()
    assert [(a["title"], a["signup"]) for a in upcoming] == [("周末义诊", "confirmed")]
    assert [(a["title"], a["minutes"], a["points"]) for a in past] == [("垃圾分类", 60, 15)]


async def test_a_confirmed_sign_up_holds_its_place_at_check_in(client, world, pool):
    """Issue 33 finding 4b: with capacity 1, the waiting-listed person scanned first and took the place;
    the confirmed one got capacity_full. The place is held until 15 minutes after the start."""
    from tests.checkin.test_activities import poster_code
    from tests.checkin.test_scanning import scan
    clock.freeze(T0)
    c = await world.community()
    confirmed, waiting = await world.member(c, "甲"), await world.member(c, "乙")
    activity = await new_activity(client, c, capacity=1, starts=T0 + timedelta(minutes=30), ends=T0 + timedelta(hours=3))
    for person in (confirmed, waiting):
        assert (await signup(client, person, activity["id"])).status_code == 200
    code = await poster_code(pool, activity["id"])
    clock.freeze(T0 + timedelta(minutes=31))  # the activity has started
    r = await scan(client, waiting, code)
    assert r.status_code == 409 and r.json()["error"] == "capacity_full" and r.json()["details"]["held_for_signups"] == 1
    assert await pool.fetchval("select count(*) from attendances where activity_id = $1", activity["id"]) == 0
    r = await scan(client, confirmed, code)
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text


async def test_an_unclaimed_held_place_goes_to_whoever_comes_after_the_hold(client, world, pool):
    from tests.checkin.test_activities import poster_code
    from tests.checkin.test_scanning import scan
    clock.freeze(T0)
    c = await world.community()
    confirmed, waiting = await world.member(c, "甲"), await world.member(c, "乙")
    activity = await new_activity(client, c, capacity=1, starts=T0 + timedelta(minutes=30), ends=T0 + timedelta(hours=3))
    for person in (confirmed, waiting):
        await signup(client, person, activity["id"])
    clock.freeze(T0 + timedelta(minutes=30 + 16))  # the hold has lapsed: the confirmed person did not come
    r = await scan(client, waiting, await poster_code(pool, activity["id"]))
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text

"""The home page's data (issue 22): a manager's queues with real counts, a volunteer's own rank."""

from datetime import timedelta

from domain.core import clock
from domain.rankings import workbench
from tests.checkin.test_activities import T0, new_activity
from tests.supermarket.test_supermarket import ask, new_reward


async def test_the_managers_queues_count_what_waits_and_drop_after_a_decision(client, world):
    clock.freeze(T0)
    c = await world.community("三苏社区")
    a, b = await world.member(c, "刘芳"), await world.member(c, "陈伟")
    for person in (a, b):
        await world.fund(person, c, "points", 500)
    reward = await new_reward(client, c, cost_points=50, stock=10)
    first = (await ask(client, a, reward["id"])).json()
    await ask(client, b, reward["id"])
    activity = await new_activity(client, c, capacity=20, starts=T0 - timedelta(minutes=5), ends=T0 + timedelta(hours=2))
    bench = (await client.get("/api/me/workbench", headers=c.manager.headers)).json()
    [mine] = bench["communities"]
    assert mine["name"] == "三苏社区" and mine["queues"]["redemptions"] == 2 and mine["queues"]["reports"] == 0
    assert [x["title"] for x in mine["activities"]] == [activity["title"]]
    await client.post(f"/api/redemptions/{first['id']}/approve", headers=c.manager.headers)
    bench = (await client.get("/api/me/workbench", headers=c.manager.headers)).json()
    assert bench["communities"][0]["queues"]["redemptions"] == 1
    # A volunteer manages nothing: an empty workbench.
    assert (await client.get("/api/me/workbench", headers=a.headers)).json() == {"communities": []}


async def test_a_volunteer_sees_their_rank_and_a_masked_top(client, world, pool):
    clock.freeze(T0)
    c = await world.community("裕丰社区")
    people = [await world.member(c, n) for n in ("张三明", "李四", "王五")]
    activity = await new_activity(client, c, points=5, points_per_hour=10, max_minutes=180,
                                  starts=T0 - timedelta(hours=3, minutes=1), ends=T0 - timedelta(minutes=1))
    for person, minutes in zip(people, (180, 60, 120)):
        r = await client.post(f"/api/activities/{activity['id']}/attendance/mark", headers=c.manager.headers,
                              json={"user_ids": [person.id], "reason": "现场登记", "minutes": minutes})
        assert r.status_code == 200, r.text
    [rank] = (await client.get("/api/me/rank", headers=people[2].headers)).json()
    assert (rank["community_name"], rank["rank"], rank["amount"], rank["of"]) == ("裕丰社区", 2, 25, 3)
    assert [(i["rank"], i["name"]) for i in rank["top"]] == [(1, "张*明"), (2, "王五"), (3, "李*")]
    # Their place is counted in the whole ranking, not in the top shown: below a top of one, and for
    # someone who earned nothing (not ranked, the ranking's length still given).
    async with pool.acquire() as conn:
        [below] = await workbench.my_rank(conn, await world.actor(people[2]), top=1)
        [idle] = await workbench.my_rank(conn, await world.actor(await world.member(c, "赵六")))
    assert (below.rank, below.amount, below.of, [i.rank for i in below.top]) == (2, 25, 3, [1])
    assert (idle.rank, idle.amount, idle.of, len(idle.top)) == (None, 0, 3, 3)

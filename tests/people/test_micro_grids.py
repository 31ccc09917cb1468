"""Below the grid (issue 31): 微网格 under a grid, a 邻里长 by invitation they accept, marking attendance
for the 微网格's residents without a phone (and nobody else), and 党员户 when a party member shows it."""

from domain.core import clock
from tests.checkin.test_activities import T0, new_activity


async def call(client, who, method, url, body=None, status=200, headers=None):
    r = await client.request(method, url, json=body, headers=who.headers | (headers or {}))
    assert r.status_code == status, (url, r.status_code, r.text)
    return r.json() if r.content else None


async def balances(pool, *user_ids):
    return [tuple(r) for r in await pool.fetch(
        "select user_id, unit, balance from accounts where user_id = any($1::bigint[]) order by user_id, unit",
        list(user_ids))]


async def test_a_leader_marks_a_phoneless_resident_of_their_micro_grid(client, world, pool):
    clock.freeze(T0)
    c = await world.community("三苏社区")
    leader = await world.member(c, "邻里长王")
    neighbour = await world.member(c, "有手机的邻居")
    micro = await call(client, c.manager, "POST", f"/api/grids/{c.grid_id}/micro-grids",
                       {"name": "3栋微网格", "buildings": "3栋、4栋"}, 201)
    elder = await call(client, c.manager, "POST", f"/api/communities/{c.id}/residents",
                       {"name": "李奶奶", "household": "3栋2单元501"}, 201)
    for person in (elder["id"], neighbour.id):
        await call(client, c.manager, "POST", f"/api/micro-grids/{micro['id']}/residents", {"user_id": person})
    invited = await call(client, c.manager, "POST", "/api/role-invites",
                         {"kind": "micro_leader", "phone": leader.phone, "name": "邻里长王", "micro_grid_id": micro["id"]},
                         201)
    activity = await new_activity(client, c, points=5)
    body = {"activity_id": activity["id"], "user_ids": [elder["id"]], "reason": "老人无手机，现场参加",
            "minutes": 60}
    before = await balances(pool, elder["id"])
    await call(client, leader, "POST", f"/api/micro-grids/{micro['id']}/attendance-marks", body, 403)  # not yet accepted
    assert await balances(pool, elder["id"]) == before
    await call(client, leader, "POST", f"/api/me/role-invites/{invited['id']}/accept")

    grid_page = await call(client, neighbour, "GET", f"/api/grids/{c.grid_id}/micro-grids")
    assert [(m["name"], [(h["name"], h["role"]) for h in m["holders"]], m["phoneless"]) for m in grid_page] == \
        [("3栋微网格", [("邻里长王", "leader")], [])]  # a neighbour sees who holds the roles, not the list

    with_phone = body | {"user_ids": [elder["id"], neighbour.id]}
    before = await balances(pool, elder["id"], neighbour.id)
    await call(client, leader, "POST", f"/api/micro-grids/{micro['id']}/attendance-marks", with_phone, 403)
    assert await balances(pool, elder["id"], neighbour.id) == before

    marked = await call(client, leader, "POST", f"/api/micro-grids/{micro['id']}/attendance-marks", body,
                        headers={"Idempotency-Key": "mark-1"})
    assert len(marked["marked"]) == 1
    row = await pool.fetchrow("select source, recorded_by, points from attendances where id = $1", marked["marked"][0])
    assert (row["source"], row["recorded_by"]) == ("manual", leader.id) and row["points"] > 0
    audit = await pool.fetchval("select actor_id from audit_log where act = 'attendance_mark' and target_id = $1",
                                activity["id"])
    assert audit == leader.id
    mine = await call(client, leader, "GET", "/api/me/micro-grids")
    assert [(m["my_role"], [r["name"] for r in m["phoneless"]]) for m in mine] == [("leader", ["李奶奶"])]


async def test_party_household_shows_only_when_the_member_chooses(client, world, pool):
    c = await world.community()
    member = await world.member(c, "党员张")
    micro = await call(client, c.manager, "POST", f"/api/grids/{c.grid_id}/micro-grids", {"name": "1栋"}, 201)
    elder = await call(client, c.manager, "POST", f"/api/communities/{c.id}/residents",
                       {"name": "张爷爷", "household": "1栋101"}, 201)
    await pool.execute("insert into resident_profiles (community_id, user_id, household, updated_at) "
                       "values ($1, $2, '1栋101', now())", c.id, member.id)
    await call(client, c.manager, "POST", f"/api/micro-grids/{micro['id']}/residents", {"user_id": elder["id"]})
    await call(client, member, "PUT", "/api/me/party-identity", {"shown": True}, 403)  # not a party member
    unit = await pool.fetchval("insert into units (name, kind, parent_id, created_at) values ('单位', 'other', $1, now()) "
                               "returning id", c.street_id)
    await pool.execute("insert into unit_members values ($1, $2, true, true, now())", unit, member.id)
    view = await call(client, c.manager, "GET", f"/api/micro-grids/{micro['id']}")
    assert [r["party_household"] for r in view["phoneless"]] == [False]
    await call(client, member, "PUT", "/api/me/party-identity", {"shown": True})
    view = await call(client, c.manager, "GET", f"/api/micro-grids/{micro['id']}")
    assert [r["party_household"] for r in view["phoneless"]] == [True]

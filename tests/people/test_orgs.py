"""Organisation tree and the manager scope guard (issue 3)."""

from tests.conftest import appoint


async def test_admin_builds_the_tree_and_appoints_a_manager(client, world):
    admin = await world.admin()
    h = admin.headers
    district = (await client.post("/api/orgs", headers=h, json={"kind": "district", "name": "东坡区"})).json()
    street = (await client.post("/api/orgs", headers=h, json={"kind": "street", "name": "苏祠街道",
                                                              "parent_id": district["id"]})).json()
    r = await client.post("/api/orgs", headers=h, json={"kind": "community", "name": "三苏社区",
                                                        "parent_id": street["id"]})
    assert r.status_code == 201
    community = r.json()
    assert community["community_id"] == community["id"]
    grid = (await client.post("/api/orgs", headers=h, json={"kind": "grid", "name": "第一网格",
                                                            "parent_id": community["id"]})).json()
    assert grid["community_id"] == community["id"]
    manager = await world.person("李晓梅")
    r = await appoint(client, admin, community["id"], manager)
    assert r.status_code == 200
    me = (await client.get("/api/me", headers=manager.headers)).json()
    assert me["roles"] == ["manager"] and me["manages"] == [{"id": community["id"], "name": "三苏社区"}]
    children = (await client.get(f"/api/orgs?parent_id={community['id']}", headers=h)).json()
    assert [o["id"] for o in children["items"]] == [grid["id"]]


async def test_tree_shape_is_enforced(client, world):
    h = (await world.admin()).headers
    district = (await client.post("/api/orgs", headers=h, json={"kind": "district", "name": "区"})).json()
    r = await client.post("/api/orgs", headers=h, json={"kind": "grid", "name": "网格", "parent_id": district["id"]})
    assert r.status_code == 422 and r.json()["details"]["field"] == "parent_id"
    r = await client.post("/api/orgs", headers=h, json={"kind": "planet", "name": "x"})
    assert r.status_code in (400, 422) and r.json()["details"]["field"] == "kind"


async def test_only_admins_create_orgs(client, world):
    a = await world.community("A社区")
    r = await client.post("/api/orgs", headers=a.manager.headers,
                          json={"kind": "grid", "name": "新网格", "parent_id": a.id})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert (await client.post("/api/orgs", json={"kind": "district", "name": "x"})).status_code == 401


async def memberships(pool, user_id: int) -> set[tuple[int, str]]:
    """(org, role) of every membership the person holds."""
    return {(r["org_id"], r["role"]) for r in await pool.fetch(
        "select org_id, role from org_members where user_id = $1", user_id)}


async def teams_in(pool, community_id: int) -> list[tuple[str, list[int]]]:
    """The community's teams by name, each with its members."""
    rows = await pool.fetch("""select t.name, coalesce(array_agg(m.user_id order by m.user_id)
                                                        filter (where m.user_id is not null), '{}') as members
                               from teams t left join team_members m on m.team_id = t.id
                               where t.community_id = $1 group by t.id order by t.id""", community_id)
    return [(r["name"], list(r["members"])) for r in rows]


async def test_manager_of_a_cannot_touch_community_b(client, world, pool):
    a = await world.community("A社区")
    b = await world.community("B社区")
    outsider = await world.person("路人")
    h = a.manager.headers
    assert (await client.get(f"/api/orgs/{a.id}", headers=h)).status_code == 200
    assert (await client.get(f"/api/orgs/{a.grid_id}", headers=h)).status_code == 200
    assert (await client.get(f"/api/orgs/{b.id}", headers=h)).status_code == 403
    assert (await client.get(f"/api/orgs/{b.grid_id}", headers=h)).status_code == 403
    r = await client.post(f"/api/orgs/{b.id}/members", headers=h, json={"user_id": outsider.id, "role": "volunteer"})
    assert r.status_code == 403
    assert await memberships(pool, outsider.id) == set()
    r = await client.post("/api/teams", headers=h, json={"name": "B队", "community_id": b.id})
    assert r.status_code == 403
    assert await teams_in(pool, b.id) == []
    # Membership is by consent: a manager picks no existing person from outside (issue 16).
    r = await client.post(f"/api/orgs/{a.id}/members", headers=h, json={"user_id": outsider.id, "role": "volunteer"})
    assert r.status_code == 404
    assert await memberships(pool, outsider.id) == set()
    listing = (await client.get(f"/api/orgs?parent_id={a.street_id}", headers=h)).json()
    assert a.id in [o["id"] for o in listing["items"]]
    assert b.id not in [o["id"] for o in listing["items"]]


async def test_couriers_join_grids_and_volunteers_join_communities(client, world, pool):
    a = await world.community("A社区")
    p = await world.person()
    admin = await world.admin()
    h = a.manager.headers
    r = await client.post(f"/api/orgs/{a.id}/members", headers=admin.headers, json={"user_id": p.id, "role": "courier"})
    assert r.status_code == 422
    assert await memberships(pool, p.id) == set()
    r = await client.post(f"/api/orgs/{a.grid_id}/members", headers=admin.headers, json={"user_id": p.id, "role": "courier"})
    assert r.status_code == 201
    assert await memberships(pool, p.id) == {(a.grid_id, "courier")}
    me = (await client.get("/api/me", headers=p.headers)).json()
    assert me["roles"] == ["courier"] and [m["community_id"] for m in me["memberships"]] == [a.id]
    r = await client.post(f"/api/orgs/{a.grid_id}/members", headers=h, json={"user_id": 10**12, "role": "courier"})
    assert r.status_code == 404
    assert await pool.fetchval("select count(*) from org_members where org_id = $1", a.grid_id) == 1


async def test_teams(client, world, pool):
    a = await world.community("A社区")
    p = await world.member(a)
    team = await client.post("/api/teams", headers=a.manager.headers, json={"name": "机关党支部", "community_id": a.id})
    assert team.status_code == 201
    assert await teams_in(pool, a.id) == [("机关党支部", [])]
    r = await client.post(f"/api/teams/{team.json()['id']}/members", headers=a.manager.headers, json={"user_id": p.id})
    assert r.status_code == 201
    assert await teams_in(pool, a.id) == [("机关党支部", [p.id])]
    listed = (await client.get(f"/api/communities/{a.id}/teams", headers=a.manager.headers)).json()
    assert [(t["name"], t["members"]) for t in listed["items"]] == [("机关党支部", 1)]
    # Another community's manager can neither add to the team nor see it.
    b = await world.community("B社区")
    other = await world.member(b)
    r = await client.post(f"/api/teams/{team.json()['id']}/members", headers=b.manager.headers,
                          json={"user_id": other.id})
    assert r.status_code == 403
    assert await teams_in(pool, a.id) == [("机关党支部", [p.id])]

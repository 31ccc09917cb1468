"""Organisation tree and the manager scope guard (issue 3)."""


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
    r = await client.post(f"/api/orgs/{community['id']}/managers", headers=h, json={"user_id": manager.id})
    assert r.status_code == 201
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


async def test_manager_of_a_cannot_touch_community_b(client, world):
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
    r = await client.post("/api/teams", headers=h, json={"name": "B队", "community_id": b.id})
    assert r.status_code == 403
    # Membership is by consent: a manager picks no existing person from outside (issue 16).
    r = await client.post(f"/api/orgs/{a.id}/members", headers=h, json={"user_id": outsider.id, "role": "volunteer"})
    assert r.status_code == 404
    listing = (await client.get(f"/api/orgs?parent_id={a.street_id}", headers=h)).json()
    assert a.id in [o["id"] for o in listing["items"]]
    assert b.id not in [o["id"] for o in listing["items"]]


async def test_couriers_join_grids_and_volunteers_join_communities(client, world):
    a = await world.community("A社区")
    p = await world.person()
    admin = await world.admin()
    h = a.manager.headers
    r = await client.post(f"/api/orgs/{a.id}/members", headers=admin.headers, json={"user_id": p.id, "role": "courier"})
    assert r.status_code == 422
    r = await client.post(f"/api/orgs/{a.grid_id}/members", headers=admin.headers, json={"user_id": p.id, "role": "courier"})
    assert r.status_code == 201
    me = (await client.get("/api/me", headers=p.headers)).json()
    assert me["roles"] == ["courier"] and me["memberships"][0]["community_id"] == a.id
    r = await client.post(f"/api/orgs/{a.grid_id}/members", headers=h, json={"user_id": 10**12, "role": "courier"})
    assert r.status_code == 404


async def test_teams(client, world):
    a = await world.community("A社区")
    p = await world.member(a)
    team = await client.post("/api/teams", headers=a.manager.headers, json={"name": "机关党支部", "community_id": a.id})
    assert team.status_code == 201
    r = await client.post(f"/api/teams/{team.json()['id']}/members", headers=a.manager.headers, json={"user_id": p.id})
    assert r.status_code == 201

"""Find your community (issue 31): a registered resident without a community searches by street,
community name or address and asks to join, saying which building and unit; the manager sees it."""

import secrets


async def test_search_then_ask_with_building_and_unit(client, world, pool):
    tag = secrets.token_hex(3)
    c = await world.community(f"三苏{tag}社区")
    await pool.execute("update orgs set address = $2 where id = $1", c.id, f"纱縠行南段{tag}号")
    newcomer = await world.person("新居民")
    by_name = await client.get("/api/communities/search", params={"q": f"三苏{tag}"}, headers=newcomer.headers)
    by_address = await client.get("/api/communities/search", params={"q": f"纱縠行 {tag}号"}, headers=newcomer.headers)
    by_street = await client.get("/api/communities/search", params={"q": f"测试街道 三苏{tag}"}, headers=newcomer.headers)
    for answer in (by_name, by_address, by_street):
        assert answer.status_code == 200, answer.text
        assert [h["community_id"] for h in answer.json()] == [c.id]
    wildcard = await client.get("/api/communities/search", params={"q": "%_"}, headers=newcomer.headers)
    assert wildcard.json() == []  # typed characters are matched as themselves, never as patterns
    asked = await client.post("/api/join-requests", headers=newcomer.headers,
                              json={"community_id": c.id, "building": "3栋", "unit_no": "2单元"})
    assert asked.status_code == 201, asked.text
    queue = await client.get(f"/api/communities/{c.id}/join-requests", headers=c.manager.headers)
    assert [(r["name"], r["building"], r["unit_no"]) for r in queue.json()["items"]] == [("新居民", "3栋", "2单元")]


async def test_asking_needs_exactly_one_way_in(client, world):
    c = await world.community()
    person = await world.person()
    both = await client.post("/api/join-requests", headers=person.headers, json={"community_id": c.id, "join_code": "x"})
    assert both.status_code == 422 and both.json()["details"]["field"] == "join_code"
    grid = await client.post("/api/join-requests", headers=person.headers, json={"community_id": c.grid_id})
    assert grid.status_code == 404

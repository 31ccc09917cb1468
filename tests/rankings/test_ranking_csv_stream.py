"""The rankings CSV streams page by page (issue 37): the same bytes as the export built whole from
`ranking` before it, over several pages, and a refusal is still a JSON error before the first byte."""

import asyncio

from domain import rankings
from domain.core.csv_export import to_csv
from domain.people import orgs
from domain.rankings import service
from tests.rankings import test_rankings as rankings_tests
from tests.rankings.test_rankings import at, ok, travel

city = rankings_tests.city  # the fixture: each test its own city (甲社区 and 乙社区, postings over 2026Q3..2027Q1)


def whole_csv(r: rankings.Ranking) -> bytes:
    """The export as it was built before issue 37 (the whole ranking, one to_csv), kept as the oracle."""
    amount = "积分" if r.unit == "points" else "时长(分钟)"
    if r.scope == "household":
        return to_csv(["名次", "家庭", "成员", amount], ([i.rank, i.name, "、".join(i.members or []), i.amount]
                                                      for i in r.items))
    return to_csv(["名次", "姓名", "手机号", amount], ([i.rank, i.name, i.phone, i.amount] for i in r.items))


async def test_streamed_rankings_are_the_whole_rankings_byte_for_byte(client, pool, city, monkeypatch):
    await travel(pool, at(2027, 1, 5), *city.people)
    m = city.a.manager
    zhang_home = await ok(client, m, "POST", "/api/households", {"community_id": city.a.id, "name": "张家"})
    for p in (city.zhang, city.li):
        await ok(client, m, "POST", f"/api/households/{zhang_home['id']}/members", {"user_id": p.id})
    await ok(client, m, "POST", "/api/households", {"community_id": city.a.id, "name": "新户"})
    monkeypatch.setattr(service, "RANKING_PAGE", 1)  # a page per row
    cases = [(city.a.manager, "community", city.a.id, "points"), (city.a.manager, "community", city.a.id, "minutes"),
             (city.b.manager, "street", city.a.street_id, "points"),  # 甲社区's people masked for 乙's manager
             (city.a.manager, "team", city.team_id, "points"), (city.a.manager, "household", city.a.id, "points")]
    for person, scope, org_id, unit in cases:
        async with pool.acquire() as conn:
            viewer = await orgs.load_actor(conn, person.id)
            want = whole_csv(await rankings.ranking(conn, viewer, scope=scope, org_id=org_id, quarter="2026Q4",
                                                    unit=unit))
            async with conn.transaction(readonly=True):
                pages = [p async for p in rankings.ranking_csv_pages(conn, viewer, scope=scope, org_id=org_id,
                                                                     quarter="2026Q4", unit=unit)]
        assert b"".join(pages) == want, scope
        rows = len(want.decode("utf-8-sig").splitlines()) - 1
        assert rows > 0 and len(pages) >= rows, scope  # several pages, not one built whole


async def test_the_street_export_masks_names_outside_the_viewers_communities(client, pool, city):
    await travel(pool, at(2027, 1, 5), *city.people)
    r = await client.get("/api/rankings", params={"scope": "street", "org_id": city.a.street_id, "quarter": "2026Q4",
                                                  "format": "csv"}, headers=city.b.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="rankings-street-{city.a.street_id}-2026Q4-points.csv"'
    text = r.content.decode("utf-8-sig")
    assert "李*" in text and "李四" not in text and "赵六" in text  # 赵六 is 乙社区's own


async def test_a_refusal_is_a_json_error_and_gives_the_connection_back(app, client, city):
    async with asyncio.timeout(60):  # a refusal that kept its connection would leave the last export waiting
        for _ in range(3 * app.state.pool.get_max_size()):
            other = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id,
                                                              "format": "csv"}, headers=city.b.manager.headers)
            assert other.status_code == 403 and other.json()["error"] == "forbidden"
            bad = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id, "format": "csv",
                                                            "quarter": "2026Q5"}, headers=city.a.manager.headers)
            assert bad.status_code == 422
        ok = await client.get("/api/rankings", params={"scope": "community", "org_id": city.a.id, "format": "csv"},
                              headers=city.a.manager.headers)
        assert ok.status_code == 200 and ok.content.startswith(b"\xef\xbb\xbf")

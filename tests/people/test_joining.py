"""Self-join (issue 18): a person refused at an activity with not_member, or scanning a community's
join code, asks to join; a manager of that community approves (the refused check-in completes at
once while the window is open) or rejects with a reason; both audited; a policy approves alone."""

from datetime import timedelta

from domain.core import clock, codes
from tests.conftest import appoint
from tests.snapshot import unchanged


async def activity(client, community, *, points=10, starts=-20, ends=120) -> dict:
    now = clock.now()
    r = await client.post("/api/activities", headers=community.manager.headers, json={
        "community_id": community.id, "title": "垃圾分类宣传", "place": "党群服务中心", "points": points,
        "starts_at": (now + timedelta(minutes=starts)).isoformat(), "ends_at": (now + timedelta(minutes=ends)).isoformat()})
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/activities/{r.json()['id']}/publish", headers=community.manager.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def poster_code(pool, activity_id: int) -> str:
    async with pool.acquire() as conn:
        return (await codes.latest(conn, "poster", activity_id)).code


async def points(client, person) -> int:
    return (await client.get("/api/me/balances", headers=person.headers)).json()["points"]["balance"]


async def audit_rows(pool, act: str, user_id: int) -> list:
    return await pool.fetch("select * from audit_log where act = $1 and target_id = $2", act, user_id)


async def test_refused_check_in_asks_to_join_and_completes_when_the_manager_approves(client, world, pool):
    c = await world.community("三苏社区")
    stranger = await world.person("陈静")
    made = await activity(client, c, points=10)
    code = await poster_code(pool, made["id"])
    r = await client.post("/api/scans", headers=stranger.headers, json={"code": code, "nonce": "n-1"})
    assert r.status_code == 403 and r.json()["error"] == "not_member"
    assert r.json()["details"]["community"] == "三苏社区"  # the page's button says 申请加入三苏社区

    r = await client.post("/api/join-requests", headers=stranger.headers, json={"scan_code": code, "nonce": "n-1"})
    assert r.status_code == 201, r.text
    request = r.json()
    assert request["state"] == "pending" and request["community_name"] == "三苏社区"
    assert request["activity_title"] == "垃圾分类宣传"
    # Asking twice keeps one request.
    again = await client.post("/api/join-requests", headers=stranger.headers, json={"scan_code": code})
    assert again.json()["id"] == request["id"]

    queue = (await client.get(f"/api/communities/{c.id}/join-requests", headers=c.manager.headers)).json()
    assert queue["pending"] == 1 and [i["id"] for i in queue["items"]] == [request["id"]]
    assert "****" in queue["items"][0]["phone"]  # not yet a member: the manager sees a masked phone
    r = await client.get("/api/console/summary", headers=c.manager.headers)
    assert {"key": "joining", "href": "/joining.html", "pending": 1} in r.json()["queues"]

    r = await client.post(f"/api/join-requests/{request['id']}/approve", headers=c.manager.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    assert r.json()["checkin"] == {"action": "checked_in", "title": "垃圾分类宣传", "points": 10, "minutes": 0}
    assert await points(client, stranger) == 10
    # The person's page polls its request and sees the check-in; their next scan is a check-out.
    mine = (await client.get(f"/api/join-requests/{request['id']}", headers=stranger.headers)).json()
    assert mine["checkin"]["action"] == "checked_in"
    members = (await client.get(f"/api/communities/{c.id}/members", headers=c.manager.headers)).json()["items"]
    assert stranger.id in [m["id"] for m in members]
    rows = await audit_rows(pool, "join_approve", stranger.id)
    assert len(rows) == 1 and rows[0]["actor_id"] == c.manager.id and rows[0]["community_id"] == c.id
    assert (await client.get(f"/api/communities/{c.id}/join-requests", headers=c.manager.headers)).json()["pending"] == 0
    # Approving twice changes nothing more.
    async with unchanged(pool, people=[stranger.id, c.manager.id], communities=[c.id]):
        r = await client.post(f"/api/join-requests/{request['id']}/approve", headers=c.manager.headers)
        assert r.status_code == 409
    assert await points(client, stranger) == 10


async def test_approval_after_the_window_grants_membership_and_says_the_check_in_is_over(client, world, pool):
    c = await world.community()
    stranger = await world.person("陈静")
    made = await activity(client, c, starts=-20, ends=10)
    code = await poster_code(pool, made["id"])
    r = await client.post("/api/join-requests", headers=stranger.headers, json={"scan_code": code})
    clock.freeze(clock.now() + timedelta(minutes=30))
    r = await client.post(f"/api/join-requests/{r.json()['id']}/approve", headers=c.manager.headers)
    assert r.json()["state"] == "approved" and r.json()["checkin"]["error"] == "outside_window"
    assert await points(client, stranger) == 0


async def test_rejection_needs_a_reason_is_audited_and_grants_nothing(client, world, pool):
    c = await world.community()
    stranger = await world.person("路人")
    join = (await client.get(f"/api/communities/{c.id}/join-code", headers=c.manager.headers)).json()
    assert join["url"].endswith(f"/j/{join['code']}")
    preview = (await client.get(f"/api/join/{join['code']}", headers=stranger.headers)).json()
    assert preview["community_name"] == "测试社区" and preview["is_member"] is False and preview["request"] is None
    r = await client.post("/api/join-requests", headers=stranger.headers, json={"join_code": join["code"]})
    request_id = r.json()["id"]
    mine = {"people": [stranger.id, c.manager.id], "communities": [c.id]}
    async with unchanged(pool, **mine):
        r = await client.post(f"/api/join-requests/{request_id}/reject", headers=c.manager.headers,
                              json={"reason": ""})
        assert r.status_code == 422
    r = await client.post(f"/api/join-requests/{request_id}/reject", headers=c.manager.headers,
                          json={"reason": "不是本社区居民"})
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["reason"] == "不是本社区居民"
    rows = await audit_rows(pool, "join_reject", stranger.id)
    assert len(rows) == 1 and rows[0]["reason"] == "不是本社区居民"
    r = await client.get(f"/api/communities/{c.id}/members", headers=stranger.headers)
    assert r.status_code == 403  # still not a member
    # Asking again at once is refused (no flooding the queue); a day later it is a new request.
    clock.freeze(clock.now())
    async with unchanged(pool, **mine):
        r = await client.post("/api/join-requests", headers=stranger.headers, json={"join_code": join["code"]})
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    clock.advance(timedelta(days=1, seconds=1))
    r = await client.post("/api/join-requests", headers=stranger.headers, json={"join_code": join["code"]})
    assert r.status_code == 201 and r.json()["state"] == "pending" and r.json()["id"] != request_id


async def test_only_the_communitys_managers_decide_and_never_their_own_request(client, world, pool):
    a, b = await world.community("A社区"), await world.community("B社区")
    stranger = await world.person()
    join = (await client.get(f"/api/communities/{a.id}/join-code", headers=a.manager.headers)).json()
    assert (await client.get(f"/api/communities/{a.id}/join-code", headers=b.manager.headers)).status_code == 403
    request_id = (await client.post("/api/join-requests", headers=stranger.headers,
                                    json={"join_code": join["code"]})).json()["id"]
    mine = {"people": [stranger.id, a.manager.id, b.manager.id], "communities": [a.id, b.id]}
    async with unchanged(pool, **mine):
        for who in (b.manager, stranger):
            r = await client.post(f"/api/join-requests/{request_id}/approve", headers=who.headers)
            assert r.status_code == 403, r.text
    assert (await client.get(f"/api/join-requests/{request_id}", headers=b.manager.headers)).status_code == 404
    assert (await client.get(f"/api/communities/{a.id}/join-requests", headers=b.manager.headers)).status_code == 403
    # B's manager asks to join A and is then made a co-manager of A: still not their own decision.
    own = (await client.post("/api/join-requests", headers=b.manager.headers, json={"join_code": join["code"]})).json()
    async with pool.acquire() as conn:
        await conn.execute("insert into org_managers (org_id, user_id) values ($1, $2)", a.id, b.manager.id)
    async with unchanged(pool, **mine):
        r = await client.post(f"/api/join-requests/{own['id']}/approve", headers=b.manager.headers)
        assert r.status_code == 403


async def test_auto_approve_policy_admits_at_once_and_is_audited(client, world, pool):
    c = await world.community()
    # Turning it on waits for a second person (issue 30): here the street's manager.
    r = await client.put(f"/api/communities/{c.id}/join-policy", headers=c.manager.headers, json={"auto_approve": True})
    assert r.status_code == 202 and r.json()["auto_approve"] is False and r.json()["held"] is True
    street = await world.person("街道管理员")
    assert (await appoint(client, await world.admin(), c.street_id, street)).status_code == 200
    r = await client.post(f"/api/held/policy/{r.json()['pending_id']}/approve", headers=street.headers, json={})
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/communities/{c.id}/join-policy", headers=c.manager.headers)
    assert r.json()["auto_approve"] is True and r.json()["pending_id"] is None
    decided = await pool.fetch("select actor_id from audit_log where act = 'held_approve' and community_id = $1", c.id)
    assert [d["actor_id"] for d in decided] == [street.id]
    stranger = await world.person()
    made = await activity(client, c, points=5)
    code = await poster_code(pool, made["id"])
    r = await client.post("/api/join-requests", headers=stranger.headers, json={"scan_code": code, "nonce": "x"})
    assert r.json()["state"] == "approved" and r.json()["checkin"]["action"] == "checked_in"
    assert await points(client, stranger) == 5
    rows = await audit_rows(pool, "join_approve", stranger.id)
    assert len(rows) == 1 and rows[0]["actor_id"] is None
    async with unchanged(pool, people=[stranger.id], communities=[c.id]):
        r = await client.post("/api/join-requests", headers=stranger.headers, json={"scan_code": code})
        assert r.status_code == 409 and r.json()["error"] == "already_member"


async def test_join_poster_prints_a_qr_of_the_join_link(client, world):
    import io

    import zxingcpp
    from PIL import Image
    c = await world.community("三苏社区")
    join = (await client.get(f"/api/communities/{c.id}/join-code", headers=c.manager.headers)).json()
    svg = await client.get(f"/api/communities/{c.id}/join-poster.svg", headers=c.manager.headers)
    assert svg.status_code == 200 and "申请加入三苏社区" in svg.text
    png = await client.get(f"/api/communities/{c.id}/join-poster.png", headers=c.manager.headers)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [f.text for f in found] == [join["url"]]
    assert (await client.get(f"/api/join/{join['code']}")).json()["is_member"] is None  # logged out: no guess
    assert (await client.get("/api/join/nosuchcode12345")).status_code == 404

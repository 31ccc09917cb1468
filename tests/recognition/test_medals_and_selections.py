"""Issue 34, medals by rule and the quarterly selection, through the API: a sweep awards the 10-hour
medal once, a revocation needs a reason and is audited; a selection runs from the ranking and
residents' nominations, one vote per household, a committee of two decides (never about
themself: refusals change nothing), posts a 公示 whose appeal is answered, then is final with a
medal and a record line; the ranking, votes and decision come out as one CSV."""

import csv
import io
from datetime import timedelta

import pytest

from domain.core import clock
from tests.conftest import World
from tests.conftest import appoint as invite_and_accept
from tests.recognition.support import T0, appoint, ok
from tests.snapshot import unchanged


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(T0)


async def _activity(client, c, *, hours: int, points: int = 0) -> dict:
    activity = await ok(client, c.manager, "POST", "/api/activities", json={
        "community_id": c.id, "title": "社区服务", "points": points,
        "starts_at": (T0 - timedelta(hours=hours)).isoformat(), "ends_at": (T0 + timedelta(hours=1)).isoformat()})
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/publish")
    return activity


async def test_medals_are_awarded_by_rule_once_and_revoked_with_a_reason(client, world: World, pool):
    c = await world.community("勋章社区")
    member = await world.member(c, "勋章居民")
    activity = await _activity(client, c, hours=11)
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [member.id], "reason": "补录", "minutes": 600})
    swept = await ok(client, c.manager, "POST", f"/api/communities/{c.id}/medals/sweep")
    assert swept["awarded"] == 1
    assert (await ok(client, c.manager, "POST", f"/api/communities/{c.id}/medals/sweep"))["awarded"] == 0
    [medal] = (await ok(client, member, "GET", "/api/me/medals"))["items"]
    assert medal["code"] == "hours:10" and medal["name"] == "志愿服务10小时"
    # ... shown on the person's page (the managers' member page)
    assert (await ok(client, c.manager, "GET", f"/api/members/{member.id}"))["medals"] == ["志愿服务10小时"]
    inbox = await ok(client, member, "GET", "/api/me/messages/")
    assert any(n["kind"] == "medal_awarded" and n["link"] for n in inbox["items"])
    rules = await ok(client, member, "GET", f"/api/orgs/{c.id}/medal-rules")
    assert {(r["kind"], r["threshold"]) for r in rules["items"]} >= {("hours", 10), ("hours", 300)}
    # The person may not revoke; nor may anyone without a reason.
    async with unchanged(pool, people=[member.id], communities=[c.id]):
        r = await client.post(f"/api/medals/{medal['id']}/revoke", headers=member.headers, json={"reason": "不要"})
        assert r.status_code == 403, r.text
        r = await client.post(f"/api/medals/{medal['id']}/revoke", headers=c.manager.headers, json={"reason": "  "})
        assert r.status_code in (400, 422), r.text
    revoked = await ok(client, c.manager, "POST", f"/api/medals/{medal['id']}/revoke", json={"reason": "时长录入有误"})
    assert revoked["revoked_at"] and revoked["revoke_reason"] == "时长录入有误"
    act = await pool.fetchval("select act from audit_log where act = 'medal_revoke' and target_id = $1", member.id)
    assert act == "medal_revoke"
    # Revoked stays revoked: the sweep does not give it again.
    assert (await ok(client, c.manager, "POST", f"/api/communities/{c.id}/medals/sweep"))["awarded"] == 0


async def _household(client, c, name: str, *people) -> int:
    household = await ok(client, c.manager, "POST", "/api/households", json={"community_id": c.id, "name": name})
    for person in people:
        await ok(client, c.manager, "POST", f"/api/households/{household['id']}/members", json={"user_id": person.id})
    return household["id"]


async def test_a_quarterly_selection_from_ranking_and_voices_to_a_final_result(client, world: World, pool):
    c = await world.community("评选社区")
    deputy = await appoint(client, world, c.id, "评选副主任")
    zhang, li, wang, zhao = [await world.member(c, n) for n in ("张明华", "李秀英", "王建国", "赵丽")]
    # 张明华 is also a manager of the community: a candidate, he may not decide.
    r = await invite_and_accept(client, await world.admin(), c.id, zhang)
    assert r.status_code in (200, 201, 204), r.text
    h1 = await _household(client, c, "张家", zhang, li)
    await _household(client, c, "王家", wang)
    await _household(client, c, "赵家", zhao)
    activity = await _activity(client, c, hours=2, points=10)
    for person, minutes in ((zhang, 60), (wang, 30)):
        await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
                 json={"user_ids": [person.id], "reason": "签到", "minutes": minutes})
    quarter = "2026Q4"
    opened = await ok(client, c.manager, "POST", "/api/selections", json={
        "community_id": c.id, "kind": "person", "quarter": quarter, "top_n": 2, "max_votes": 2, "days": 3})
    assert {x["user_id"] for x in opened["candidates"]} == {zhang.id, wang.id} and opened["voting"]
    sid = opened["id"]
    # Residents see it listed, with masked names; 公示 lists are theirs to read too.
    listed = await ok(client, zhao, "GET", f"/api/communities/{c.id}/selections")
    assert [s["id"] for s in listed["items"]] == [sid]
    seen = await ok(client, zhao, "GET", f"/api/selections/{sid}")
    assert "*" in seen["candidates"][0]["name"] and seen["candidates"][0]["votes"] is None
    assert (await client.get(f"/api/communities/{c.id}/postings", headers=zhao.headers)).status_code == 200
    # A nomination per household, with a reason.
    after = await ok(client, li, "POST", f"/api/selections/{sid}/nominations",
                     json={"user_id": zhao.id, "reason": "常年照顾独居老人"})
    zhao_candidate = next(x for x in after["candidates"] if x["user_id"] == zhao.id)
    assert zhao_candidate["nominated"] and zhao_candidate["reason"] == "常年照顾独居老人"
    told = (await ok(client, zhao, "GET", "/api/me/messages/"))["items"]
    assert any(n["kind"] == "selection_open" and n["link"] == f"/selection.html?id={sid}" for n in told)
    people = [zhang.id, li.id, wang.id, zhao.id, c.manager.id, deputy.id]
    async with unchanged(pool, people=people, communities=[c.id]):
        r = await client.post(f"/api/selections/{sid}/nominations", headers=zhang.headers,
                              json={"user_id": wang.id, "reason": "热心"})
        assert r.status_code == 409 and r.json()["details"]["why"] == "household_nominated", r.text
    ids = {x["user_id"]: x["id"] for x in after["candidates"]}
    await ok(client, li, "POST", f"/api/selections/{sid}/votes", json={"candidate_ids": [ids[zhao.id], ids[wang.id]]})
    await ok(client, zhao, "POST", f"/api/selections/{sid}/votes", json={"candidate_ids": [ids[wang.id]]})
    async with unchanged(pool, people=people, communities=[c.id]):
        # A second vote from the same household is refused.
        r = await client.post(f"/api/selections/{sid}/votes", headers=zhang.headers, json={"candidate_ids": [ids[zhang.id]]})
        assert r.status_code == 409 and r.json()["details"]["why"] == "household_voted", r.text
        r = await client.post(f"/api/selections/{sid}/votes", headers=wang.headers,
                              json={"candidate_ids": list(ids.values())})
        assert r.status_code == 422 and r.json()["details"]["field"] == "candidate_ids", r.text
        # The committee decides only after the vote.
        r = await client.post(f"/api/selections/{sid}/decision", headers=c.manager.headers,
                              json={"choices": [{"candidate_id": ids[wang.id], "reason": "得票最多"}]})
        assert r.status_code == 409, r.text
    clock.advance(timedelta(days=3, minutes=1))
    r = await client.post(f"/api/selections/{sid}/votes", headers=wang.headers, json={"candidate_ids": [ids[zhao.id]]})
    assert r.status_code == 409 and r.json()["details"]["why"] == "voting_closed"
    choices = {"choices": [{"candidate_id": ids[wang.id], "reason": "积分第二、得票最多"},
                           {"candidate_id": ids[zhao.id], "reason": "居民提名，事迹突出"}]}
    async with unchanged(pool, people=people, communities=[c.id]):
        r = await client.post(f"/api/selections/{sid}/decision", headers=zhang.headers, json=choices)
        assert r.status_code == 403, r.text  # a candidate is no member of the committee
    proposed = await ok(client, c.manager, "POST", f"/api/selections/{sid}/decision", json=choices)
    assert proposed["state"] == "proposed"
    async with unchanged(pool, people=people, communities=[c.id]):
        for who in (c.manager, zhang):  # the proposer, and a candidate
            r = await client.post(f"/api/held/selection/{sid}/approve", headers=who.headers, json={})
            assert r.status_code == 403, r.text
    queue = await ok(client, deputy, "GET", "/api/held", params={"community_id": c.id})
    [item] = [i for i in queue["items"] if i["kind"] == "selection"]
    assert item["can_decide"] and {x["reason"] for x in item["summary"]["chosen"]} == {"积分第二、得票最多", "居民提名，事迹突出"}
    await ok(client, deputy, "POST", f"/api/held/selection/{sid}/approve", json={})
    posted = await ok(client, zhao, "GET", f"/api/selections/{sid}")
    assert posted["state"] == "posted" and posted["posting_id"]
    votes = {x["user_id"]: x["votes"] for x in posted["candidates"]}
    assert votes == {zhang.id: 0, wang.id: 2, zhao.id: 1}
    posting = (await client.get(f"/api/public/postings/{posted['posting_id']}")).json()
    assert posting["scope"] == "selection" and posting["title"] == "道德模范" and len(posting["items"]) == 2
    # An appeal through the postings' own flow; final only after the window and with every appeal answered.
    appeal = await ok(client, zhang, "POST", f"/api/postings/{posted['posting_id']}/appeals", json={"reason": "请说明理由"})
    r = await client.post(f"/api/selections/{sid}/final", headers=c.manager.headers)
    assert r.status_code == 409 and r.json()["details"]["why"] == "posting_open", r.text
    clock.advance(timedelta(days=8))
    r = await client.post(f"/api/selections/{sid}/final", headers=c.manager.headers)
    assert r.status_code == 409 and r.json()["details"]["why"] == "appeals_unanswered", r.text
    await ok(client, c.manager, "POST", f"/api/appeals/{appeal['id']}/answer", json={"answer": "依据投票与事迹，维持结果"})
    final = await ok(client, c.manager, "POST", f"/api/selections/{sid}/final")
    assert final["state"] == "final"
    for person in (wang, zhao):
        names = [m["name"] for m in (await ok(client, person, "GET", "/api/me/medals"))["items"]]
        assert "2026年第4季度道德模范" in names
        records = await ok(client, person, "GET", "/api/me/records")
        assert any(x["title"] == "2026年第4季度道德模范" for x in records["commendations"])
    assert not [m for m in (await ok(client, zhang, "GET", "/api/me/medals"))["items"] if "道德模范" in m["name"]]
    posting = (await client.get(f"/api/public/postings/{posted['posting_id']}")).json()
    assert all("2026年第4季度道德模范" in e["medals"] for e in posting["items"])
    # One CSV: the ranking, the votes and the decision, side by side.
    r = await client.get(f"/api/selections/{sid}/export.csv", headers=c.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["评选", "季度", "候选"] and "得票(户)" in header and "委员会决定" in header
    by_name = {row[2]: row for row in body}
    assert by_name["王建国"][header.index("得票(户)")] == "2" and by_name["王建国"][header.index("委员会决定")] == "入选"
    assert by_name["张明华"][header.index("委员会决定")] == "未入选"
    assert by_name["赵丽"][header.index("来源")] == "居民提名"
    assert (await client.get(f"/api/selections/{sid}/export.csv", headers=zhao.headers)).status_code == 403
    del h1


async def test_a_household_selection_names_households_by_a_member_and_shows_party_households(client, world: World,
                                                                                             pool):
    """最美家庭: candidates are households; a resident nominates one by naming a member; a household
    whose confirmed party member chose 亮身份 reads 党员户."""
    c = await world.community("家庭社区")
    sun, qian, zhou = [await world.member(c, n) for n in ("孙立", "钱芳", "周平")]
    h_sun = await _household(client, c, "孙家", sun)
    await _household(client, c, "钱家", qian)
    h_zhou = await _household(client, c, "周家", zhou)
    activity = await _activity(client, c, hours=2, points=10)
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [sun.id], "reason": "签到", "minutes": 60})
    # 孙立 is a confirmed party member (双报到) and shows it.
    unit = await pool.fetchval("insert into units (name, kind, parent_id, created_at) values ('街道办', 'government', $1, now()) "
                               "returning id", c.street_id)
    await pool.execute("insert into unit_members (unit_id, user_id, party_member, confirmed, created_at) "
                       "values ($1, $2, true, true, now())", unit, sun.id)
    await ok(client, sun, "PUT", "/api/me/party-identity", json={"shown": True})
    opened = await ok(client, c.manager, "POST", "/api/selections", json={
        "community_id": c.id, "kind": "household", "quarter": "2026Q4", "top_n": 3, "days": 2})
    [top] = opened["candidates"]
    assert top["household_id"] == h_sun and top["party_household"]
    after = await ok(client, qian, "POST", f"/api/selections/{opened['id']}/nominations",
                     json={"user_id": zhou.id, "reason": "邻里和睦，孝老爱亲"})
    nominated = next(x for x in after["candidates"] if x["household_id"] == h_zhou)
    assert nominated["nominated"] and not nominated["party_household"] and nominated["user_id"] is None
    # Nobody nominates their own household.
    r = await client.post(f"/api/selections/{opened['id']}/nominations", headers=sun.headers,
                          json={"user_id": sun.id, "reason": "我家"})
    assert r.status_code == 422, r.text


async def test_the_daily_sweep_awards_once_a_day_and_never_twice(client, world: World, pool):
    from domain.recognition import medals
    c = await world.community("每日勋章社区")
    member = await world.member(c, "每日居民")
    activity = await _activity(client, c, hours=11)
    await ok(client, c.manager, "POST", f"/api/activities/{activity['id']}/attendance/mark",
             json={"user_ids": [member.id], "reason": "补录", "minutes": 600})
    await medals.sweep_daily(pool, clock.now())
    await medals.sweep_daily(pool, clock.now())  # the same day: the community is not swept again
    assert await pool.fetchval("select count(*) from medal_sweep_days where community_id = $1", c.id) == 1
    clock.advance(timedelta(days=1))
    await medals.sweep_daily(pool, clock.now())  # a new day sweeps again, and gives nothing twice
    assert await pool.fetchval("select count(*) from medal_sweep_days where community_id = $1", c.id) == 2
    assert [r["code"] for r in await pool.fetch("select code from medals where user_id = $1", member.id)] == ["hours:10"]

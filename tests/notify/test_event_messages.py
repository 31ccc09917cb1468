"""Every event that decides something for a person tells them, with a link to where to act (issue 33,
finding 1): joining approved or rejected, 报到 confirmed or rejected, a waiting-list place freed, a
certificate issued, a check-out nobody watched (station, close) and the 0-minute automatic one."""

from datetime import timedelta

from domain.core import clock
from domain.notify import rules
from tests.checkin.test_activities import T0, new_activity
from tests.checkin.test_scanning import card_of, station
from tests.people.test_joining import activity as live_activity
from tests.people.test_joining import poster_code
from tests.units.test_units import report, street_with_units


async def messages(client, person) -> list[dict]:
    r = await client.get("/api/me/messages", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_durations_read_one_way():
    assert rules.duration(1728) == "28小时48分"
    assert rules.duration(3) == "3分钟"
    assert rules.duration(120) == "2小时"
    assert rules.duration(0) == "0分钟"
    assert rules.duration(1728, english=True) == "28 h 48 min"


async def test_joining_decisions_reach_the_inbox(client, world, pool):
    c = await world.community("三苏社区")
    yes, no = await world.person("陈静"), await world.person("路人")
    made = await live_activity(client, c)
    code = await poster_code(pool, made["id"])
    asked = (await client.post("/api/join-requests", headers=yes.headers, json={"scan_code": code})).json()
    r = await client.post(f"/api/join-requests/{asked['id']}/approve", headers=c.manager.headers)
    assert r.status_code == 200, r.text
    [got] = await messages(client, yes)
    assert got["title"] == "入社申请已通过"
    assert got["text"] == "您已加入三苏社区，成为志愿者。您的签到也已完成。"
    assert got["link"] == f"/activity.html?id={made['id']}"

    join = (await client.get(f"/api/communities/{c.id}/join-code", headers=c.manager.headers)).json()
    asked = (await client.post("/api/join-requests", headers=no.headers, json={"join_code": join["code"]})).json()
    await client.post(f"/api/join-requests/{asked['id']}/reject", headers=c.manager.headers, json={"reason": "不住本社区"})
    [got] = await messages(client, no)
    assert (got["title"], got["text"]) == ("入社申请未通过", "三苏社区未通过您的入社申请：不住本社区。")


async def test_baodao_decisions_reach_the_inbox(client, world):
    s = await street_with_units(client, world)
    first = await report(client, s.a, s.unit, s.c1)
    second = await report(client, s.b, s.unit, s.c1)
    r = await client.post(f"/api/unit-reports/{first['id']}/approve", headers=s.c1.manager.headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/unit-reports/{second['id']}/reject", headers=s.c1.manager.headers,
                          json={"reason": "请到居住地社区报到"})
    assert r.status_code == 200, r.text
    [approved] = await messages(client, s.a)
    assert approved["title"] == "报到已确认" and approved["link"] == "/baodao.html"
    [rejected] = await messages(client, s.b)
    assert rejected["title"] == "报到未通过" and "请到居住地社区报到" in rejected["text"]
    assert rejected["link"] == "/baodao.html#baodao-form-card"  # the form, to report again


async def test_the_next_person_on_the_waiting_list_hears_their_place_came_free(client, world):
    clock.freeze(T0)
    c = await world.community()
    first, second = await world.member(c, "甲"), await world.member(c, "乙")
    activity = await new_activity(client, c, capacity=1, starts=T0 + timedelta(days=1), ends=T0 + timedelta(days=1, hours=2))
    for person in (first, second):
        assert (await client.post(f"/api/activities/{activity['id']}/signup", headers=person.headers)).status_code == 200
    assert await messages(client, second) == []
    await client.post(f"/api/activities/{activity['id']}/signup/cancel", headers=first.headers)
    [got] = await messages(client, second)
    assert got["title"] == "候补已转正" and got["link"] == f"/activity.html?id={activity['id']}"
    assert await messages(client, first) == []


async def test_an_issued_certificate_tells_its_person(client, world):
    c = await world.community("安宁社区")
    person = await world.member(c, "陈小红")
    await world.fund(person, c, "minutes", 1728)
    asked = (await client.post("/api/certificates", json={"community_id": c.id}, headers=person.headers)).json()
    issued = await client.post(f"/api/certificates/{asked['id']}/issue", json={}, headers=c.manager.headers)
    assert issued.status_code == 200, issued.text
    [got] = await messages(client, person)
    assert got["title"] == "服务证明已开具" and got["link"] == f"/certificate.html?id={asked['id']}"
    assert "28小时48分" in got["text"] and issued.json()["number"] in got["text"]


async def test_check_outs_nobody_watched_are_told_and_a_zero_one_offers_a_correction(client, world, pool):
    c = await world.community()
    stays, leaves = await world.member(c, "王大爷"), await world.member(c, "李阿姨")
    made = await live_activity(client, c, points=10, starts=-20, ends=240)
    code = await poster_code(pool, made["id"])
    for person in (stays, leaves):
        r = await client.post("/api/scans", headers=person.headers, json={"code": code, "nonce": f"in-{person.id}"})
        assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text
    clock.freeze(clock.now() + timedelta(minutes=90))
    # A station checks 王大爷 out: he did not see it on his phone, the message says what it credited.
    r = await station(client, c, made["id"], await card_of(client, stays), intent="check_out")
    assert r.status_code == 200 and r.json()["action"] == "checked_out", r.text
    [credited] = await messages(client, stays)
    assert credited["title"] == "签退已记录" and "1小时30分" in credited["text"]
    # 李阿姨 forgot to scan out: the close checks her out with nothing credited, and says so.
    r = await client.post(f"/api/activities/{made['id']}/close", headers=c.manager.headers)
    assert r.status_code == 200, r.text
    [zero] = await messages(client, leaves)
    attendance = await pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                     made["id"], leaves.id)
    assert zero["title"] == "自动签退，未记时长" and "申请补录" in zero["text"]
    assert zero["link"] == f"/activity.html?id={made['id']}&correction={attendance}"
    assert len(await messages(client, stays)) == 1  # already out: the close tells him nothing more

    # 申请补录 from the message: the managers hear of it and read it beside the review list.
    url = f"/api/checkins/{attendance}/correction-request"
    r = await client.post(url, headers=stays.headers, json={"reason": "冒名"})
    assert r.status_code == 404  # somebody else's attendance: nothing is asked
    assert await pool.fetchval("select count(*) from checkout_corrections where attendance_id = $1", attendance) == 0
    r = await client.post(url, headers=leaves.headers, json={"reason": "我一直在场，忘了签退"})
    assert r.status_code == 201 and r.json()["minutes"] == 0, r.text
    again = await client.post(url, headers=leaves.headers, json={"reason": "再问一次"})
    assert again.json()["id"] == r.json()["id"] and again.json()["reason"] == "我一直在场，忘了签退"
    asked = [m for m in await messages(client, c.manager) if m["title"] == "补录申请"]
    assert len(asked) == 1 and "我一直在场，忘了签退" in asked[0]["text"] and "李阿姨" in asked[0]["text"]
    assert asked[0]["link"] == f"/activities.html?id={made['id']}#corrections"
    listed = (await client.get(f"/api/activities/{made['id']}/correction-requests", headers=c.manager.headers)).json()
    assert [(i["user_name"], i["reason"]) for i in listed["items"]] == [("李阿姨", "我一直在场，忘了签退")]

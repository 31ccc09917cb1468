"""The need (需求清单) lifecycle (issue 31): a reported party member claims, serves, the community confirms
with its minutes of the meeting; the credit goes to the person and counts for their unit, in one act
with one audit row; above the thresholds a second person approves; a declined claim frees its place."""

from domain.core import clock
from tests.checkin.test_activities import T0


async def setup(world, pool):
    clock.freeze(T0)
    c = await world.community("三苏社区")
    member = await world.member(c, "王党员")
    async with pool.acquire() as conn:
        unit_id = await conn.fetchval("insert into units (name, kind, parent_id, created_at) values "
                                      "('税务分局', 'government', $1, now()) returning id", c.street_id)
        await conn.execute("insert into unit_members values ($1, $2, true, true, now())", unit_id, member.id)
        await conn.execute("insert into unit_reports (user_id, unit_id, community_id, state, created_at, decided_at) "
                           "values ($1, $2, $3, 'approved', now(), now())", member.id, unit_id, c.id)
        await conn.execute("insert into unit_admins values ($1, $2, now())", unit_id, c.manager.id)
    return c, member, unit_id


async def call(client, who, method, url, body=None, status=200):
    r = await client.request(method, url, json=body, headers=who.headers)
    assert r.status_code == status, (url, r.status_code, r.text)
    return r.json() if r.content else None


async def snapshot(pool, member_id, claim_id):
    return (await pool.fetch("select balance from accounts where user_id = $1 order by id", member_id),
            await pool.fetchval("select state from need_claims where id = $1", claim_id),
            await pool.fetchval("select count(*) from audit_log where target_type = 'need_claim' and target_id = $1",
                                claim_id))


async def test_claim_serve_confirm_credits_the_person_and_the_unit_in_one_act(client, world, pool):
    c, member, unit_id = await setup(world, pool)
    need = await call(client, c.manager, "POST", f"/api/communities/{c.id}/needs",
                      {"title": "周末楼道清理", "slots": 1}, 201)
    claimed = await call(client, member, "POST", f"/api/needs/{need['id']}/claim")
    assert claimed["mine"] and claimed["my_claim_state"] == "claimed" and claimed["taken"] == 1
    claim_id = claimed["my_claim_id"]
    other = await world.member(c, "邻居")
    assert (await client.post(f"/api/need-claims/{claim_id}/serve", headers=other.headers, json={})).status_code == 404
    served = await call(client, member, "POST", f"/api/need-claims/{claim_id}/serve", {"note": "清了三层楼道"})
    assert served["state"] == "served"

    # the claimant cannot confirm their own (even if they managed the community): nobody pays themself
    confirmed = await call(client, c.manager, "POST", f"/api/need-claims/{claim_id}/confirm",
                           {"minutes": 120, "points": 20, "record": "2026年第3次居民议事会：已完成"})
    assert confirmed["state"] == "confirmed" and confirmed["unit_name"] == "税务分局"
    earned = await pool.fetch("select unit, sum(earned)::int as n from earned_daily where user_id = $1 and community_id = $2 "
                              "group by unit order by unit", member.id, c.id)
    assert [tuple(r) for r in earned] == [("minutes", 120), ("points", 20)]
    audits = await pool.fetch("select act, after from audit_log where target_type = 'need_claim' and target_id = $1",
                              claim_id)
    assert [a["act"] for a in audits] == ["need_confirm"]
    after = audits[0]["after"]
    assert after["unit_id"] == unit_id and len(after["transfers"]) == 2  # one act: both credits, and the unit
    # the unit's administrator sees it in the unit's year; the person sees it on their card
    view = await call(client, c.manager, "GET", f"/api/units/{unit_id}/view")
    assert [(m["name"], m["minutes_year"]) for m in view["members"]] == [("王党员", 120)]
    record = await call(client, member, "GET", "/api/me/service-record")
    assert [(n["title"], n["minutes"], n["points"]) for n in record["needs"]] == [("周末楼道清理", 120, 20)]
    # confirming again moves nothing
    before = await snapshot(pool, member.id, claim_id)
    await call(client, c.manager, "POST", f"/api/need-claims/{claim_id}/confirm",
               {"minutes": 120, "points": 20, "record": "再次"}, 409)
    assert await snapshot(pool, member.id, claim_id) == before


async def test_above_the_threshold_a_second_person_approves(client, world, pool):
    c, member, _ = await setup(world, pool)
    deputy = await world.person("副书记")
    async with pool.acquire() as conn:
        await conn.execute("insert into org_managers (org_id, user_id) values ($1, $2)", c.id, deputy.id)
    need = await call(client, c.manager, "POST", f"/api/communities/{c.id}/needs", {"title": "值守卡点", "slots": 2}, 201)
    claim_id = (await call(client, member, "POST", f"/api/needs/{need['id']}/claim"))["my_claim_id"]
    waiting = await call(client, c.manager, "POST", f"/api/need-claims/{claim_id}/confirm",
                         {"minutes": 60, "points": 500, "record": "议事会记录"})
    assert waiting["state"] == "awaiting_second"
    before = await snapshot(pool, member.id, claim_id)
    await call(client, c.manager, "POST", f"/api/need-claims/{claim_id}/approve", None, 403)
    await call(client, member, "POST", f"/api/need-claims/{claim_id}/approve", None, 403)
    assert await snapshot(pool, member.id, claim_id) == before
    done = await call(client, deputy, "POST", f"/api/need-claims/{claim_id}/approve")
    assert done["state"] == "confirmed"
    assert await pool.fetchval("select sum(earned) from earned_daily where user_id = $1 and unit = 'points'",
                               member.id) == 500


async def test_a_declined_claim_returns_its_place(client, world, pool):
    c, member, _ = await setup(world, pool)
    need = await call(client, c.manager, "POST", f"/api/communities/{c.id}/needs", {"title": "陪老人就医", "slots": 1}, 201)
    claim_id = (await call(client, member, "POST", f"/api/needs/{need['id']}/claim"))["my_claim_id"]
    gone = await call(client, c.manager, "POST", f"/api/need-claims/{claim_id}/decline",
                      {"reason": "当天未到场", "unserved": True})
    assert gone["state"] == "unserved"
    needs = await call(client, member, "GET", f"/api/communities/{c.id}/needs")
    assert [(n["taken"], n["mine"]) for n in needs if n["id"] == need["id"]] == [(0, False)]
    again = await call(client, member, "POST", f"/api/needs/{need['id']}/claim")
    assert again["my_claim_id"] != claim_id and again["taken"] == 1

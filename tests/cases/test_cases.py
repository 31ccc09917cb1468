"""The grid loop over the API: a courier's hazard from report to rating, escalation of an overdue case,
a resident's proposal from discussion to closure, the refusals (each leaving nothing changed), and the
figures against a SQL count of the test's own street."""

from datetime import datetime, timedelta, timezone

import pytest

from domain import cases, ledger
from domain.core import clock
from tests.cases.support import build, hazard_case, ok, photo

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai: no quiet hours


async def points(pool, person) -> int:
    async with pool.acquire() as conn:
        return (await ledger.balances(conn, person.id))["points"].balance


async def minutes(pool, person) -> int:
    async with pool.acquire() as conn:
        return (await ledger.balances(conn, person.id))["minutes"].balance


async def messages(pool, person) -> list[str]:
    async with pool.acquire() as conn:
        return [r["kind"] for r in await conn.fetch("select kind from notifications where user_id = $1 order by id",
                                                    person.id)]


async def snapshot(pool, case_id: int, *people) -> dict:
    """Everything a refused act could have touched: the case, its history, votes, followers, photos,
    the audit rows about it, the people's balances and messages."""
    async with pool.acquire() as conn:
        return {
            "case": dict(await conn.fetchrow("select * from cases where id = $1", case_id)),
            "events": await conn.fetchval("select count(*) from case_events where case_id = $1", case_id),
            "votes": await conn.fetchval("select count(*) from case_votes where case_id = $1", case_id),
            "followers": await conn.fetchval("select count(*) from case_followers where case_id = $1", case_id),
            "photos": await conn.fetchval("select count(*) from case_photos where case_id = $1", case_id),
            "audit": await conn.fetchval("select count(*) from audit_log where target_type = 'case' and target_id = $1",
                                         case_id),
            "people": [(str((await ledger.balances(conn, p.id))), await conn.fetchval(
                "select count(*) from notifications where user_id = $1", p.id)) for p in people],
        }


async def test_a_hazard_goes_round_the_loop_and_pays_its_bonus_at_closure(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client)
    first = await hazard_case(client, loop)
    duplicate = await hazard_case(client, loop, text="消防通道又被占用了")
    before = await points(pool, loop.courier)

    merged = await ok(client, loop.manager, "POST", f"/api/cases/{duplicate}/merge", json={"into": first})
    assert merged["state"] == "merged" and merged["merged_into"] == first
    sent = await ok(client, loop.manager, "POST", f"/api/cases/{first}/sort",
                    json={"category_id": loop.category_id, "priority": "urgent", "send_up": True})
    assert (sent["state"], sent["level"]) == ("sorted", "street")
    assert "case_sent_up" in await messages(pool, loop.street_manager)

    dispatched = await ok(client, loop.street_manager, "POST", f"/api/cases/{first}/dispatch",
                          json={"handler_id": loop.company_id})
    assert dispatched["state"] == "dispatched"
    assert datetime.fromisoformat(dispatched["deadline"]) == T0 + timedelta(hours=48)
    assert "case_dispatched" in await messages(pool, loop.handler)
    # on the company's staff and in no community: /api/me still says what the handler is
    assert (await ok(client, loop.handler, "GET", "/api/me"))["roles"] == ["handler"]
    queue = await ok(client, loop.handler, "GET", f"/api/cases?view=handler&org_id={loop.company_id}")
    assert [k["id"] for k in queue["items"]] == [first]

    await ok(client, loop.handler, "POST", f"/api/cases/{first}/accept")
    clock.advance(timedelta(hours=20))
    noted = await ok(client, loop.handler, "POST", f"/api/cases/{first}/notes",
                     files={"note": (None, "已清理通道"), "photo": ("after.jpg", photo((30, 160, 60)), "image/jpeg")})
    assert len(noted["photo_ids"]) == 2  # the courier's photo and the handler's
    done = await ok(client, loop.handler, "POST", f"/api/cases/{first}/done", json={"note": "已办结"},
                    headers={"Idempotency-Key": "done-1"})
    assert done["state"] == "done" and done["closed_in_time"] is True
    bonus = cases.rules.DEFAULT_CASE_BONUS
    assert await points(pool, loop.courier) == before + bonus          # paid at closure, before any rating
    replay = await client.post(f"/api/cases/{first}/done", json={"note": "已办结"},
                               headers={**loop.handler.headers, "Idempotency-Key": "done-1"})
    assert replay.status_code == 200 and await points(pool, loop.courier) == before + bonus
    told = await messages(pool, loop.courier)
    assert "case_done" in told and "case_bonus" in told

    rated = await ok(client, loop.courier, "POST", f"/api/cases/{first}/rate", json={"rating": "satisfied"})
    assert rated["state"] == "rated" and rated["rating"] == "satisfied"
    assert await points(pool, loop.courier) == before + bonus          # the rating pays nothing
    acts = [e["act"] for e in (await ok(client, loop.courier, "GET", f"/api/cases/{first}"))["history"]]
    assert acts == ["reported", "merged_in", "sent_up", "dispatched", "accepted", "note", "done", "rated"]
    assert await world.ledger_problems() == {}


async def test_an_overdue_case_escalates_to_the_street_then_the_district(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client, "超期社区")
    case_id = await hazard_case(client, loop)
    await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/sort",
             json={"category_id": loop.category_id, "send_up": True})
    await ok(client, loop.street_manager, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": loop.company_id})
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/accept")

    clock.advance(timedelta(hours=47))
    assert await cases.escalate_overdue(pool, clock.now(), case_ids=[case_id]) == 0
    clock.advance(timedelta(hours=2))  # past the 48 hours
    assert await cases.escalate_overdue(pool, clock.now(), case_ids=[case_id]) == 1
    shown = await ok(client, loop.street_manager, "GET", f"/api/cases/{case_id}")
    assert shown["escalation"] == 1 and shown["overdue"] is True
    assert "case_overdue" in await messages(pool, loop.handler)
    assert "case_escalated" in await messages(pool, loop.street_manager)
    assert "case_escalated" not in await messages(pool, loop.district_manager)
    assert await cases.escalate_overdue(pool, clock.now(), case_ids=[case_id]) == 0  # once per level

    clock.advance(timedelta(hours=24))
    assert await cases.escalate_overdue(pool, clock.now(), case_ids=[case_id]) == 1
    assert (await ok(client, loop.district_manager, "GET", f"/api/cases/{case_id}"))["escalation"] == 2
    assert (await messages(pool, loop.district_manager)).count("case_escalated") == 1
    assert (await messages(pool, loop.street_manager)).count("case_escalated") == 1

    # Overdue cases come first on the handler's queue; closing late pays no bonus.
    before = await points(pool, loop.courier)
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/done", json={})
    assert (await ok(client, loop.handler, "GET", f"/api/cases/{case_id}"))["closed_in_time"] is False
    assert await points(pool, loop.courier) == before


async def test_a_proposal_is_discussed_voted_by_households_published_dispatched_and_closed(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client, "议事社区")
    neighbour = await world.member(loop.c, "李大爷")
    spouse = await world.member(loop.c, "李大妈")
    async with pool.acquire() as conn:
        from domain.rankings import households
        admin = await world.actor(await world.admin())
        home = await households.create(conn, admin, community_id=loop.c.id, name="李家")
        await households.add_member(conn, admin, home.id, neighbour.id)
        await households.add_member(conn, admin, home.id, spouse.id)

    proposal = await ok(client, loop.resident, "POST", "/api/cases",
                        json={"kind": "proposal", "title": "小区加装充电桩", "text": "电动车在楼道充电很危险，建议加装充电桩"})
    case_id = proposal["id"]
    assert proposal["number"].startswith("20260601-")
    assert "case_new" in await messages(pool, loop.manager)
    await ok(client, neighbour, "POST", f"/api/cases/{case_id}/comments", json={"text": "赞成，楼道太挤了"})
    await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/meeting",
             json={"text": "议事会：居民代表十人参加，同意提交表决"})
    opened = await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/vote-open", json={"hours": 24})
    assert opened["vote"]["open"] is True

    await ok(client, neighbour, "POST", f"/api/cases/{case_id}/votes", json={"choice": "yes"})
    before = await snapshot(pool, case_id, spouse)
    second = await client.post(f"/api/cases/{case_id}/votes", json={"choice": "no"}, headers=spouse.headers)
    assert second.status_code == 409 and second.json()["details"]["rule"] == "one_vote_per_household"
    assert await snapshot(pool, case_id, spouse) == before
    await ok(client, loop.resident, "POST", f"/api/cases/{case_id}/votes", json={"choice": "yes"})
    await ok(client, loop.courier, "POST", f"/api/cases/{case_id}/votes", json={"choice": "no"})
    early = await client.post(f"/api/cases/{case_id}/publish", headers=loop.manager.headers)
    assert early.status_code == 409

    clock.advance(timedelta(hours=25))
    published = await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/publish")
    assert (published["vote"]["yes"], published["vote"]["no"], published["vote"]["published"]) == (2, 1, True)
    await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/sort",
             json={"category_id": loop.category_id, "send_up": True})
    await ok(client, loop.street_manager, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": loop.company_id})
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/accept")
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/done", json={"note": "充电桩已装好"})
    closed = await ok(client, loop.resident, "POST", f"/api/cases/{case_id}/rate", json={"rating": "fair"})
    assert closed["state"] == "rated"
    acts = [e["act"] for e in closed["history"]]
    assert acts[:6] == ["reported", "comment", "meeting", "vote_opened", "published", "sent_up"]


async def test_unsatisfied_reopens_once_and_a_unit_handler_earns_service_minutes(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client, "重办社区")
    admin = await world.actor(await world.admin())
    from domain import units
    async with pool.acquire() as conn:
        unit = await units.create_unit(conn, admin, name="区税务局党支部", kind="government", parent_id=loop.c.street_id)
    team = await ok(client, loop.street_manager, "POST", "/api/partners",
                    json={"kind": "unit", "name": "区税务局", "parent_id": loop.c.street_id, "unit_id": unit.id})
    member = await world.person("在职党员")
    invited = await ok(client, loop.street_manager, "POST", f"/api/partners/{team['id']}/invitations",
                       json={"phone": member.phone, "name": member.name})
    await ok(client, member, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer", json={"accept": True})
    # The amounts are the community's (its report settings), not the defaults.
    settings = await ok(client, loop.manager, "PUT", f"/api/communities/{loop.c.id}/report-settings",
                        json={"case_bonus_points": 7, "handler_minutes": 90})
    assert (settings["case_bonus_points"], settings["handler_minutes"]) == (7, 90)
    case_id = await hazard_case(client, loop)
    await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/sort", json={"category_id": loop.category_id,
                                                                               "send_up": True})
    await ok(client, loop.street_manager, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": team["id"]})
    before_bonus = await points(pool, loop.courier)
    await ok(client, member, "POST", f"/api/cases/{case_id}/accept")
    await ok(client, member, "POST", f"/api/cases/{case_id}/done", json={})
    reopened = await ok(client, loop.courier, "POST", f"/api/cases/{case_id}/rate", json={"rating": "unsatisfied"})
    assert (reopened["state"], reopened["reopened"]) == ("dispatched", True)
    assert await minutes(pool, member) == 0
    await ok(client, member, "POST", f"/api/cases/{case_id}/accept")
    await ok(client, member, "POST", f"/api/cases/{case_id}/done", json={})
    bonus_paid = await points(pool, loop.courier)
    assert bonus_paid == before_bonus + 7
    final = await ok(client, loop.courier, "POST", f"/api/cases/{case_id}/rate", json={"rating": "satisfied"})
    assert final["state"] == "rated"
    assert await minutes(pool, member) == 90
    assert await points(pool, loop.courier) == bonus_paid  # one bonus, however often it closes
    assert await world.ledger_problems() == {}


async def test_refusals_change_nothing(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client, "拒绝社区")
    other = await build(world, client, "别的社区")
    case_id = await hazard_case(client, loop)
    other_case = await hazard_case(client, other)
    await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/sort",
             json={"category_id": loop.category_id, "send_up": True})
    people = (loop.courier, other.courier, loop.handler, other.handler)

    # A handler cannot see cases not dispatched to it, one by one or in its queue.
    before = await snapshot(pool, case_id, *people)
    assert (await client.get(f"/api/cases/{case_id}", headers=loop.handler.headers)).status_code == 404
    assert (await client.post(f"/api/cases/{case_id}/accept", headers=loop.handler.headers)).status_code == 404
    foreign_queue = await client.get(f"/api/cases?view=handler&org_id={loop.company_id}", headers=other.handler.headers)
    assert foreign_queue.status_code == 403
    # A street manager of another street cannot dispatch.
    r = await client.post(f"/api/cases/{case_id}/dispatch", json={"handler_id": other.company_id},
                          headers=other.street_manager.headers)
    assert r.status_code in (403, 404)
    assert await snapshot(pool, case_id, *people) == before

    await ok(client, loop.street_manager, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": loop.company_id})
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/accept")
    await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/done", json={})
    await ok(client, other.manager, "POST", f"/api/cases/{other_case}/sort",
             json={"category_id": other.category_id, "send_up": True})
    await ok(client, other.street_manager, "POST", f"/api/cases/{other_case}/dispatch",
             json={"handler_id": other.company_id})

    # A courier cannot rate someone else's case; the handler cannot rate it either.
    before = await snapshot(pool, case_id, *people)
    assert (await client.post(f"/api/cases/{case_id}/rate", json={"rating": "satisfied"},
                              headers=other.courier.headers)).status_code == 404
    assert (await client.post(f"/api/cases/{case_id}/rate", json={"rating": "satisfied"},
                              headers=loop.handler.headers)).status_code == 403
    assert await snapshot(pool, case_id, *people) == before

    # Nobody rates their own handling: the reporter who also handled it (a courier on the company's staff).
    invited = await ok(client, other.street_manager, "POST", f"/api/partners/{other.company_id}/invitations",
                       json={"phone": other.courier.phone, "name": other.courier.name})
    await ok(client, other.courier, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
             json={"accept": True})
    await ok(client, other.courier, "POST", f"/api/cases/{other_case}/accept")
    await ok(client, other.handler, "POST", f"/api/cases/{other_case}/done", json={})
    before = await snapshot(pool, other_case, *people)
    own = await client.post(f"/api/cases/{other_case}/rate", json={"rating": "satisfied"}, headers=other.courier.headers)
    assert own.status_code == 403 and own.json()["details"]["rule"] == "own_handling"
    assert await snapshot(pool, other_case, *people) == before


async def test_closure_figures_agree_with_a_count_of_the_streets_cases(client, world, pool):
    clock.freeze(T0)
    loop = await build(world, client, "统计社区")
    ids = [await hazard_case(client, loop, text=f"隐患{i}", place=f"{i}号楼") for i in range(4)]
    for case_id in ids[:3]:
        await ok(client, loop.manager, "POST", f"/api/cases/{case_id}/sort",
                 json={"category_id": loop.category_id, "send_up": True})
        await ok(client, loop.street_manager, "POST", f"/api/cases/{case_id}/dispatch",
                 json={"handler_id": loop.company_id})
        await ok(client, loop.handler, "POST", f"/api/cases/{case_id}/accept")
    await ok(client, loop.handler, "POST", f"/api/cases/{ids[0]}/done", json={})
    await ok(client, loop.courier, "POST", f"/api/cases/{ids[0]}/rate", json={"rating": "satisfied"})
    clock.advance(timedelta(hours=50))
    await ok(client, loop.handler, "POST", f"/api/cases/{ids[1]}/done", json={})  # late

    table = await ok(client, loop.street_manager, "GET",
                     f"/api/cases/figures?org_id={loop.c.street_id}&since=2026-01-01&until=2027-01-01")
    async with pool.acquire() as conn:
        counted = await conn.fetchrow(
            """select count(*) filter (where state <> 'merged') as opened,
                      count(*) filter (where state in ('done', 'rated')) as closed,
                      count(*) filter (where state in ('done', 'rated') and done_at <= deadline) as in_time,
                      count(*) filter (where state in ('dispatched', 'accepted') and deadline < $2) as overdue,
                      count(*) filter (where state = 'rated' and rating = 'satisfied') as satisfied
               from cases where street_id = $1""", loop.c.street_id, clock.now())
    total = table["total"]
    assert (total["opened"], total["closed"], total["closed_in_time"], total["overdue_open"], total["satisfied"]) \
        == (counted["opened"], counted["closed"], counted["in_time"], counted["overdue"], counted["satisfied"]) \
        == (4, 2, 1, 1, 1)
    assert [r["id"] for r in table["rows"]] == [loop.c.id]
    by_handler = await ok(client, loop.street_manager, "GET",
                          f"/api/cases/figures?org_id={loop.c.street_id}&by=handler&since=2026-01-01")
    assert {r["name"]: r["figures"]["closed"] for r in by_handler["rows"]} == {"统计社区物业公司": 2, "": 0}
    csv = await client.get(f"/api/cases/figures?org_id={loop.c.street_id}&format=csv&since=2026-01-01",
                           headers=loop.street_manager.headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "合计,4,2,1,1" in csv.content.decode("utf-8-sig")
    # Another street's manager reads nothing of it.
    other = await build(world, client, "外街社区")
    assert (await client.get(f"/api/cases/figures?org_id={loop.c.street_id}",
                             headers=other.street_manager.headers)).status_code == 403

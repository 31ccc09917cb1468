"""LINLI_TZ moves every local day and month (issue 15): with LINLI_TZ=Europe/Berlin, a check-in
day (the daily points cap), a report day (the daily report cap) and a redemption month (the
monthly limit) begin at Berlin's midnight, not Shanghai's. Everything goes through the API.

14 June 2026 is summer time: Berlin is UTC+2, Shanghai UTC+8. So
  15:50 UTC = 17:50 in Berlin on the 14th = 23:50 in Shanghai on the 14th,
  16:10 UTC = 18:10 in Berlin on the 14th = 00:10 in Shanghai on the 15th (Shanghai's new day),
  22:10 UTC = 00:10 in Berlin on the 15th = 06:10 in Shanghai on the 15th (Berlin's new day).
A rule on Shanghai days would reset at the second moment; on Berlin days, only at the third.
"""

from datetime import UTC, datetime, timedelta

import pytest

from domain.core import clock
from tests.checkin.test_activities import new_activity, poster_code, scan
from tests.reports.test_reports import file_report
from tests.supermarket.test_supermarket import ask, new_reward, relogin

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

BEFORE_SHANGHAI_MIDNIGHT = datetime(2026, 6, 14, 15, 50, tzinfo=UTC)
AFTER_SHANGHAI_MIDNIGHT = datetime(2026, 6, 14, 16, 10, tzinfo=UTC)
AFTER_BERLIN_MIDNIGHT = datetime(2026, 6, 14, 22, 10, tzinfo=UTC)


@pytest.fixture
def berlin(setenv):
    setenv("LINLI_TZ", "Europe/Berlin")
    assert clock.zone().key == "Europe/Berlin"


async def test_a_check_in_day_begins_at_berlin_midnight(client, world, pool, berlin):
    clock.freeze(BEFORE_SHANGHAI_MIDNIGHT - timedelta(minutes=5))
    community = await world.community()
    volunteer = await world.member(community)
    window = {"starts": BEFORE_SHANGHAI_MIDNIGHT - timedelta(minutes=1),
              "ends": AFTER_BERLIN_MIDNIGHT + timedelta(hours=1)}
    # 150 points for checking in, at most 200 check-in points a day.
    first, second, third = [await new_activity(client, community, title=f"活动 {n}", points=150,
                                               daily_points_cap=200, **window) for n in (1, 2, 3)]
    got = []
    for moment, activity in ((BEFORE_SHANGHAI_MIDNIGHT, first), (AFTER_SHANGHAI_MIDNIGHT, second),
                             (AFTER_BERLIN_MIDNIGHT, third)):
        clock.freeze(moment)
        r = await scan(client, volunteer, await poster_code(pool, activity["id"]))
        assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text
        got.append(r.json()["points"])
    # Same Berlin day: the second gets what is left of 200; the third starts a new day.
    assert got == [150, 50, 150]


async def test_a_report_day_begins_at_berlin_midnight(client, world, berlin):
    clock.freeze(BEFORE_SHANGHAI_MIDNIGHT - timedelta(minutes=5))
    community = await world.community()
    courier = await world.member(community, role="courier")
    manager = community.manager.headers
    r = await client.put(f"/api/communities/{community.id}/report-settings", headers=manager,
                         json={"civility_points": 5, "daily_cap": 5})  # one report's points a day
    assert r.status_code == 200, r.text
    ids = []
    for n, moment in enumerate((BEFORE_SHANGHAI_MIDNIGHT, AFTER_SHANGHAI_MIDNIGHT, AFTER_BERLIN_MIDNIGHT)):
        clock.freeze(moment)
        r = await file_report(client, courier, kind="civility", text=f"劝导居民文明养犬 {n}", place=f"{n} 号楼")
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    verified = [(await client.post(f"/api/reports/{i}/verify", headers=manager)).json() for i in ids]
    assert [(v["points"], v["points_withheld"]) for v in verified] == [(5, 0), (0, 5), (5, 0)]


async def test_a_redemption_month_begins_at_berlin_midnight(client, world, pool, berlin):
    """At most 2 a month. 30 June 18:10 in Berlin is already 1 July (00:10) in Shanghai."""
    june_in_both = datetime(2026, 6, 30, 15, 50, tzinfo=UTC)              # 17:50 Berlin, 23:50 Shanghai
    july_in_shanghai_only = datetime(2026, 6, 30, 16, 10, tzinfo=UTC)     # 18:10 Berlin, 00:10 Shanghai
    late_june_in_berlin = datetime(2026, 6, 30, 21, 50, tzinfo=UTC)       # 23:50 Berlin, 05:50 Shanghai
    july_in_berlin = datetime(2026, 6, 30, 22, 10, tzinfo=UTC)            # 00:10 on 1 July in Berlin
    clock.freeze(june_in_both - timedelta(minutes=5))
    community = await world.community()
    volunteer = await world.member(community, "刘芳")
    await world.fund(volunteer, community, "points", 500)
    soap = await new_reward(client, community, name="肥皂", cost_points=5, stock=10, per_person_limit=2)

    async def ask_at(moment: datetime, quantity: int):
        clock.freeze(moment)
        return await ask(client, await relogin(pool, volunteer), soap["id"], quantity)

    assert (await ask_at(june_in_both, 1)).status_code == 201
    assert (await ask_at(july_in_shanghai_only, 1)).status_code == 201
    # Both in Berlin's June: a third is over the limit (in Shanghai's July there would be one).
    r = await ask_at(late_june_in_berlin, 1)
    assert r.status_code == 409 and r.json()["error"] == "limit_reached", r.text
    # Berlin's July is fresh: two at once fit. Counting Shanghai's July (which already has one),
    # the database's own check would refuse; it counts Berlin's months too (migrations/012).
    r = await ask_at(july_in_berlin, 2)
    assert r.status_code == 201, r.text

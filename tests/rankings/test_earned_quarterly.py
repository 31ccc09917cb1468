"""The quarter summary (earned_quarterly, kept by the ledger's entries with earned_daily) gives the
same figures as the ledger's entries read directly: the city of test_rankings posts over 2026Q3,
2026Q4 and 2027Q1 in two communities, with reversals across a quarter's end, a negative adjustment,
a spend and a minutes award. The aggregates street and district pages read (overview, rankings) are
compared with the same figures summed from the entries."""

from collections import defaultdict
from datetime import date

import pytest

from tests.rankings import test_rankings as rankings_tests
from tests.rankings.test_rankings import at, ok, travel

pytestmark = pytest.mark.sql

city = rankings_tests.city  # the fixture: each test its own city

# Earned value per person, issuing community, unit and local day, straight from the entries: an award
# or adjustment on its own day, a reversal of one on the day of what it reverses (migrations/008).
LEDGER_DAYS = """
    select a.user_id, o.org_id as community_id, a.unit,
           (coalesce(coalesce(r.resolved_at, r.created_at), e.created_at) at time zone 'Asia/Shanghai')::date as day,
           sum(e.amount)::bigint as earned
      from entries e
      join accounts a on a.id = e.account_id and a.kind = 'user'
      join transfers t on t.id = e.transfer_id
      join accounts o on o.id = case when t.debit_account = e.account_id then t.credit_account else t.debit_account end
                     and o.kind = 'issuing'
      left join transfers r on r.id = t.reverses
     where (t.kind in ('award', 'adjustment') or (t.kind = 'reversal' and r.kind in ('award', 'adjustment')))
       and o.org_id = any($1::bigint[])
     group by 1, 2, 3, 4"""

QUARTERS = {"2026Q3": (date(2026, 7, 1), date(2026, 10, 1)), "2026Q4": (date(2026, 10, 1), date(2027, 1, 1)),
            "2027Q1": (date(2027, 1, 1), date(2027, 4, 1))}


async def ledger_days(pool, communities: list[int]) -> list[tuple[int, int, str, date, int]]:
    return [tuple(r) for r in await pool.fetch(LEDGER_DAYS, communities)]


async def test_the_quarter_summary_is_the_ledger_summed_per_quarter(pool, city):
    ours = [city.a.id, city.b.id]
    want: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for user_id, community_id, unit, day, earned in await ledger_days(pool, ours):
        quarter = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        want[(community_id, unit, quarter, user_id)][0] += earned
        want[(community_id, unit, quarter, user_id)][1] += earned > 0
    kept = {(r["community_id"], r["unit"], r["quarter"], r["user_id"]): [r["earned"], r["active_days"]]
            for r in await pool.fetch("select * from earned_quarterly where community_id = any($1::bigint[])", ours)}
    assert {q for (_, _, q, _) in kept} == {date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1)}
    # 王五's annulled 1 of 31 December: a day back to 0 is no active day, and the row stays at 0.
    assert kept == dict(want) and len(kept) >= 8


async def test_overview_and_rankings_read_from_the_summary_equal_the_entries(client, pool, city, world):
    await travel(pool, at(2027, 1, 5), *city.people)
    admin = await world.admin()
    days = await ledger_days(pool, [city.a.id, city.b.id])
    for quarter, (first, end) in QUARTERS.items():
        inside = [d for d in days if first <= d[3] < end]
        overview = await ok(client, admin, "GET", f"/api/levels/{city.a.street_id}/overview?quarter={quarter}")
        for c in overview["communities"]:
            mine = [d for d in inside if d[1] == c["community_id"]]
            per_day: dict[tuple, int] = defaultdict(int)
            for user_id, _, unit, day, earned in mine:
                per_day[(user_id, unit, day)] += earned
            assert (c["active_volunteers"], c["minutes"], c["points_issued"]) == (
                len({user for (user, _, _), earned in per_day.items() if earned > 0}),
                sum(d[4] for d in mine if d[2] == "minutes"), sum(d[4] for d in mine if d[2] == "points")), quarter
        for scope, org_id, communities in (("street", city.a.street_id, {city.a.id, city.b.id}),
                                           ("community", city.a.id, {city.a.id})):
            per_person: dict[int, int] = defaultdict(int)
            for user_id, community_id, unit, _, earned in inside:
                if unit == "points" and community_id in communities:
                    per_person[user_id] += earned
            ranked = await ok(client, admin, "GET", f"/api/rankings?scope={scope}&org_id={org_id}&quarter={quarter}")
            assert {i["id"]: i["amount"] for i in ranked["items"]} == {u: v for u, v in per_person.items() if v}, \
                (scope, quarter)
    q4 = await ok(client, admin, "GET", f"/api/levels/{city.a.street_id}/overview?quarter=2026Q4")
    assert sum(c["points_issued"] for c in q4["communities"]) > 0  # the comparison compared something


async def test_a_new_time_zone_refills_the_quarters(pool, city, setenv):
    """earned_rebuild (a change of LINLI_TZ) refills the quarters from the days: 1 October 00:30 in
    Shanghai is a day of 2026Q3 in UTC, so 张三明's 30 moves to Q3 there."""
    from domain.core import clock
    before = clock.zone().key
    setenv("LINLI_TZ", "UTC")
    async with pool.acquire() as conn:
        try:
            assert await clock.write_zone(conn)
            q3 = await conn.fetchval("select earned from earned_quarterly where user_id = $1 and community_id = $2 "
                                     "and unit = 'points' and quarter = '2026-07-01'", city.zhang.id, city.a.id)
            same = await conn.fetchval(
                """select count(*) = 0 from (select community_id, unit, date_trunc('quarter', day)::date as quarter,
                                                  user_id, sum(earned) as earned, count(*) filter (where earned > 0) as days
                                             from earned_daily group by 1, 2, 3, 4
                                           except select community_id, unit, quarter, user_id, earned, active_days
                                             from earned_quarterly) x""")
        finally:
            # The database's zone outlives the test (the worker's other tests share the database): put it
            # back, or the next city's postings land in UTC days (seed 8675309 ran this one first).
            setenv("LINLI_TZ", before)
            await clock.write_zone(conn)
    assert q3 == 50 + 25 - 25 + 30 and same

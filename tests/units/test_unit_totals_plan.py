"""The unit totals of a street or district (the unit's view, the units ranking): every unit's confirmed
members and what they earned in the quarter, in any community, found by person: the members' rows of
the summary, never the whole city's rows of the quarter."""

import json
from datetime import date

import pytest

from domain.units import service

pytestmark = pytest.mark.asyncio(loop_scope="session")

QUARTER = (date(2026, 7, 1), date(2026, 10, 1))
UNITS, MEMBERS = 30, 40


def nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


async def analyzed(conn, sql: str) -> list[dict]:
    raw = await conn.fetchval(f"explain (analyze, format json) {sql}")
    return list(nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))


async def test_unit_totals_sum_each_members_quarter_read_by_person(world, pool):
    street_id = (await world.community("三苏社区")).street_id
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:  # written set-based and rolled back
            units = await conn.fetchval(
                """with u as (insert into units (name, kind, parent_id, created_at)
                              select '单位' || lpad(g::text, 3, '0'), 'other', $1, now()
                                from generate_series(1, $2::int) g returning id)
                   select array_agg(id order by id) from u""", street_id, UNITS)
            people = await conn.fetchval(
                """with p as (insert into users (name) select '成员' || g from generate_series(1, $1::int) g
                              returning id)
                   select array_agg(id order by id) from p""", UNITS * MEMBERS + 5000)
            # Members: every tenth unconfirmed (not counted); the first unit's members also belong to the
            # second (counted in both); the last unit has none. Earnings: minutes and points in two
            # communities this quarter, and some in the quarters around it (not counted). People beyond
            # the members earn too (the rest of the city).
            members = [(units[i // MEMBERS], people[i], i % 10 != 0) for i in range((UNITS - 1) * MEMBERS)]
            members += [(units[1], people[i], True) for i in range(MEMBERS)]
            await conn.executemany(
                "insert into unit_members (unit_id, user_id, party_member, confirmed, created_at) "
                "values ($1, $2, true, $3, now())", members)
            earned = [(c, unit, q, person, (i * 37 + c) % 500 - 40)
                      for i, person in enumerate(people)
                      for c, unit, q in ((1, "minutes", QUARTER[0]), (2, "minutes", QUARTER[0]),
                                         (1, "points", QUARTER[0]), (1, "minutes", date(2026, 4, 1)),
                                         (2, "points", QUARTER[1]))
                      if (i + c) % 3 or unit == "points"]
            await conn.executemany(
                "insert into earned_quarterly (community_id, unit, quarter, user_id, earned, active_days) "
                "values ($1, $2, $3, $4, $5, 1)", earned)
            await conn.execute("analyze units; analyze unit_members; analyze earned_quarterly")

            want = {u: [0, 0, 0] for u in units}
            quarter: dict[tuple[int, str], int] = {}
            for _, unit, q, person, amount in earned:
                if q == QUARTER[0]:
                    quarter[person, unit] = quarter.get((person, unit), 0) + amount
            for unit_id, person, confirmed in members:
                if confirmed:
                    want[unit_id][0] += 1
                    want[unit_id][1] += quarter.get((person, "minutes"), 0)
                    want[unit_id][2] += quarter.get((person, "points"), 0)
            rows = await conn.fetch(service.Q.unit_totals, street_id, *QUARTER)
            assert [(r["unit_id"], r["members"], r["minutes"], r["points"]) for r in rows] == sorted(
                ((u, *t) for u, t in want.items()), key=lambda r: (-r[2], -r[3], units.index(r[0])))
            assert rows[-1]["unit_id"] == units[-1] and rows[-1]["members"] == 0

            # Custom and generic plans (asyncpg's prepared statement may switch to the generic one).
            custom = await analyzed(conn, service.Q.unit_totals.replace("$1", str(int(street_id)))
                                    .replace("$2", f"'{QUARTER[0]}'::date").replace("$3", f"'{QUARTER[1]}'::date"))
            await conn.execute(f"prepare linli_unit_totals (bigint, date, date) as {service.Q.unit_totals}")
            await conn.execute("set local plan_cache_mode = force_generic_plan")
            generic = await analyzed(conn, f"execute linli_unit_totals ({int(street_id)}, "
                                           f"'{QUARTER[0]}', '{QUARTER[1]}')")
            for steps in (custom, generic):
                # The members' rows looked up by person, never the city's rows of the quarter.
                reads = [(n["Node Type"], n.get("Index Name"), n.get("Index Cond", "")) for n in steps
                         if n.get("Relation Name") == "earned_quarterly"]
                assert reads and all(kind in ("Index Scan", "Index Only Scan") and index == "earned_quarterly_user"
                                     and cond.lstrip("(").startswith("user_id =") for kind, index, cond in reads), reads
        finally:
            await tr.rollback()

"""The settlement's merchant lines (issue 37): the month's redemptions and refunds at a street's
merchants, found through the merchant account's entries and the transfers' primary key, never by
reading the whole transfers table (it holds a city's postings)."""

import json
from datetime import datetime

import pytest

from domain.core import clock
from domain.ledger import settlement
from tests.merchants.test_merchants import approve, build, ok, voucher

pytestmark = pytest.mark.asyncio(loop_scope="session")

BULK = 20_000  # other postings of the month: enough for the planner to prefer an index over a scan


def nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


async def plan(conn, *args) -> tuple[str, list[dict]]:
    text = "\n".join(r[0] for r in await conn.fetch(f"explain {settlement.Q.merchant_lines}", *args))
    raw = await conn.fetchval(f"explain (format json) {settlement.Q.merchant_lines}", *args)
    return text, list(nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))


async def generic_plan(conn, *args) -> tuple[str, list[dict]]:
    """The plan PostgreSQL switches to once asyncpg's prepared statement has run a few times."""
    await conn.execute(f"prepare linli_merchants (bigint, timestamptz, timestamptz, bigint[]) as {settlement.Q.merchant_lines}")
    try:
        await conn.execute("set local plan_cache_mode = force_generic_plan")
        level, starts_at, ends_at, communities = args  # EXECUTE takes values, not parameters
        values = (f"{int(level)}, '{starts_at.isoformat()}', '{ends_at.isoformat()}', "
                  f"array[{', '.join(str(int(c)) for c in communities)}]::bigint[]")
        text = "\n".join(r[0] for r in await conn.fetch(f"explain execute linli_merchants ({values})"))
        raw = await conn.fetchval(f"explain (format json) execute linli_merchants ({values})")
        return text, list(nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]))
    finally:
        await conn.execute("deallocate linli_merchants")


async def test_merchant_lines_net_refunds_and_read_no_whole_transfers_table(client, world, pool):
    s = await build(world, client)
    await approve(client, s)
    code = (await voucher(client, s))["code"]
    done = await ok(client, s.staff, "POST", f"/api/merchants/{s.merchant_id}/redemptions", json={"code": code})
    url = f"/api/orgs/{s.a.street_id}/settlement?month=2026-06"
    [line] = [m for m in (await ok(client, s.street_manager, "GET", url))["merchants"]
              if m["merchant_id"] == s.merchant_id]
    assert (line["issuer_id"], line["redemptions"], line["points"]) == (s.b.id, 1, 200)
    await ok(client, s.staff, "POST", f"/api/merchant-redemptions/{done['id']}/refund", json={"reason": "顾客有事"})
    [line] = [m for m in (await ok(client, s.street_manager, "GET", url))["merchants"]
              if m["merchant_id"] == s.merchant_id]
    assert (line["issuer_id"], line["redemptions"], line["points"]) == (s.b.id, 1, 0)  # the refund nets it
    assert (await ok(client, s.street_manager, "GET", f"/api/orgs/{s.a.street_id}/settlement?month=2026-07")
            )["merchants"] == []

    tz = clock.zone()
    month = (s.a.street_id, datetime(2026, 6, 1, tzinfo=tz), datetime(2026, 7, 1, tzinfo=tz), [s.a.id, s.b.id])
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:  # a month of other postings, written set-based and rolled back (the ledger's triggers off meanwhile)
            # Spread over every person's points account, as a city's postings are (the planner
            # judges an index by how many entries one account holds).
            await conn.execute("insert into users (name) select '结算' || g from generate_series(1, 2000) g")
            people = await conn.fetchval(
                """with a as (insert into accounts (kind, user_id, org_id, unit)
                              select 'user', id, $1, 'points' from users where name like '结算%' returning id)
                   select array_agg(id) from a""", s.b.id)
            assert len(people) >= 2000
            for table in ("transfers", "entries"):
                await conn.execute(f"alter table {table} disable trigger user")
            await conn.execute(
                """with t as (
                       insert into transfers (unit, debit_account, credit_account, amount, kind, state, cause_type,
                                              memo, created_at)
                       select 'points', ($1::bigint[])[1 + g % n], ($1::bigint[])[1 + (g + 1) % n], 1, 'gift', 'posted',
                              'gift', '转赠', $2::timestamptz + g * interval '1 minute'
                         from generate_series(1, $3::int) g, cardinality($1::bigint[]) n
                       returning id, debit_account, credit_account, created_at)
                   insert into entries (transfer_id, account_id, amount, created_at)
                   select id, debit_account, -1, created_at from t
                   union all select id, credit_account, 1, created_at from t""",
                people, month[1], BULK)
            await conn.execute("analyze transfers")
            await conn.execute("analyze entries")
            for text, steps in (await plan(conn, *month), await generic_plan(conn, *month)):
                print(text)
                scans = {(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in steps}
                assert ("Seq Scan", "transfers", None) not in scans, text
                assert ("Seq Scan", "entries", None) not in scans, text
                indexes = {index for _, _, index in scans}
                assert {"transfers_pkey", "entries_account"} <= indexes, text  # the merchant's entries, then by id
            # The lines are still right among the other postings.
            [row] = [r for r in await conn.fetch(settlement.Q.merchant_lines, *month) if r["merchant_id"] == s.merchant_id]
            assert (row["redemptions"], row["points"]) == (1, 0)
        finally:
            await tr.rollback()
    assert await world.ledger_problems() == {}

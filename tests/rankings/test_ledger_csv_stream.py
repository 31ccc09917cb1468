"""The community ledger CSV streams page by page without a cap (issue 37): the same bytes as the
export built whole before it, over more than one page, and a refusal is still a JSON error before
the first byte."""

import asyncio
from datetime import timedelta

import asyncpg

from domain import rankings
from domain.core import clock
from domain.core.csv_export import to_csv
from domain.ledger import statements
from domain.people import orgs
from domain.rankings import service
from tests.rankings import test_rankings as rankings_tests
from tests.rankings.test_rankings import at, travel

city = rankings_tests.city  # the fixture: each test its own city (甲社区 and its Q4 postings)

PERIOD = {"from": "2026-10-01", "to": "2026-12-31"}


async def whole_ledger_csv(conn: asyncpg.Connection, community_id: int, date_from: str, date_to: str) -> bytes:
    """The export as it was built before issue 37 (one fetch, one to_csv), kept as the oracle."""
    tz = clock.zone()
    start, end = service._date_arg(date_from, "from"), service._date_arg(date_to, "to")
    rows = await conn.fetch(service.Q.ledger_postings, community_id, service.rules.local_midnight(start, tz),
                            service.rules.local_midnight(end + timedelta(days=1), tz))
    labels = await service.account_labels(conn, {r["debit_account"] for r in rows} | {r["credit_account"] for r in rows})
    memos = await statements.render_memos(conn, [r["memo"] for r in rows])
    return to_csv(service.LEDGER_HEADER, (
        [r["posted_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), r["id"], service.KIND_ZH.get(r["kind"], r["kind"]),
         service.CAUSE_ZH.get(r["cause_type"], r["cause_type"] or ""), memo, service.UNIT_ZH.get(r["unit"], r["unit"]),
         r["amount"], labels.get(r["debit_account"], ""), labels.get(r["credit_account"], ""), r["reverses"],
         r["actor_name"], r["reason"]] for r, memo in zip(rows, memos)))


async def test_streamed_ledger_is_the_whole_ledger_byte_for_byte_over_several_pages(client, pool, city, monkeypatch):
    await travel(pool, at(2027, 1, 5), *city.people)
    async with pool.acquire() as conn:
        want = await whole_ledger_csv(conn, city.a.id, PERIOD["from"], PERIOD["to"])
    lines = want.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 13  # the header and the 13 postings test_rankings lists for 甲社区's Q4

    monkeypatch.setattr(service, "LEDGER_PAGE", 2)  # 13 postings: seven pages
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        manager = await orgs.load_actor(conn, city.a.manager.id)
        pages = [p async for p in rankings.ledger_csv_pages(conn, manager, city.a.id,
                                                            PERIOD["from"], PERIOD["to"])]
    assert len(pages) == 7 and b"".join(pages) == want
    assert pages[0].startswith("\ufeff".encode()) and all(not p.startswith("\ufeff".encode()) for p in pages[1:])

    r = await client.get(f"/api/communities/{city.a.id}/ledger.csv", params=PERIOD, headers=city.a.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="ledger-{city.a.id}-2026-10-01-2026-12-31.csv"'
    assert r.content == want


async def test_an_empty_period_is_the_header_alone(client, city):
    r = await client.get(f"/api/communities/{city.a.id}/ledger.csv", params={"from": "2020-01-01", "to": "2020-01-31"},
                         headers=city.a.manager.headers)
    assert r.status_code == 200 and r.content.decode("utf-8-sig").splitlines() == [",".join(service.LEDGER_HEADER)]


async def test_a_refusal_is_a_json_error_and_gives_the_connection_back(app, client, city, monkeypatch):
    monkeypatch.setattr(service, "LEDGER_PAGE", 2)
    url = f"/api/communities/{city.a.id}/ledger.csv"
    async with asyncio.timeout(60):  # a refusal that kept its connection would leave the last export waiting
        await refusals(client, city, url, app.state.pool.get_max_size())  # three times the pool's connections
        assert (await client.get(url, params=PERIOD, headers=city.a.manager.headers)).status_code == 200


async def refusals(client, city, url: str, rounds: int) -> None:
    for _ in range(rounds):
        other = await client.get(url, params=PERIOD, headers=city.b.manager.headers)
        assert other.status_code == 403 and other.json()["error"] == "forbidden"
        late = await client.get(url, params={"from": "2026-12-31", "to": "2026-10-01"}, headers=city.a.manager.headers)
        assert late.status_code == 422 and late.json()["details"]["field"] == "to"
        long = await client.get(url, params={"from": "2024-01-01", "to": "2026-12-31"}, headers=city.a.manager.headers)
        assert long.status_code == 422 and long.json()["details"]["field"] == "to"

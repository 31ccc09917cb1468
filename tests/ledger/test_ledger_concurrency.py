"""Racing movements (issue 4 acceptance 2 and 3): the balance is never overdrawn however many spends
or holds race for it, and a request replayed with its idempotency key moves value exactly once,
whether the replays come one after another or all at once."""

import asyncio

import asyncpg
import pytest

from domain import ledger
from domain.core.errors import DomainError
from tests.ledger.ledger_support import accounts_of, balance_of, new_key

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both

RACERS = 64


@pytest.fixture
async def member_with_300(world, pool):
    community = await world.community()
    member = await world.member(community)
    await world.fund(member, community, "points", 300)
    return community, member, await accounts_of(pool, community.id, member.id)


async def watch_available(database_url: str, account: int, stop: asyncio.Event) -> list[int]:
    """Sample the account's available balance on a connection of its own while the race runs."""
    seen = []
    conn = await asyncpg.connect(database_url)
    try:
        while not stop.is_set():
            seen.append(await conn.fetchval("select balance - held from accounts where id = $1", account))
            await asyncio.sleep(0)
    finally:
        await conn.close()
    return seen


async def race(pool, database_url, account, movement):
    """Run RACERS copies of `movement`, each in its own transaction, while watching the account."""
    async def one():
        async with pool.acquire() as conn, conn.transaction():
            return await movement(conn)

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_available(database_url, account, stop))
    results = await asyncio.gather(*[one() for _ in range(RACERS)], return_exceptions=True)
    stop.set()
    seen = await watcher
    done = [r for r in results if isinstance(r, ledger.Transfer)]
    refused = [getattr(r, "code", repr(r)) for r in results if not isinstance(r, ledger.Transfer)]
    return done, refused, seen


async def test_64_concurrent_spends_of_10_against_300(pool, world, database_url, member_with_300):
    _, _, acc = member_with_300
    done, refused, seen = await race(pool, database_url, acc.user, lambda conn: ledger.post(
        conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=10, kind="redemption"))
    assert len(done) == 30
    assert refused == ["insufficient_balance"] * (RACERS - 30)
    assert seen and min(seen) >= 0
    assert await balance_of(pool, acc.user) == (0, 0)
    # every balance the account ever had, in the order the postings hit it
    history = [r["balance_after"] for r in await pool.fetch(
        "select balance_after from entries where account_id = $1 order by id", acc.user)]
    assert history == list(range(300, -1, -10))
    assert await world.ledger_problems() == {}


async def test_64_concurrent_holds_of_10_against_300(pool, world, database_url, member_with_300):
    _, _, acc = member_with_300
    done, refused, seen = await race(pool, database_url, acc.user, lambda conn: ledger.hold(
        conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=10, kind="redemption"))
    assert len(done) == 30
    assert refused == ["insufficient_balance"] * (RACERS - 30)
    assert seen and min(seen) >= 0
    assert await balance_of(pool, acc.user) == (300, 300)
    assert await world.ledger_problems() == {}
    # releasing them races too: every hold is released once
    results = await asyncio.gather(*[_in_tx(pool, lambda conn, t=t: ledger.void_pending(conn, t.id)) for t in done])
    assert {t.state for t in results} == {"voided"}
    assert await balance_of(pool, acc.user) == (300, 0)
    assert await world.ledger_problems() == {}


async def test_spends_and_holds_racing_together(pool, world, database_url, member_with_300):
    _, _, acc = member_with_300
    n = iter(range(RACERS))

    def spend_or_hold(conn):
        fn = ledger.post if next(n) % 2 else ledger.hold
        return fn(conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=10, kind="redemption")

    done, refused, seen = await race(pool, database_url, acc.user, spend_or_hold)
    assert len(done) == 30 and refused == ["insufficient_balance"] * (RACERS - 30)
    assert min(seen) >= 0
    balance, held = await balance_of(pool, acc.user)
    assert balance - held == 0 and held == 10 * sum(t.state == "pending" for t in done)
    assert await world.ledger_problems() == {}


async def _in_tx(pool, fn):
    async with pool.acquire() as conn, conn.transaction():
        return await fn(conn)


# ---- idempotency ----------------------------------------------------------------------------------

REQUESTS = 1000


async def test_1000_http_adjustments_replayed_move_value_once(client, pool, world):
    community = await world.community()
    member = await world.member(community)
    acc = await accounts_of(pool, community.id, member.id)
    # Replays are what this counts, not the daily limit of hand-made credits (issue 30): an admin lifts it.
    r = await client.put(f"/api/communities/{community.id}/adjustment-policy", headers=(await world.admin()).headers,
                         json={"daily_points": 1_000_000})
    assert r.status_code == 200 and r.json()["daily_points"] == 1_000_000, r.text

    async def adjust(key: str, amount: int = 1):
        return await client.post("/api/adjustments", headers={**community.manager.headers, "Idempotency-Key": key},
                                 json={"user_id": member.id, "unit": "points", "amount": amount, "reason": "补录签到"})

    # one after another: every request, then every request again
    keys = [new_key("seq") for _ in range(REQUESTS)]
    first = [await adjust(k) for k in keys]
    assert {r.status_code for r in first} == {201}
    again = [await adjust(k) for k in keys]
    assert [(r.status_code, r.json()) for r in again] == [(r.status_code, r.json()) for r in first]
    assert len({r.json()["id"] for r in first}) == REQUESTS
    assert await balance_of(pool, acc.user) == (REQUESTS, 0)

    # all at once: each request sent twice concurrently
    keys = [new_key("par") for _ in range(REQUESTS)]
    responses = await asyncio.gather(*[adjust(k) for k in keys for _ in range(2)])
    assert {r.status_code for r in responses} == {201}
    for a, b in zip(responses[::2], responses[1::2]):
        assert a.json() == b.json()
    assert await balance_of(pool, acc.user) == (2 * REQUESTS, 0)

    # the same key with another amount is refused, and moves nothing
    r = await adjust(keys[0], amount=2)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_conflict"
    assert await balance_of(pool, acc.user) == (2 * REQUESTS, 0)
    assert await pool.fetchval("select count(*) from entries where account_id = $1", acc.user) == 2 * REQUESTS
    assert await world.ledger_problems() == {}


async def test_1000_ledger_posts_replayed_with_keys_move_value_once(pool, world):
    community = await world.community()
    member = await world.member(community)
    acc = await accounts_of(pool, community.id, member.id)

    def award(key: str, amount: int = 1):
        return _in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user,
                                                     amount=amount, kind="award", key=key))

    keys = [new_key("seq") for _ in range(REQUESTS)]
    first = [await award(k) for k in keys]
    again = [await award(k) for k in keys]
    assert again == first and len({t.id for t in first}) == REQUESTS
    assert await balance_of(pool, acc.user) == (REQUESTS, 0)

    keys = [new_key("par") for _ in range(REQUESTS)]
    results = await asyncio.gather(*[award(k) for k in keys for _ in range(2)])
    assert results[::2] == results[1::2]
    assert await balance_of(pool, acc.user) == (2 * REQUESTS, 0)

    with pytest.raises(DomainError) as info:
        await award(keys[0], amount=2)
    assert info.value.code == "idempotency_conflict" and info.value.details == {"field": "amount"}
    assert await balance_of(pool, acc.user) == (2 * REQUESTS, 0)
    assert await world.ledger_problems() == {}


async def test_replayed_spend_is_not_an_overdraft(pool, world, member_with_300):
    """The retry of a spend that took the last points must replay it, not report insufficient_balance,
    even when it raced the first attempt."""
    _, _, acc = member_with_300
    for _ in range(10):
        key = new_key("spend")
        results = await asyncio.gather(*[_in_tx(pool, lambda conn: ledger.post(
            conn, unit="points", debit=acc.user, credit=acc.supermarket, amount=300, kind="redemption", key=key))
            for _ in range(4)], return_exceptions=True)
        assert all(isinstance(r, ledger.Transfer) for r in results), results
        assert len({r.id for r in results}) == 1
        assert await balance_of(pool, acc.user) == (0, 0)
        await _in_tx(pool, lambda conn: ledger.post(conn, unit="points", debit=acc.issuing, credit=acc.user,
                                                    amount=300, kind="adjustment"))
    assert await world.ledger_problems() == {}

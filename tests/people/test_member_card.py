"""A person's card (domain/core/codes.py member_card): one live card; showing it neither waits for nor
writes to the person's row, issuing one is one issuer at a time."""

import asyncio

from domain.core import codes


async def test_showing_the_card_does_not_wait_for_a_lock_on_the_person(client, world, pool):
    person = await world.person("卡片")
    first = (await client.get("/api/me/card", headers=person.headers)).json()
    async with pool.acquire() as holder, holder.transaction():
        # Another act of this person (an issue, a close) holds their row: a card shown meanwhile comes at once.
        await holder.execute("select 1 from users where id = $1 for update", person.id)
        shown = await asyncio.wait_for(client.get("/api/me/card", headers=person.headers), timeout=5)
    assert shown.status_code == 200 and shown.json() == first


async def test_two_first_cards_at_once_are_one_card(world, pool):
    person = await world.person("新卡")

    async def card() -> str:
        async with pool.acquire() as conn:
            return (await codes.member_card(conn, person.id)).code

    first, second = await asyncio.gather(card(), card())
    assert first == second
    live = await pool.fetchval("select count(*) from codes where kind = 'member' and target_id = $1 "
                               "and revoked_at is null", person.id)
    assert live == 1
    async with pool.acquire() as conn:
        again = await codes.member_card(conn, person.id, reissue=True)
    assert again.code != first and await pool.fetchval(
        "select count(*) from codes where kind = 'member' and target_id = $1 and revoked_at is null", person.id) == 1

"""The pool gives connections in the order they were asked for (issue 24, domain/core/db.py
FairPool): a request arriving while others wait queues behind them, instead of taking the connection
just given back (asyncpg's own queue lets it, which made a burst's long tail)."""

import asyncio

import pytest

from domain.core import db

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


async def test_nobody_waits_behind_more_than_everyone_else_once(database_url):
    """12 requests share 2 connections, each asking again as soon as it gave one back: in a fair
    queue at most the 11 others are served between a request's asking and its turn. (asyncpg's own
    pool let requests overtake: 18 were served meanwhile.)"""
    pool = await db.create_pool(database_url, min_size=2, max_size=2)
    requests, rounds = 12, 30
    served = worst = 0

    async def request() -> None:
        nonlocal served, worst
        for _ in range(rounds):
            asked = served
            async with pool.acquire() as conn:
                worst = max(worst, served - asked)
                served += 1
                await conn.fetchval("select 1")

    try:
        await asyncio.wait_for(asyncio.gather(*(request() for _ in range(requests))), timeout=60)
    finally:
        await pool.close()
    assert served == requests * rounds
    assert worst <= requests - 1, worst


async def test_a_connection_given_back_twice_is_one_turn(database_url):
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        holder = await pool.acquire()
        await pool.release(holder)
        await pool.release(holder)  # asyncpg ignores it; the turns must too
        async with pool.acquire() as conn:
            assert await conn.fetchval("select 1") == 1
            assert pool._turns.locked()  # the one connection is out: nobody else gets a turn
    finally:
        await pool.close()


async def test_a_turn_is_given_back_when_no_connection_could_be_had(database_url):
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire():
            try:
                await pool.acquire(timeout=0.2)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError("the only connection was handed out twice")
        async with pool.acquire() as conn:  # the timed-out wait left no turn behind
            assert await conn.fetchval("select 2") == 2
    finally:
        await pool.close()


async def test_a_connection_that_broke_while_out_still_gives_its_turn_back(database_url):
    """The database dropped the connection (a restart): asyncpg detaches it before its user gives it
    back; the give-back must still return the turn, or the pool would run out of turns for good."""
    import asyncpg
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        held = await pool.acquire()
        pid = await held.fetchval("select pg_backend_pid()")
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute("select pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        try:
            await held.fetchval("select 1")
        except Exception:  # any failure: when the server's goodbye arrives during the
            pass  # query, asyncpg raises InternalClientError ("cannot switch to state"), no InterfaceError
        await pool.release(held)
        async with pool.acquire(timeout=20) as conn:  # a new connection, with the turn given back
            assert await conn.fetchval("select 3") == 3
    finally:
        await pool.close()

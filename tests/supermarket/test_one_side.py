"""One side per rule (docs/architecture.md): the redemption state machine is decided in Python
(rules.require_transition) and kept by the database as a backstop for any other writer
(redemption_state_log, domain/supermarket/sql/supermarket.sql). One table of cases, both sides."""

import itertools

import asyncpg
import pytest

from domain.core.errors import DomainError
from domain.supermarket import rules

pytestmark = pytest.mark.sql

# Every move between two different states, and whether it is allowed.
ALLOWED = {("requested", "approved"), ("requested", "rejected"), ("requested", "cancelled"),
           ("requested", "expired"), ("approved", "fulfilled"), ("approved", "expired")}
CASES = [(a, b, (a, b) in ALLOWED) for a, b in itertools.permutations(rules.STATES, 2)]
# How a redemption reaches each state from 'requested' (only allowed moves).
PATH = {"requested": [], "approved": ["approved"], "fulfilled": ["approved", "fulfilled"],
        "rejected": ["rejected"], "cancelled": ["cancelled"], "expired": ["expired"]}


def python_allows(current: str, target: str) -> bool:
    try:
        rules.require_transition(current, target)
    except DomainError:
        return False
    return True


@pytest.mark.parametrize(("current", "target", "allowed"), CASES)
def test_python_decides_the_table(current, target, allowed):
    assert python_allows(current, target) is allowed


async def test_the_database_backstop_refuses_the_same_moves(fresh_conn):
    conn = fresh_conn  # a database of this test's own: the columns' other checks are lifted in a rollback
    outcomes = {}
    rollback = conn.transaction()
    await rollback.start()
    try:
        rows = await conn.fetch("""select conname from pg_constraint where conrelid = 'redemptions'::regclass
                                   and contype in ('c', 'f', 'u') and conname <> 'redemptions_state_check'""")
        for row in rows:
            await conn.execute(f'alter table redemptions drop constraint "{row["conname"]}"')
        for current, target, _ in CASES:
            redemption = await conn.fetchval(
                """insert into redemptions (user_id, reward_id, community_id, reward_name, quantity, points, state,
                                            requested_at, state_changed_at)
                   values (1, 1, 1, 'x', 1, 1, 'requested', now(), now()) returning id""")
            for step in PATH[current]:
                await conn.execute("update redemptions set state = $2 where id = $1", redemption, step)
            try:
                async with conn.transaction():
                    await conn.execute("update redemptions set state = $2 where id = $1", redemption, target)
                outcomes[(current, target)] = True
            except asyncpg.CheckViolationError as refused:
                assert "cannot go from" in str(refused)
                outcomes[(current, target)] = False
    finally:
        await rollback.rollback()
    assert outcomes == {(a, b): allowed for a, b, allowed in CASES}
    assert {(a, b): python_allows(a, b) for a, b, _ in CASES} == outcomes

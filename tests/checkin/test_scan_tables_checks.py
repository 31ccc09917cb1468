"""The single-column checks of the four tables a scan writes are domains (migrations/086, issue 37):
PostgreSQL compiles a table's CHECK constraints again at every statement that writes it, a domain's
once per connection. The rules are the same: the same values are refused, with the same SQLSTATE
and constraint name, and nothing is written."""

import asyncpg
import pytest

from domain.core import clock
from tests.checkin.test_checkin_speed import T0, new_activity

pytestmark = pytest.mark.sql

SCAN_TABLES = ("activities", "attendances", "transfers", "accounts")


async def test_no_single_column_check_is_left_on_the_tables_a_scan_writes(pool):
    left = await pool.fetch(
        """select c.relname, k.conname from pg_constraint k join pg_class c on c.oid = k.conrelid
           where k.contype = 'c' and cardinality(k.conkey) = 1 and c.relname = any($1)""", list(SCAN_TABLES))
    assert [dict(r) for r in left] == []
    domains = await pool.fetch(
        """select t.typname, k.conname, k.convalidated from pg_constraint k join pg_type t on t.oid = k.contypid
           where t.typname like any($1)""", [f"{t}\\_%" for t in SCAN_TABLES])
    assert len(domains) == 36 and all(r["convalidated"] for r in domains)
    assert {"transfers_amount_check", "activities_taken_check", "attendances_state_check",
            "accounts_kind_check"} <= {r["conname"] for r in domains}
    # the checks that relate two columns stay on their tables
    assert await pool.fetchval("select count(*) from pg_constraint where conrelid = 'attendances'::regclass "
                               "and contype = 'c' and cardinality(conkey) > 1") == 7


async def _refused(pool, sql: str, *args) -> str:
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await pool.execute(sql, *args)
    return refused.value.constraint_name


async def test_the_same_values_are_refused_under_the_same_names_and_nothing_is_written(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c, "周敏")
    activity = await new_activity(client, c, points=5, capacity=10)
    account = await pool.fetchval("select id from accounts where user_id = $1 and unit = 'points' and kind = 'user'",
                                  volunteer.id)
    issuing = await pool.fetchval("select id from accounts where org_id = $1 and kind = 'issuing' and unit = 'points'",
                                  c.id)
    transfers = await pool.fetchval("select count(*) from transfers")
    # a transfer of nothing, through the ledger's one INSERT
    assert await _refused(pool, "select ledger_insert_transfer(p_unit => 'points', p_debit => $1, p_credit => $2, "
                                "p_amount => 0, p_kind => 'award', p_state => 'posted')", issuing, account) \
        == "transfers_amount_check"
    assert await _refused(pool, "select ledger_insert_transfer(p_unit => 'points', p_debit => $1, p_credit => $2, "
                                "p_amount => 1, p_kind => 'bonus', p_state => 'posted')", issuing, account) \
        == "transfers_kind_check"
    assert await pool.fetchval("select count(*) from transfers") == transfers
    # a place count below zero; a title too long
    assert await _refused(pool, "update activities set taken = -1 where id = $1", activity["id"]) \
        == "activities_taken_check"
    assert await _refused(pool, "update activities set title = repeat('长', 101) where id = $1", activity["id"]) \
        == "activities_title_check"
    assert await pool.fetchval("select taken from activities where id = $1", activity["id"]) == 0
    # an attendance in a state that does not exist, or with a device name beyond 64 characters
    insert = ("insert into attendances (activity_id, user_id, state, source, checked_in_at, created_at, in_device) "
              "values ($1, $2, $3, 'self', $4, $4, $5)")
    assert await _refused(pool, insert, activity["id"], volunteer.id, "away", T0, None) == "attendances_state_check"
    assert await _refused(pool, insert, activity["id"], volunteer.id, "inside", T0, "x" * 65) \
        == "attendances_in_device_check"
    assert await pool.fetchval("select count(*) from attendances where activity_id = $1", activity["id"]) == 0
    # an account of a kind that does not exist
    assert await _refused(pool, "insert into accounts (unit, kind, org_id) values ('points', 'bank', $1)", c.id) \
        == "accounts_kind_check"
    assert await world.ledger_problems() == {}

"""`linli ledger check` catches a capability that disagrees with the ledger (issue 16 acceptance):
each test corrupts one kind of fact in a copy of the demo city, as the database superuser with
triggers switched off (session_replication_role = replica), and sees the check name it.

The demo city is built once for the module; each test works on its own copy (CREATE DATABASE ...
TEMPLATE), so no corruption leaks into another test or into the session's shared database.
"""

import asyncio
import uuid

import asyncpg
import pytest

from domain import demo, supermarket, timebank
from domain.core import db
from domain.ledger import check as ledger_check
from domain.people import orgs
from tests.conftest import _fresh_database, _with_database, drop_database

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


@pytest.fixture(scope="module")
def demo_city(admin_url):
    url = asyncio.run(_fresh_database(admin_url))

    async def build():
        conn = await asyncpg.connect(url)
        await db._init_connection(conn)
        try:
            await demo.seed(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    yield url
    asyncio.run(drop_database(admin_url, url))


@pytest.fixture
async def city(admin_url, demo_city):
    """A connection to a fresh copy of the demo city."""
    name = f"linli_check_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'create database "{name}" template "{demo_city.split("?")[0].rsplit("/", 1)[1]}"')
    finally:
        await admin.close()
    url = _with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    yield conn
    await conn.close()
    await drop_database(admin_url, url)


async def corrupt(conn: asyncpg.Connection, sql: str) -> None:
    """Change data behind every guard: triggers off for this transaction only."""
    async with conn.transaction():
        await conn.execute("set local session_replication_role = replica")
        status = await conn.execute(sql)
    assert status.split()[-1] == "1", f"the corruption touched no row: {sql}"


async def test_the_demo_city_is_clean_and_has_something_to_corrupt(city):
    assert await ledger_check.check(city) == {}
    assert await city.fetchval("select count(*) from attendances where points > 0 and state = 'done'") > 0
    assert await city.fetchval("select count(*) from reports where state = 'verified' and points > 0") > 0
    assert await city.fetchval("select count(*) from redemptions where state = 'requested'") > 0
    assert await city.fetchval("select count(*) from reward_stock_changes") > 0
    assert await city.fetchval("select count(*) from service_requests where state = 'confirmed'") > 0


async def test_stock_that_differs_from_its_change_log_is_reported(city):
    reward = await city.fetchval("select min(id) from rewards")
    await corrupt(city, f"update rewards set stock = stock + 3 where id = {reward}")
    problems = await ledger_check.check(city)
    assert [row["reward_id"] for row in problems.pop("reward stock differs from its change log")] == [reward]
    assert problems == {}


async def test_attendance_points_that_the_ledger_does_not_show_are_reported(city):
    attendance = await city.fetchval("select min(id) from attendances where points > 0 and state = 'done'")
    await corrupt(city, f"update attendances set points = points + 100 where id = {attendance}")
    problems = await ledger_check.check(city)
    assert [row["attendance_id"] for row in problems.pop("attendance points or minutes differ from the ledger")] == [
        attendance]
    assert problems == {}


async def test_an_annulled_attendance_whose_credit_still_stands_is_reported(city):
    attendance = await city.fetchval("select min(id) from attendances where points > 0 and state = 'done'")
    await corrupt(city, f"update attendances set state = 'annulled', annulled_at = now(), "
                        f"annul_reason = 'probe' where id = {attendance}")
    problems = await ledger_check.check(city)
    assert [row["attendance_id"] for row in problems.pop("attendance points or minutes differ from the ledger")] == [
        attendance]
    assert problems == {}


async def test_report_points_that_the_ledger_does_not_show_are_reported(city):
    report = await city.fetchval("select min(id) from reports where state = 'verified' and points > 0")
    await corrupt(city, f"update reports set points = points + 1 where id = {report}")
    problems = await ledger_check.check(city)
    assert [row["report_id"] for row in problems.pop("report points differ from the ledger")] == [report]
    assert problems == {}


async def test_a_case_bonus_the_ledger_does_not_show_is_reported(city):
    """The demo's case closed in time paid its courier a bonus (issue 32); its case forgets it."""
    case_id = await city.fetchval("select min(id) from cases where bonus_transfer_id is not null")
    transfer = await city.fetchval("select bonus_transfer_id from cases where id = $1", case_id)
    await corrupt(city, f"update cases set bonus_transfer_id = null where id = {case_id}")
    problems = await ledger_check.check(city)
    assert [(row["case_id"], row["transfer_id"]) for row in problems.pop("case bonus differs from the ledger")] \
        == [(case_id, transfer)]
    assert problems == {}


async def test_a_cancelled_redemption_that_still_holds_points_is_reported(city):
    redemption = await city.fetchval("select min(id) from redemptions where state = 'requested'")
    hold = await city.fetchval("select hold_transfer_id from redemptions where id = $1", redemption)
    await corrupt(city, f"update redemptions set state = 'cancelled', expires_at = null where id = {redemption}")
    problems = await ledger_check.check(city)
    assert [row["redemption_id"] for row in problems.pop("redemption state differs from its transfer")] == [redemption]
    assert [row["transfer_id"] for row in problems.pop("hold without a waiting redemption or service")] == [hold]
    assert problems == {}


async def test_a_fulfilled_redemption_whose_payment_was_reversed_is_reported(city):
    """The probe's finding 6: the payment reversed behind the redemption's back."""
    redemption, community = await city.fetchrow(
        "select id, community_id from redemptions where state = 'requested' order by id limit 1")
    manager = await city.fetchval("select user_id from org_managers where org_id = $1 order by user_id limit 1",
                                  community)
    await supermarket.approve(city, await orgs.load_actor(city, manager), redemption)  # paid, voucher issued
    payment = await city.fetchval("select hold_transfer_id from redemptions where id = $1", redemption)
    assert await ledger_check.check(city) == {}
    await corrupt(city, f"""insert into transfers (unit, debit_account, credit_account, amount, kind, state,
                                                  cause_type, cause_id, reverses, reason, created_at)
                           select unit, credit_account, debit_account, amount, 'reversal', 'posted', 'reversal', id,
                                  id, 'probe', now() from transfers where id = {payment}""")
    problems = await ledger_check.check(city)
    assert [row["redemption_id"] for row in problems.pop("redemption state differs from its transfer")] == [redemption]


async def accepted_service(conn: asyncpg.Connection) -> int:
    """The demo's open request (for 周秀英), taken on by 刘芳: its estimate is now held."""
    request = await conn.fetchval("select min(id) from service_requests where state = 'open'")
    helper = await conn.fetchval("select id from users where name = '刘芳'")
    await timebank.accept(conn, await orgs.load_actor(conn, helper), request)
    assert await ledger_check.check(conn) == {}
    return request


async def test_a_cancelled_service_that_still_holds_minutes_is_reported(city):
    request = await accepted_service(city)
    hold = await city.fetchval("select hold_transfer_id from service_requests where id = $1", request)
    await corrupt(city, f"update service_requests set state = 'cancelled', cancelled_at = now() where id = {request}")
    problems = await ledger_check.check(city)
    assert [row["request_id"] for row in problems.pop("service state differs from its hold")] == [request]
    assert [row["transfer_id"] for row in problems.pop("hold without a waiting redemption or service")] == [hold]
    assert problems == {}


async def test_an_accepted_service_whose_hold_was_released_is_reported(city):
    request = await accepted_service(city)
    hold = await city.fetchval("select hold_transfer_id from service_requests where id = $1", request)
    await corrupt(city, f"update transfers set state = 'voided', resolved_at = now() where id = {hold}")
    problems = await ledger_check.check(city)
    assert [row["request_id"] for row in problems.pop("service state differs from its hold")] == [request]


async def test_a_confirmed_service_whose_hold_was_never_posted_is_reported(city):
    request = await city.fetchval("select min(id) from service_requests where state = 'confirmed'")
    hold = await city.fetchval("select hold_transfer_id from service_requests where id = $1", request)
    await corrupt(city, f"update transfers set state = 'pending', resolved_at = null where id = {hold}")
    problems = await ledger_check.check(city)
    assert [row["request_id"] for row in problems.pop("service state differs from its hold")] == [request]

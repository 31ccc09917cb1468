"""`linli demo` builds a believable city where every page has something to show (issues 3 and 12)."""

from domain import demo
from domain.ledger import check as ledger_check
from domain.oversight import report


async def test_demo_city_fills_every_capability_and_balances(fresh_conn):
    conn = fresh_conn
    city = await demo.seed(conn)
    assert city is not None
    assert await demo.seed(conn) is None  # a second run changes nothing
    counts = {table: await conn.fetchval(f"select count(*) from {table}") for table in (
        "activities", "attendances", "rewards", "redemptions", "service_requests", "reports", "audit_log",
        "units", "unit_admins", "unit_reports", "need_claims", "micro_grids", "micro_grid_roles", "households")}
    assert all(n > 0 for n in counts.values()), counts
    assert await ledger_check.check(conn) == {}
    assert await report.report(conn) == {}  # and `linli audit` finds nothing created alone (issue 30)
    # Statement labels are read by residents: Chinese only, no English glued on (issue 22); units
    # after a number ("洗衣液 2kg") are fine.
    assert await conn.fetch(
        "select distinct memo from transfers where memo ~ '(^|[^0-9A-Za-z])[A-Za-z]{2,}'") == []

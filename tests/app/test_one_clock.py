"""One clock (domain/core/clock.py): the local day, week, month and quarter are read in one place,
in LINLI_TZ only; pages ask the server for the current period; the database's copy of the zone is
written from the settings."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from domain.checkin import rules as checkin_rules
from domain.core import clock
from domain.core.errors import DomainError
from domain.rankings import rules as ranking_rules
from domain.reports import rules as report_rules
from domain.supermarket import rules as supermarket_rules

ROOT = Path(__file__).resolve().parents[2]
# 31 March 2026 16:30 UTC: still March (Q1) in UTC, already 1 April (Q2) in Shanghai.
EDGE = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)


def test_the_one_clock_reads_local_periods_in_linli_tz(setenv):
    setenv("LINLI_TZ", "Asia/Shanghai")
    assert clock.local_day(EDGE) == date(2026, 4, 1)
    assert str(clock.quarter_of(EDGE)) == "2026Q2"
    assert clock.month_bounds(EDGE)[0] == datetime(2026, 4, 1, tzinfo=clock.zone())
    assert clock.week_start(EDGE) == date(2026, 3, 30)
    setenv("LINLI_TZ", "UTC")
    assert clock.local_day(EDGE) == date(2026, 3, 31) and str(clock.quarter_of(EDGE)) == "2026Q1"


def test_every_capability_asks_the_one_clock(setenv):
    """The rules modules that used to compute days, months and quarters themselves agree with it."""
    for zone in ("Asia/Shanghai", "Europe/Berlin"):
        setenv("LINLI_TZ", zone)
        assert checkin_rules.local_day(EDGE) == clock.day_bounds(EDGE)
        assert supermarket_rules.month_bounds(EDGE) == clock.month_bounds(EDGE)
        assert report_rules.local_day(EDGE) == clock.local_day(EDGE)
        assert report_rules.quarter_of(EDGE) == (str(clock.quarter_of(EDGE)), *clock.quarter_of(EDGE).bounds())
        assert ranking_rules.quarter_of(EDGE, clock.zone()) == clock.quarter_of(EDGE)


def test_months_are_written_and_read_by_the_clock(setenv):
    """A month as requests and pages write it ("2026-04"), and its local bounds: the settlement and
    the merchants' statement read it here."""
    setenv("LINLI_TZ", "Asia/Shanghai")
    assert clock.month_of(EDGE) == "2026-04" and clock.local_time(EDGE).hour == 0
    assert clock.parse_month("2026-4") == clock.parse_month("2026-04") == date(2026, 4, 1)
    assert clock.month_span(date(2026, 12, 1)) == (datetime(2026, 12, 1, tzinfo=clock.zone()),
                                                   datetime(2027, 1, 1, tzinfo=clock.zone()))
    assert clock.month_span(clock.parse_month(clock.month_of(EDGE))) == clock.month_bounds(EDGE)
    for wrong in (None, "", "2026", "2026-13", "2026-11-05", "april"):
        with pytest.raises(DomainError) as refused:
            clock.parse_month(wrong)
        assert refused.value.code == "validation_failed" and refused.value.details["field"] == "month"


def test_only_the_clock_turns_an_instant_into_local_time():
    """Every local day, month, quarter and wall time of domain/ and api/ is read through domain/core/clock.py."""
    readers = sorted(str(p.relative_to(ROOT)) for top in ("domain", "api") for p in (ROOT / top).rglob("*.py")
                     if ".astimezone(" in p.read_text(encoding="utf-8"))
    assert readers == ["domain/core/clock.py"]


def test_no_page_computes_the_quarter_from_the_phones_clock():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "frontend" / "js").glob("*.js"))
    assert "getMonth() / 3" not in pages


@pytest.mark.sql
async def test_the_current_period_endpoint_answers_the_servers_quarter(client, setenv):
    setenv("LINLI_TZ", "Asia/Shanghai")
    clock.freeze(EDGE)
    r = await client.get("/api/periods/current")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["time_zone"], body["today"], body["month"], body["quarter"]) == \
        ("Asia/Shanghai", "2026-04-01", "2026-04", "2026Q2")
    assert body["recent_quarters"] == ["2026Q2", "2026Q1", "2025Q4", "2025Q3", "2025Q2", "2025Q1",
                                       "2024Q4", "2024Q3"]
    assert body["quarter_starts_at"].startswith("2026-04-01T00:00:00") and body["week_start"] == "2026-03-30"


@pytest.mark.sql
async def test_the_databases_copy_of_the_zone_is_written_from_the_settings(fresh_conn, setenv):
    assert await fresh_conn.fetchval("select tz from local_zone") == clock.zone().key  # written by migrate
    setenv("LINLI_TZ", "Europe/Berlin")
    assert await clock.write_zone(fresh_conn) is True
    assert await fresh_conn.fetchval("select tz from local_zone") == "Europe/Berlin"
    assert await clock.write_zone(fresh_conn) is False  # unchanged: nothing written, nothing refilled

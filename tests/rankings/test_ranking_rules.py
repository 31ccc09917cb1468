"""Pure rules of rankings, postings and expiry: quarters, ties, masking, CSV, FIFO lots (issue 9)."""

import csv
import io
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.rankings import rules
from domain.core import clock, settings
from domain.core.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---- quarters ---------------------------------------------------------------------------------

def test_quarter_parses_and_bounds_are_local_midnights():
    q = rules.parse_quarter("2026Q4")
    assert (q.year, q.q, str(q)) == (2026, 4, "2026Q4")
    start, end = q.bounds(SHANGHAI)
    assert start == datetime(2026, 9, 30, 16, 0, tzinfo=timezone.utc)  # 2026-10-01 00:00 +08:00
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)   # 2027-01-01 00:00 +08:00
    assert (q.first_day, q.end_day) == (date(2026, 10, 1), date(2027, 1, 1))
    assert rules.parse_quarter("2027q1").bounds(SHANGHAI)[0] == end  # quarters tile time


@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "26Q1", "2026-Q1", "", "Q4 2026", "1999Q1"])
def test_bad_quarters_are_refused_naming_the_field(text):
    with pytest.raises(DomainError) as err:
        rules.parse_quarter(text)
    assert err.value.code == "validation_failed" and err.value.details["field"] == "quarter"


def test_quarter_of_a_moment_follows_the_local_date_not_utc():
    # 2026-12-31 17:00 UTC is already 2027-01-01 01:00 in Shanghai.
    late = datetime(2026, 12, 31, 17, 0, tzinfo=timezone.utc)
    assert str(rules.quarter_of(late, SHANGHAI)) == "2027Q1"
    assert str(rules.quarter_of(late, ZoneInfo("UTC"))) == "2026Q4"
    assert str(rules.parse_quarter("2026Q1").previous()) == "2025Q4"


def test_time_zone_is_configurable(monkeypatch, setenv):
    monkeypatch.delenv("LINLI_TZ", raising=False)
    assert clock.zone().key == "Asia/Shanghai"
    setenv("LINLI_TZ", "Europe/Berlin")
    assert clock.zone().key == "Europe/Berlin"
    with pytest.raises(settings.SettingsError, match="LINLI_TZ"):
        setenv("LINLI_TZ", "Mars/Olympus")


# ---- ranks ------------------------------------------------------------------------------------

def test_ties_share_a_rank_and_the_next_rank_skips():
    assert rules.competition_ranks([90, 80, 80, 70, 70, 70, 10]) == [1, 2, 2, 4, 4, 4, 7]
    assert rules.competition_ranks([5, 5]) == [1, 1]
    assert rules.competition_ranks([]) == []
    with pytest.raises(ValueError):
        rules.competition_ranks([1, 2])


def test_top_n_keeps_a_tie_at_the_cut_whole():
    ranks = rules.competition_ranks([90, 80, 80, 70])
    assert rules.top_with_ties(ranks, 2) == 3
    assert rules.top_with_ties(ranks, 1) == 1
    assert rules.top_with_ties(ranks, 10) == 4


# ---- masking ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, masked", [
    ("张三明", "张*明"), ("张三", "张*"), ("张", "张*"), ("欧阳娜娜", "欧**娜"), ("周 秀英", "周*英"), ("", "*"),
    ("Alice", "A***e")])
def test_names_are_masked(name, masked):
    assert rules.mask_name(name) == masked


def test_phones_are_masked():
    assert rules.mask_phone("13812341234") == "138****1234"
    assert rules.mask_phone(None) == ""
    assert rules.mask_phone("12345") == "****"


# ---- CSV --------------------------------------------------------------------------------------

def test_csv_has_a_bom_chinese_header_and_defuses_formulas():
    body = rules.to_csv(["名次", "姓名", "积分"], [[1, "=HYPERLINK(1)", -5], [2, "李四", 3]])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["名次", "姓名", "积分"], ["1", "'=HYPERLINK(1)", "-5"], ["2", "李四", "3"]]


# ---- expiry -----------------------------------------------------------------------------------

def test_points_of_a_year_expire_at_local_new_year_two_years_on():
    assert rules.expiry_of_year(2026, SHANGHAI) == datetime(2027, 12, 31, 16, 0, tzinfo=timezone.utc)
    just_before = datetime(2027, 12, 31, 15, 59, tzinfo=timezone.utc)
    assert rules.year_due_for_expiry(just_before, SHANGHAI) == 2025
    assert rules.year_due_for_expiry(rules.expiry_of_year(2026, SHANGHAI), SHANGHAI) == 2026


def lot(y, m, d, amount, community=1):
    return rules.Lot(date(y, m, d), community, amount)


def test_fifo_spending_takes_the_oldest_points_first():
    # Earned 60 (March 2026) + 40 (November 2026) + 50 (2027); spent 70: 80 are left.
    lots = [lot(2026, 3, 1, 60), lot(2026, 11, 1, 40), lot(2027, 5, 1, 50)]
    left = rules.fifo_remaining(80, lots)
    assert left == {(date(2027, 5, 1), 1): 50, (date(2026, 11, 1), 1): 30, (date(2026, 3, 1), 1): 0}
    assert rules.unspent_of_year(80, lots, 2026) == {1: 30}
    assert rules.unspent_of_year(80, lots, 2027) == {1: 50}


def test_nothing_spent_means_everything_is_unspent_and_more_than_the_lots_never_expires():
    lots = [lot(2026, 3, 1, 60, community=1), lot(2026, 3, 1, 40, community=2)]
    assert rules.unspent_of_year(100, lots, 2026) == {1: 60, 2: 40}
    assert rules.unspent_of_year(130, lots, 2026) == {1: 60, 2: 40}  # 30 came from elsewhere (a gift)
    assert rules.unspent_of_year(0, lots, 2026) == {}
    assert rules.unspent_of_year(-5, lots, 2026) == {}


def test_a_net_deduction_day_is_an_outflow_not_a_lot():
    lots = [lot(2026, 3, 1, 60), lot(2027, 2, 1, -20), lot(2027, 6, 1, 10)]
    # 60 + 10 earned, 20 deducted: 50 left; the newest 10 are 2027's, the other 40 are 2026's.
    assert rules.unspent_of_year(50, lots, 2026) == {1: 40}
    assert rules.fifo_remaining(50, lots)[(date(2027, 2, 1), 1)] == 0


def test_week_starts_are_mondays_ending_with_this_week():
    now = datetime(2026, 11, 18, 20, 0, tzinfo=timezone.utc)  # Thursday 19 Nov 04:00 in Shanghai
    weeks = rules.week_starts(now, SHANGHAI, 12)
    assert len(weeks) == 12 and weeks[-1] == date(2026, 11, 16) and weeks[0] == date(2026, 8, 31)
    assert all(w.weekday() == 0 for w in weeks)
    assert rules.month_start(now, SHANGHAI) == date(2026, 11, 1)

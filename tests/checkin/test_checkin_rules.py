"""Pure rules of check-in (no database): windows, minutes, points, caps, distance, repeats, codes."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.checkin import rules

UTC = timezone.utc
START = datetime(2026, 6, 14, 1, 0, tzinfo=UTC)   # 09:00 in Shanghai
END = START + timedelta(hours=2, minutes=30)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("offset, problem", [
    (timedelta(seconds=-1), "not_started"), (timedelta(0), None), (timedelta(hours=2, minutes=29), None),
    (timedelta(hours=2, minutes=30), "ended"), (timedelta(days=1), "ended")])
def test_window_is_half_open(offset, problem):
    assert rules.window_problem(START + offset, START, END) == problem


def test_minutes_are_the_overlap_with_the_window_rounded_down():
    assert rules.attended_minutes(START + timedelta(minutes=10), START + timedelta(minutes=100, seconds=59),
                                  START, END, None) == 90
    # arrived early, left late: only the window counts
    assert rules.attended_minutes(START - timedelta(hours=1), END + timedelta(hours=1), START, END, None) == 150
    # no overlap at all
    assert rules.attended_minutes(END + timedelta(minutes=1), END + timedelta(hours=1), START, END, None) == 0


def test_minutes_are_capped_by_max_minutes():
    assert rules.attended_minutes(START, END, START, END, 60) == 60
    assert rules.attended_minutes(START, START + timedelta(minutes=30), START, END, 60) == 30


def test_manual_minutes_stay_within_window_and_cap():
    assert rules.manual_minutes(500, START, END, None) == 150
    assert rules.manual_minutes(500, START, END, 120) == 120
    assert rules.manual_minutes(45, START, END, 120) == 45
    assert rules.manual_minutes(-5, START, END, None) == 0


@pytest.mark.parametrize("minutes, per_hour, points", [(90, 10, 15), (59, 10, 9), (0, 10, 0), (120, 0, 0),
                                                       (1, 59, 0), (61, 60, 61)])
def test_hour_points_round_down(minutes, per_hour, points):
    assert rules.hour_points(minutes, per_hour) == points


def test_distance_is_metres_on_the_ground():
    assert rules.distance_m(30.0, 104.0, 30.0, 104.0) == 0
    one_degree_lat = rules.distance_m(30.0, 104.0, 31.0, 104.0)
    assert 111_000 < one_degree_lat < 111_400
    # ~0.001 degrees of longitude at 30°N is ~96 m
    assert 90 < rules.distance_m(30.0, 104.0, 30.0, 104.001) < 100
    assert rules.distance_m(30.0, 104.0, 30.0, 104.001) == pytest.approx(rules.distance_m(30.0, 104.001, 30.0, 104.0))


def test_next_step_state_machine():
    inside_since = START
    assert rules.next_step("inside", inside_since, START + timedelta(seconds=30)) == "already_checked_in"
    assert rules.next_step("inside", inside_since, START + timedelta(minutes=1, seconds=59)) == "already_checked_in"
    assert rules.next_step("inside", inside_since, START + timedelta(minutes=2)) == "check_out"
    assert rules.next_step("inside", inside_since, START + timedelta(hours=1), replay=True) == "already_checked_in"
    assert rules.next_step("done", inside_since, START + timedelta(seconds=5)) == "already_checked_out"
    assert rules.next_step("done", inside_since, START + timedelta(days=3)) == "already_checked_out"
    assert rules.next_step("annulled", inside_since, START + timedelta(hours=1)) == "annulled"


def test_local_day_is_the_shanghai_calendar_day():
    # 23:30 UTC on the 13th is 07:30 on the 14th in Shanghai
    start, end = rules.local_day(datetime(2026, 6, 13, 23, 30, tzinfo=UTC), SHANGHAI)
    assert start == datetime(2026, 6, 13, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    assert start.astimezone(SHANGHAI).hour == 0


@pytest.mark.parametrize("text, code", [
    ("abcdefghijklmnop", "abcdefghijklmnop"), ("  ABCDEFGHIJKLMNOP \n", "abcdefghijklmnop"),
    ("https://linli.example.org/s/abcdefghijklmnop", "abcdefghijklmnop"),
    ("http://127.0.0.1:8000/s/abcdefghijklmnop?from=wechat#x", "abcdefghijklmnop"),
    ("https://x.cn/s/abcdefghijklmnop/", "abcdefghijklmnop"), ("", "")])
def test_code_from_text_accepts_codes_and_their_urls(text, code):
    assert rules.code_from_text(text) == code


def test_format_window_for_posters():
    assert rules.format_window(START, END, "zh", SHANGHAI) == "2026年6月14日 09:00–11:30"
    assert rules.format_window(START, END, "en", SHANGHAI) == "14 Jun 2026, 09:00–11:30"
    two_days = rules.format_window(START, START + timedelta(days=1), "zh", SHANGHAI)
    assert two_days == "2026年6月14日 09:00 – 2026年6月15日 09:00"

"""domain.reports.rules: points per kind, the daily cap, Shanghai days and quarters, the farming check."""

from datetime import date, datetime, timedelta, timezone

import pytest

from domain.core import geo
from domain.reports import rules
from domain.reports.rules import Sighting

UTC = timezone.utc


# What a community pays per verified report until its manager changes it, and the daily cap of report
# points per courier: the product's numbers (issue 7: "points by kind", "a daily cap"), written here so
# that changing them is a decision a test sees.
PROMISED_POINTS = {"civility": 5, "hazard": 10, "service": 5}
PROMISED_DAILY_CAP = 30


def test_defaults_and_community_overrides():
    default = rules.rules_for(None)
    assert default.points == PROMISED_POINTS and default.daily_cap == PROMISED_DAILY_CAP

    custom = rules.rules_for({"hazard_points": 20, "civility_points": None, "daily_cap": 50})
    assert custom.points == {"civility": 5, "hazard": 20, "service": 5}  # None keeps the default
    assert custom.daily_cap == 50

    assert rules.rules_for({"service_points": 0}).points["service"] == 0  # 0 is an override, not "unset"


def test_memo_names_the_kind_in_chinese():
    assert rules.memo("hazard") == "隐患排查上报"
    assert rules.memo("civility") == "文明劝导上报"
    assert rules.memo("service") == "志愿服务上报"


@pytest.mark.parametrize(("kind_points", "earned", "cap", "points", "withheld"), [
    (10, 0, 30, 10, 0),     # well under the cap
    (10, 20, 30, 10, 0),    # exactly reaches it
    (10, 25, 30, 5, 5),     # partly over: what is left
    (10, 30, 30, 0, 10),    # at the cap: nothing, but the report can still be confirmed
    (10, 45, 30, 0, 10),    # over (the cap was lowered since): never negative
    (5, 0, 0, 0, 5),        # a cap of 0 switches report points off
])
def test_award_under_the_daily_cap(kind_points, earned, cap, points, withheld):
    award = rules.award(kind_points, earned, cap)
    assert (award.points, award.withheld) == (points, withheld)
    assert award.reason == ("daily_cap_reached" if withheld else None)


def test_shanghai_day_is_not_the_utc_day():
    late_utc = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 March in Shanghai
    assert rules.local_day(late_utc) == date(2026, 3, 2)
    start, end = rules.day_bounds(date(2026, 3, 2))
    assert start == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    assert start <= late_utc < end


@pytest.mark.parametrize(("at", "label", "start_month", "end"), [
    (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "2026Q1", 1, (2026, 4)),
    (datetime(2026, 3, 31, 16, 30, tzinfo=UTC), "2026Q2", 4, (2026, 7)),   # 1 April 00:30 Shanghai
    (datetime(2026, 11, 26, 3, 0, tzinfo=UTC), "2026Q4", 10, (2027, 1)),
    (datetime(2025, 12, 31, 15, 59, tzinfo=UTC), "2025Q4", 10, (2026, 1)),  # 23:59 Shanghai
])
def test_quarter_in_shanghai(at, label, start_month, end):
    name, start, stop = rules.quarter_of(at)
    assert name == label
    assert (start.month, start.day, start.hour) == (start_month, 1, 0)
    assert (stop.year, stop.month, stop.day) == (*end, 1)
    assert start <= at < stop


def test_rank_is_competition_rank():
    assert rules.rank(30, [10, 20]) == 1
    assert rules.rank(20, [30, 20, 10]) == 2   # ties share a place
    assert rules.rank(10, [30, 20, 20]) == 4
    assert rules.rank(0, []) == 1


def test_distances_come_from_the_one_haversine():
    assert geo.distance_m(30.0, 104.0, 30.0, 104.0) == 0
    # One thousandth of a degree of latitude is about 111 m anywhere.
    assert geo.distance_m(30.0, 104.0, 30.001, 104.0) == pytest.approx(111.2, abs=0.5)
    # Beijing Tiananmen to Shanghai People's Square, about 1067 km.
    assert geo.distance_m(39.9087, 116.3975, 31.2304, 121.4737) / 1000 == pytest.approx(1067, abs=5)


T0 = datetime(2026, 5, 10, 2, 0, tzinfo=UTC)
HERE = (30.04210, 103.83130)
NEAR = (30.04240, 103.83130)   # about 33 m north
FAR = (30.04280, 103.83130)    # about 78 m north


def sighting(id_, kind="hazard", minutes=0, at=HERE, place=""):
    lat, lng = at if at else (None, None)
    return Sighting(id_, kind, T0 + timedelta(minutes=minutes), lat, lng, place)


@pytest.mark.parametrize(("second", "duplicate"), [
    (sighting(2, minutes=9, at=NEAR), True),
    (sighting(2, minutes=10, at=NEAR), True),      # the edges count
    (sighting(2, minutes=11, at=NEAR), False),     # too late
    (sighting(2, minutes=5, at=FAR), False),       # too far
    (sighting(2, kind="civility", minutes=1), False),  # another kind is another thing
    (sighting(2, minutes=-5, at=NEAR), True),      # order does not matter for the pair
])
def test_duplicate_needs_same_kind_10_minutes_and_50_metres(second, duplicate):
    assert rules.is_duplicate(sighting(1), second) is duplicate
    assert rules.is_duplicate(second, sighting(1)) is duplicate


def test_without_coordinates_the_place_text_decides():
    first = sighting(1, at=None, place="北门 消防通道")
    assert rules.is_duplicate(first, sighting(2, minutes=3, at=None, place="北门消防通道"))
    assert not rules.is_duplicate(first, sighting(3, minutes=3, at=None, place="南门车棚"))
    assert not rules.is_duplicate(sighting(4, at=None), sighting(5, minutes=1, at=None))  # no place: unknown
    assert not rules.is_duplicate(first, first)  # a report is not its own duplicate


def test_only_the_later_report_of_a_pair_is_flagged():
    first, second, third = sighting(1), sighting(2, minutes=4, at=NEAR), sighting(3, minutes=8, at=FAR)
    reports = [first, second, third]
    assert rules.duplicates_of(first, reports) == []
    assert rules.duplicates_of(second, reports) == [1]
    assert rules.duplicates_of(third, reports) == [2]   # 78 m from the first, but 45 m from the second

"""The pure rules of "nobody creates value alone" (issue 30), without a database."""

from domain.oversight import rules


def test_an_activity_pays_one_person_at_most_its_daily_cap():
    # Finding 1a: 10,000 points and 10,000 an hour over a 6-hour window, cap 100,000.
    assert rules.activity_daily_max(points=10_000, points_per_hour=10_000, window_minutes=360, max_minutes=None,
                                    daily_points_cap=100_000) == (70_000, 360)
    # The usual activity: 5 points, 10 an hour, 2 hours, the default cap of 200.
    assert rules.activity_daily_max(points=5, points_per_hour=10, window_minutes=120, max_minutes=None,
                                    daily_points_cap=200) == (25, 120)
    # max_minutes bounds the stay, and so the points per hour.
    assert rules.activity_daily_max(points=0, points_per_hour=60, window_minutes=600, max_minutes=90,
                                    daily_points_cap=10_000) == (90, 90)


def test_above_names_each_unit_over_its_threshold_either_sign():
    thresholds = {"points": 200, "minutes": 600}
    assert rules.above({"points": 200, "minutes": 600}, thresholds) == {}
    assert rules.above({"points": -201}, thresholds) == {"points": {"amount": -201, "threshold": 200}}
    assert rules.above({"points": 20_000, "minutes": 60}, thresholds) == {
        "points": {"amount": 20_000, "threshold": 200}}


def test_loosening_is_raising_a_limit_or_turning_auto_approval_on():
    old = {"threshold_points": 200, "threshold_minutes": 600, "daily_points": 500, "daily_minutes": 1500}
    assert rules.loosens(old, {**old, "threshold_points": 1_000_000}) == ["threshold_points"]
    assert rules.loosens(old, {**old, "threshold_points": 100, "daily_minutes": 100}) == []
    assert rules.loosens(old, {**old, "daily_points": 501, "threshold_minutes": 601}) == [
        "daily_points", "threshold_minutes"]
    assert rules.loosens({"auto_approve": False}, {"auto_approve": True}) == ["auto_approve"]
    assert rules.loosens({"auto_approve": True}, {"auto_approve": False}) == []


def test_an_unusual_pace_is_above_the_floor_and_far_above_the_street():
    assert not rules.unusual_pace(20, 0)           # at the floor: not yet
    assert rules.unusual_pace(21, 0)               # a street where nobody does this
    assert rules.unusual_pace(31, 10)              # more than three times the usual day
    assert not rules.unusual_pace(30, 10)
    assert not rules.unusual_pace(50, 40)          # a busy street's busy manager

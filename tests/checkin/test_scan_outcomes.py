"""What a scan did is one frozen outcome, tagged by its action (issue 15): built once, never
changed, and written as the same JSON the API always returned."""

import msgspec
import pytest

from domain.checkin import scans

pytestmark = pytest.mark.sql  # the result can depend on the PostgreSQL server: CI runs it on both


def checked_in(**details) -> scans.CheckedIn:
    return scans.CheckedIn(kind="poster", target_id=7, title="垃圾分类宣传", points=10, details=scans.CheckInDetails(
        attendance_id=3, checked_in_at="2026-06-14T01:00:00+00:00", ends_at="2026-06-14T04:00:00+00:00", **details))


def test_an_outcome_cannot_change_after_it_is_built():
    outcome = checked_in()
    with pytest.raises(AttributeError):
        outcome.points = 99  # type: ignore[misc]
    with pytest.raises(AttributeError):
        outcome.details.user_id = 5  # type: ignore[misc]


def test_the_json_names_the_action_and_leaves_out_what_does_not_apply():
    assert msgspec.json.decode(msgspec.json.encode(checked_in())) == {
        "action": "checked_in", "kind": "poster", "target_id": 7, "title": "垃圾分类宣传", "points": 10, "minutes": 0,
        "details": {"attendance_id": 3, "checked_in_at": "2026-06-14T01:00:00+00:00",
                    "ends_at": "2026-06-14T04:00:00+00:00"}}
    capped = msgspec.json.decode(msgspec.json.encode(checked_in(capped=True, daily_cap=200, points_wanted=150,
                                                                user_id=9, user_name="刘芳")))
    assert capped["details"] == {"attendance_id": 3, "checked_in_at": "2026-06-14T01:00:00+00:00",
                                 "ends_at": "2026-06-14T04:00:00+00:00", "capped": True, "daily_cap": 200,
                                 "points_wanted": 150, "user_id": 9, "user_name": "刘芳"}


def test_the_json_decodes_back_into_the_outcome_it_names():
    unchanged = scans.AlreadyCheckedOut(kind="member", target_id=7, details=scans.AttendanceDetails(
        attendance_id=3, checked_in_at="a", checked_out_at=None, total_points=10, total_minutes=90))
    for outcome in (checked_in(), unchanged):
        back = msgspec.json.decode(msgspec.json.encode(outcome), type=scans.ScanResult)
        assert back == outcome and back.action == outcome.action
    assert unchanged.action == "already_checked_out"
    assert msgspec.json.decode(msgspec.json.encode(unchanged))["details"]["checked_out_at"] is None


def test_a_second_scan_asking_to_confirm_is_a_frozen_outcome_too():
    # Issue 21: a second scan while inside does not check out; it asks, showing the minutes served.
    asking = scans.ConfirmCheckOut(kind="poster", target_id=7, title="垃圾分类宣传", details=scans.ConfirmCheckOutDetails(
        attendance_id=3, checked_in_at="2026-06-14T01:00:00+00:00", served_minutes=45, at="2026-06-14T01:45:00+00:00"))
    with pytest.raises(AttributeError):
        asking.details.served_minutes = 0  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(asking)) == {
        "action": "confirm_check_out", "kind": "poster", "target_id": 7, "title": "垃圾分类宣传", "points": 0,
        "minutes": 0, "details": {"attendance_id": 3, "checked_in_at": "2026-06-14T01:00:00+00:00",
                                  "served_minutes": 45, "at": "2026-06-14T01:45:00+00:00"}}
    back = msgspec.json.decode(msgspec.json.encode(asking), type=scans.ScanResult)
    assert back == asking and back.action == "confirm_check_out"

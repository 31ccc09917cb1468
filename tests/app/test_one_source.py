"""Rules every capability shares, each with one home in domain/core (issue 15): who manages a
community, the reason a person gives, and distances."""

import pytest

from api.app import create_app
from domain.core import geo
from domain.core.actor import Actor
from domain.core.errors import DomainError
from domain.core.texts import clean_reason
from tests.reports.test_reports import file_report

REASON_ENDPOINTS = {("post", "/api/checkins/{attendance_id}/annul"), ("post", "/api/members/{user_id}/deactivate"),
                    ("post", "/api/members/{user_id}/reactivate"), ("post", "/api/redemptions/{redemption_id}/reject"),
                    ("post", "/api/reports/{report_id}/reject"), ("post", "/api/transfers/{transfer_id}/reverse"),
                    ("post", "/api/adjustment-requests/{request_id}/reject"), ("post", "/api/cases/{case_id}/return"),
                    ("post", "/api/join-requests/{join_request_id}/reject"),
                    ("post", "/api/unit-reports/{unit_report_id}/reject"),
                    ("post", "/api/held/{held_kind}/{item_id}/reject"),  # issue 30
                    ("post", "/api/manager-flags/{manager_flag_id}/dismiss")}


def test_who_manages_a_community():
    admin = Actor(1, "王主任", True, frozenset())
    manager = Actor(2, "李晓梅", False, frozenset({10, 11}))
    resident = Actor(3, "刘芳", False, frozenset())
    assert [admin.can_manage(c) for c in (10, 99, None)] == [True, True, True]
    assert [manager.can_manage(c) for c in (10, 11, 12, None)] == [True, True, False, False]
    assert [resident.can_manage(c) for c in (10, None)] == [False, False]


def test_a_reason_is_cleaned_one_way():
    assert clean_reason("  照片\n看不清  ") == "照片 看不清"
    assert clean_reason("x" * 500) == "x" * 500
    assert clean_reason(" ", required=False) is None
    for bad, problem in (("", "required"), (" \n\t", "required"), (None, "required"), ("x" * 501, "at most 500 characters")):
        with pytest.raises(DomainError) as refused:
            clean_reason(bad)
        assert (refused.value.code, refused.value.details) == ("validation_failed", {"field": "reason", "problem": problem})


def test_every_reason_body_is_the_one_type_with_one_limit():
    schema = create_app("postgresql://unused@127.0.0.1/none").openapi_schema.to_schema()
    bodies = {(method, path) for path, ops in schema["paths"].items() for method, op in ops.items()
              if op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
              == {"$ref": "#/components/schemas/ReasonIn"}}
    assert bodies == REASON_ENDPOINTS
    assert schema["components"]["schemas"]["ReasonIn"]["properties"]["reason"]["maxLength"] == 500


async def test_a_report_takes_a_reason_as_long_as_any_other(client, world):
    """Reports allowed 200 characters where every other reason allowed 500 (migrations/012)."""
    community = await world.community()
    courier = await world.member(community, role="courier")
    manager = community.manager.headers
    long_reason = "照片看不清，" * 80  # 480 characters
    first = (await file_report(client, courier, kind="service", text="帮老人搬东西")).json()
    second = (await file_report(client, courier, kind="service", text="帮老人拿快递", place="2 号楼")).json()
    too_long = await client.post(f"/api/reports/{first['id']}/reject", headers=manager, json={"reason": "x" * 501})
    assert too_long.status_code == 422 and too_long.json()["details"]["field"] == "reason"
    r = await client.post(f"/api/reports/{second['id']}/reject", headers=manager, json={"reason": long_reason})
    assert r.status_code == 200 and r.json()["reject_reason"] == long_reason


def test_one_distance_for_geofences_and_duplicate_reports():
    from domain.checkin import rules as checkin_rules
    from domain.reports import rules as report_rules
    assert checkin_rules.distance_m is geo.distance_m
    assert not hasattr(report_rules, "haversine_m")
    assert geo.distance_m(30.0, 104.0, 30.0, 104.001) == pytest.approx(96.3, abs=0.5)  # 0.001° of longitude at 30° N

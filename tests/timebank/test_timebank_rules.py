"""Pure time-bank rules: the state machine, who may act, the confirm bound, star levels."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.timebank import rules
from domain.timebank.rules import RequestFacts, RuleError, Viewer

NOW = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
NOBODY = Viewer(False, False, False, False, False)
REQUESTER = Viewer(True, False, False, True, False)
BENEFICIARY = Viewer(False, True, False, True, False)
VOLUNTEER = Viewer(False, False, True, True, False)
MEMBER = Viewer(False, False, False, True, False)
MANAGER = Viewer(False, False, False, False, True)


def facts(state, *, use_pool=False, proxy=False, completed_ago=None):
    return RequestFacts(state, use_pool, proxy, NOW - completed_ago if completed_ago is not None else None)


def refused(action, viewer, request) -> str:
    with pytest.raises(RuleError) as err:
        rules.role_for(action, viewer, request, NOW)
    return err.value.code


def test_happy_path_states():
    state = "open"
    for action, expected in (("accept", "accepted"), ("complete", "completed"), ("confirm", "confirmed")):
        state = rules.next_state(state, action)
        assert state == expected


@pytest.mark.parametrize("state", ["confirmed", "cancelled"])
@pytest.mark.parametrize("action", ["accept", "complete", "confirm", "cancel"])
def test_finished_requests_refuse_everything(state, action):
    with pytest.raises(RuleError) as err:
        rules.next_state(state, action)
    assert err.value.code == "invalid_state"


def test_cannot_skip_states():
    for state, action in (("open", "complete"), ("open", "confirm"), ("accepted", "confirm"),
                          ("accepted", "accept"), ("completed", "complete")):
        with pytest.raises(RuleError):
            rules.next_state(state, action)


def test_requester_and_beneficiary_cannot_serve_their_own_request():
    assert refused("accept", REQUESTER, facts("open")) == "forbidden"
    assert refused("accept", BENEFICIARY, facts("open")) == "forbidden"
    assert refused("accept", NOBODY, facts("open")) == "not_member"
    assert rules.role_for("accept", MEMBER, facts("open"), NOW) == "volunteer"


def test_only_the_volunteer_completes():
    assert rules.role_for("complete", VOLUNTEER, facts("accepted"), NOW) == "volunteer"
    for viewer in (REQUESTER, MEMBER, MANAGER):
        assert refused("complete", viewer, facts("accepted")) == "forbidden"


def test_who_confirms():
    done = facts("completed", completed_ago=timedelta(days=1))
    assert rules.role_for("confirm", REQUESTER, done, NOW) == "requester"
    assert rules.role_for("confirm", BENEFICIARY, done, NOW) == "beneficiary"
    for viewer in (VOLUNTEER, MEMBER, NOBODY, MANAGER):
        assert refused("confirm", viewer, done) == "forbidden"
    # a manager: for pool-paid and proxy requests at once, for others after 7 days
    assert rules.role_for("confirm", MANAGER, facts("completed", use_pool=True, proxy=True,
                                                      completed_ago=timedelta(0)), NOW) == "manager"
    assert rules.role_for("confirm", MANAGER, facts("completed", proxy=True, completed_ago=timedelta(0)), NOW) == "manager"
    assert refused("confirm", MANAGER, facts("completed", completed_ago=timedelta(days=7) - timedelta(seconds=1))) \
        == "forbidden"
    assert rules.role_for("confirm", MANAGER, facts("completed", completed_ago=timedelta(days=7)), NOW) == "manager"


def test_who_cancels():
    for state in ("open", "accepted"):
        assert rules.role_for("cancel", REQUESTER, facts(state), NOW) == "requester"
        assert rules.role_for("cancel", MANAGER, facts(state), NOW) == "manager"
        assert refused("cancel", VOLUNTEER, facts(state)) == "forbidden"
        assert refused("cancel", MEMBER, facts(state)) == "forbidden"
    # once the work is done the requester confirms; only a manager may cancel (a disputed service)
    assert refused("cancel", REQUESTER, facts("completed")) == "forbidden"
    assert rules.role_for("cancel", MANAGER, facts("completed"), NOW) == "manager"


def test_on_a_proxy_request_the_posting_manager_acts_as_manager():
    posted_by_manager = Viewer(True, False, False, False, True)
    dismissed_since = Viewer(True, False, False, False, False)
    proxy = facts("completed", proxy=True, completed_ago=timedelta(0))
    assert rules.role_for("confirm", posted_by_manager, proxy, NOW) == "manager"
    assert refused("confirm", dismissed_since, proxy) == "forbidden"
    assert rules.role_for("confirm", BENEFICIARY, proxy, NOW) == "beneficiary"
    assert rules.role_for("cancel", posted_by_manager, facts("open", proxy=True), NOW) == "manager"
    # ...but never serves (and so pays themselves for) the request they posted
    also_member = Viewer(True, False, False, True, True)
    assert refused("accept", also_member, facts("open", proxy=True, use_pool=True)) == "forbidden"


def test_allowed_actions_drive_the_buttons():
    assert rules.allowed_actions(MEMBER, facts("open"), NOW) == ["accept"]
    assert rules.allowed_actions(REQUESTER, facts("open"), NOW) == ["cancel"]
    assert rules.allowed_actions(VOLUNTEER, facts("accepted"), NOW) == ["complete"]
    assert rules.allowed_actions(REQUESTER, facts("completed", completed_ago=timedelta(0)), NOW) == ["confirm"]
    assert rules.allowed_actions(NOBODY, facts("confirmed"), NOW) == []


def test_proxy_is_recorded_for_the_beneficiary():
    assert rules.on_behalf_of("manager", beneficiary_id=7, actor_id=3) == 7
    assert rules.on_behalf_of("requester", beneficiary_id=7, actor_id=3) == 7   # family posting for an elder
    assert rules.on_behalf_of("requester", beneficiary_id=3, actor_id=3) is None
    assert rules.on_behalf_of("volunteer", beneficiary_id=7, actor_id=3) is None


def test_confirm_bound():
    rules.check_confirmed_minutes(60, 45, None)
    rules.check_confirmed_minutes(60, 60, None)
    rules.check_confirmed_minutes(60, 90, "took longer: two prescriptions")
    with pytest.raises(RuleError) as err:
        rules.check_confirmed_minutes(60, 91, "too long")
    assert (err.value.code, err.value.field) == ("validation_failed", "minutes")
    with pytest.raises(RuleError) as err:
        rules.check_confirmed_minutes(60, 61, "  ")
    assert (err.value.code, err.value.field) == ("validation_failed", "reason")
    with pytest.raises(RuleError) as err:
        rules.check_confirmed_minutes(60, 0, None)
    assert err.value.field == "minutes"


def test_odd_estimates_round_down():
    assert rules.max_confirmable(45) == 67        # 67.5 is not a whole minute
    rules.check_confirmed_minutes(45, 67, "r")
    with pytest.raises(RuleError):
        rules.check_confirmed_minutes(45, 68, "r")


@given(estimate=st.integers(1, 1440), minutes=st.integers(1, 2200))
def test_split_pays_exactly_the_confirmed_minutes(estimate, minutes):
    from_hold, extra = rules.split_confirmed(estimate, minutes)
    assert from_hold + extra == minutes
    assert 1 <= from_hold <= estimate
    assert extra == 0 or from_hold == estimate


@pytest.mark.parametrize("hours, expected", [(0, 0), (99.99, 0), (100, 1), (299, 1), (300, 2), (600, 3),
                                              (999, 3), (1000, 4), (1500, 5), (10_000, 5)])
def test_stars(hours, expected):
    assert rules.stars(round(hours * 60)) == expected


def test_next_star():
    assert rules.next_star_minutes(0) == 6000
    assert rules.next_star_minutes(6000) == 18000
    assert rules.next_star_minutes(90000) is None

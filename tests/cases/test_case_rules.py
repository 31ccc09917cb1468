"""The grid loop's pure rules, without a database: the state machine, escalation levels, who rates,
when a bonus or a handler's minutes are due, household vote keys and the satisfaction share."""

from datetime import datetime, timedelta, timezone

import pytest

from domain.cases import rules
from domain.core.errors import DomainError

T = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)


def test_the_happy_path_and_its_detours():
    state = "reported"
    for act, to in (("sort", "sorted"), ("send_up", "sorted"), ("dispatch", "dispatched"), ("accept", "accepted"),
                    ("done", "done"), ("rate", "rated")):
        state = rules.next_state(act, state)
        assert state == to
    assert rules.next_state("return", "accepted") == "returned"
    assert rules.next_state("dispatch", "returned") == "dispatched"
    assert rules.next_state("reopen", "done") == "dispatched"
    assert rules.next_state("merge", "sorted") == "merged"


@pytest.mark.parametrize("act,state", [("accept", "sorted"), ("done", "dispatched"), ("rate", "accepted"),
                                       ("merge", "dispatched"), ("dispatch", "rated"), ("rate", "rated")])
def test_an_act_out_of_turn_is_refused(act, state):
    with pytest.raises(DomainError) as refused:
        rules.next_state(act, state)
    assert refused.value.code == "invalid_state"


def test_escalation_reaches_the_street_at_the_deadline_and_the_district_a_day_later():
    deadline = T + timedelta(hours=48)
    assert rules.escalation_due(deadline, 0, deadline - timedelta(seconds=1)) == 0
    assert rules.escalation_due(deadline, 0, deadline) == 1
    assert rules.escalation_due(deadline, 1, deadline + timedelta(hours=23)) == 1
    assert rules.escalation_due(deadline, 1, deadline + timedelta(hours=24)) == 2
    assert rules.escalation_due(deadline, 0, deadline + timedelta(days=3)) == 2  # both steps at once
    assert rules.escalation_due(deadline, 2, deadline) == 2  # never lower
    assert rules.escalation_due(None, 0, deadline) == 0


def test_unsatisfied_reopens_once():
    assert rules.rate("unsatisfied", reopened_before=False) == rules.RatingOutcome("dispatched", True)
    assert rules.rate("unsatisfied", reopened_before=True) == rules.RatingOutcome("rated", False)
    assert rules.rate("fair", reopened_before=False) == rules.RatingOutcome("rated", False)
    with pytest.raises(DomainError):
        rules.rate("great", reopened_before=False)


def test_only_the_reporter_rates_and_never_their_own_handling():
    rules.may_rate(7, 7, [3, None])
    with pytest.raises(DomainError) as other:
        rules.may_rate(8, 7, [3])
    assert other.value.details["why"] == "only the reporter rates a case"
    with pytest.raises(DomainError) as own:
        rules.may_rate(7, 7, [3, 7])
    assert own.value.details["rule"] == "own_handling"


def test_a_bonus_is_for_a_couriers_report_closed_in_time_once():
    assert rules.bonus_due("report", True, False)
    assert not rules.bonus_due("report", False, False)
    assert not rules.bonus_due("report", True, True)
    assert not rules.bonus_due("resident", True, False)
    assert rules.closed_in_time(T, T) and not rules.closed_in_time(T + timedelta(seconds=1), T)


def test_a_work_units_handler_earns_minutes_for_a_case_closed_in_time_and_rated_well():
    assert rules.handler_minutes_due("unit", True, "satisfied")
    assert rules.handler_minutes_due("unit", True, "fair")
    assert not rules.handler_minutes_due("unit", True, "unsatisfied")
    assert not rules.handler_minutes_due("unit", False, "satisfied")
    assert not rules.handler_minutes_due("property", True, "satisfied")


def test_one_vote_per_household_or_per_person_without_one():
    assert rules.voter_key(5, 9) == rules.voter_key(6, 9) == "h9"
    assert rules.voter_key(5, None) == "u5" != rules.voter_key(6, None)


def test_figures_helpers():
    assert rules.satisfaction(3, 1, 1) == 80.0 and rules.satisfaction(0, 0, 0) is None
    assert rules.median_hours([1.0, 2.0, 10.0]) == 2.0 and rules.median_hours([]) is None
    assert rules.number("20260601", 42) == "20260601-42"

"""Pure rules of the moral supermarket (domain/redemption_rules.py): no database."""

from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo

import pytest

from domain.supermarket import rules
from domain.core import settings
from domain.people import community_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the default LINLI_TZ
from domain.core.errors import DomainError
from domain.supermarket import code_from_scan


def refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    return caught.value


# ---- state machine ----------------------------------------------------------------------------

@pytest.mark.parametrize("current,target", [
    ("requested", "approved"), ("requested", "rejected"), ("requested", "cancelled"), ("requested", "expired"),
    ("approved", "fulfilled"), ("approved", "expired")])
def test_allowed_moves(current, target):
    rules.require_transition(current, target)


@pytest.mark.parametrize("current,target", [
    ("approved", "cancelled"), ("approved", "rejected"), ("approved", "approved"), ("requested", "fulfilled"),
    ("rejected", "approved"), ("cancelled", "approved"), ("expired", "fulfilled"), ("fulfilled", "expired"),
    ("fulfilled", "cancelled")])
def test_refused_moves_are_invalid_state(current, target):
    assert refused(rules.require_transition, current, target).code == "invalid_state"


def test_a_second_hand_over_reads_as_already_used():
    assert refused(rules.require_transition, "fulfilled", "fulfilled").code == "already_used"


# The redemption flow of DESIGN.md ("request → approve or reject → voucher scanned → fulfilled;
# unapproved requests expire"), written out: every state, and the moves it allows.
STATES = {"requested", "approved", "rejected", "cancelled", "expired", "fulfilled"}
MOVES = {("requested", "approved"), ("requested", "rejected"), ("requested", "cancelled"),
         ("requested", "expired"), ("approved", "fulfilled"), ("approved", "expired")}
FINAL = {"rejected", "cancelled", "expired", "fulfilled"}


def test_the_states_are_the_flows():
    assert set(rules.STATES) == STATES


@pytest.mark.parametrize("current", sorted(STATES))
@pytest.mark.parametrize("target", sorted(STATES))
def test_every_move_is_allowed_or_refused_as_the_flow_says(current, target):
    if (current, target) in MOVES:
        rules.require_transition(current, target)
    else:
        assert refused(rules.require_transition, current, target).code in ("invalid_state", "already_used")


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_go_nowhere(final):
    for target in STATES:
        with pytest.raises(DomainError):
            rules.require_transition(final, target)


# ---- request checks, in their fixed order -----------------------------------------------------

def check(**overrides):
    args = dict(active=True, stock=5, quantity=1, per_person_limit=None, used_this_month=0)
    rules.check_request(**(args | overrides))


def test_a_plain_request_passes():
    check()
    check(stock=1, quantity=1, per_person_limit=2, used_this_month=1)


def test_quantity_must_be_sensible():
    assert refused(check, quantity=0).code == "validation_failed"
    assert refused(check, quantity=rules.MAX_QUANTITY + 1, stock=1000).details["field"] == "quantity"


def test_inactive_reward_is_not_on_offer():
    assert refused(check, active=False).code == "invalid_state"


def test_stock_must_cover_the_quantity():
    error = refused(check, stock=2, quantity=3)
    assert error.code == "out_of_stock" and error.details == {"stock": 2, "quantity": 3}
    assert refused(check, stock=0).code == "out_of_stock"


def test_monthly_limit_counts_what_is_already_asked():
    assert refused(check, per_person_limit=2, used_this_month=2).code == "limit_reached"
    assert refused(check, per_person_limit=2, used_this_month=1, quantity=2).code == "limit_reached"
    check(per_person_limit=2, used_this_month=0, quantity=2)


def test_checks_come_in_order_inactive_then_stock_then_limit():
    assert refused(check, active=False, stock=0, per_person_limit=1, used_this_month=1).code == "invalid_state"
    assert refused(check, stock=0, per_person_limit=1, used_this_month=1).code == "out_of_stock"


def test_remaining_allowance():
    assert rules.remaining_allowance(None, 7) is None
    assert rules.remaining_allowance(3, 1) == 2
    assert rules.remaining_allowance(1, 4) == 0


# ---- who may decide ---------------------------------------------------------------------------

def test_only_a_manager_of_the_community_decides():
    assert refused(rules.require_decider, actor_id=1, actor_manages=False, requester_id=2).code == "forbidden"
    rules.require_decider(actor_id=1, actor_manages=True, requester_id=2)


def test_nobody_decides_on_their_own_redemption_even_a_manager():
    assert refused(rules.require_decider, actor_id=2, actor_manages=True, requester_id=2).code == "forbidden"


def test_only_the_requester_cancels():
    assert refused(rules.require_requester, actor_id=1, requester_id=2).code == "forbidden"
    rules.require_requester(actor_id=2, requester_id=2)


# ---- months in Asia/Shanghai ------------------------------------------------------------------

def test_month_is_the_shanghai_calendar_month():
    # 2026-03-31 20:00 UTC is already 1 April 04:00 in Shanghai.
    start, end = rules.month_bounds(datetime(2026, 3, 31, 20, 0, tzinfo=timezone.utc))
    assert start == datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 4, 30, 16, 0, tzinfo=timezone.utc)


def test_month_bounds_over_new_year_and_february():
    start, end = rules.month_bounds(datetime(2026, 12, 15, tzinfo=timezone.utc))
    assert (start.astimezone(SHANGHAI).month, end.astimezone(SHANGHAI).year) == (12, 2027)
    start, end = rules.month_bounds(datetime(2028, 2, 10, tzinfo=timezone.utc))
    assert (end - start) == timedelta(days=29)  # a leap year


def test_an_instant_is_inside_its_own_month():
    at = datetime(2026, 7, 1, 15, 59, 59, tzinfo=timezone.utc)  # 23:59:59 on 1 July in Shanghai
    start, end = rules.month_bounds(at)
    assert start <= at < end
    assert start.astimezone(SHANGHAI).day == 1


# ---- expiry settings --------------------------------------------------------------------------

def test_expiry_defaults_and_environment(monkeypatch, setenv):
    at = datetime(2026, 5, 1, tzinfo=timezone.utc)
    monkeypatch.delenv("LINLI_REDEMPTION_REQUEST_DAYS", raising=False)
    setenv("LINLI_REDEMPTION_VOUCHER_DAYS", "")
    default = rules.Expiry.of(community_policy.defaults())
    assert default.request_expires_at(at) == at + timedelta(days=7)
    assert default.voucher_expires_at(at) == at + timedelta(days=30)
    setenv("LINLI_REDEMPTION_REQUEST_DAYS", "3")
    configured = rules.Expiry.of(community_policy.defaults())
    assert (configured.request_days, configured.voucher_days) == (3, 30)
    with pytest.raises(settings.SettingsError, match="LINLI_REDEMPTION_VOUCHER_DAYS"):
        setenv("LINLI_REDEMPTION_VOUCHER_DAYS", "nonsense")


# ---- small helpers ----------------------------------------------------------------------------

def test_reason_is_required_and_tidied():
    assert rules.clean_reason("  库存  已 满 ") == "库存 已 满"
    assert refused(rules.clean_reason, "   ").details["field"] == "reason"
    assert rules.clean_reason("", required=False) is None
    assert refused(rules.clean_reason, "x" * 501).code == "validation_failed"


def test_points_are_cost_times_quantity():
    assert rules.total_points(80, 3) == 240


@pytest.mark.parametrize("scanned", [
    "abcdefghijklmnop", " abcdefghijklmnop\n", "https://linli.example/s/abcdefghijklmnop",
    "http://127.0.0.1:8000/s/abcdefghijklmnop/", "https://x.cn/s/abcdefghijklmnop?from=wechat"])
def test_a_scanned_url_or_a_pasted_code_gives_the_code(scanned):
    assert code_from_scan(scanned) == "abcdefghijklmnop"

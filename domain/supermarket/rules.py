"""Pure rules of the moral supermarket: the redemption state machine, who may do what, the order
of the checks on a request, the local (LINLI_TZ) month of per-person limits, and expiry times.

No database here; domain/supermarket applies these inside its transactions. The monthly limit is
decided here only; the state machine is decided here and refused again, as a backstop for any other
writer, by domain/supermarket/sql/supermarket.sql (tests/supermarket/test_one_side.py: one table of
cases, both sides).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.core import clock
from domain.core.errors import DomainError, forbidden
from domain.core.texts import clean_reason  # noqa: F401  (re-exported: the one reason cleaner)
from domain.people.community_policy import PolicyValues

STATES = ("requested", "approved", "rejected", "cancelled", "expired", "fulfilled")
OPEN_STATES = ("requested", "approved")
# States that use up stock and the monthly allowance: the goods are promised or handed over.
COUNTED_STATES = ("requested", "approved", "fulfilled")
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"approved", "rejected", "cancelled", "expired"}),
    "approved": frozenset({"fulfilled", "expired"}),
}

MAX_QUANTITY = 99


@dataclass(frozen=True)
class Expiry:
    """How long a request waits for a decision, and an approved voucher for its hand-over: the
    community's policy (redemption_request_days, redemption_voucher_days; by default
    LINLI_REDEMPTION_REQUEST_DAYS and LINLI_REDEMPTION_VOUCHER_DAYS)."""
    request_days: int = 7
    voucher_days: int = 30

    @classmethod
    def of(cls, policy: PolicyValues) -> "Expiry":
        return cls(request_days=policy.redemption_request_days, voucher_days=policy.redemption_voucher_days)

    def request_expires_at(self, requested_at: datetime) -> datetime:
        return requested_at + timedelta(days=self.request_days)

    def voucher_expires_at(self, approved_at: datetime) -> datetime:
        return approved_at + timedelta(days=self.voucher_days)


def require_transition(current: str, target: str) -> None:
    """Refuse a move the state machine does not allow; a second hand-over reads as 'already used'."""
    if target in TRANSITIONS.get(current, frozenset()):
        return
    if target == "fulfilled" and current == "fulfilled":
        raise DomainError("already_used")
    raise DomainError("invalid_state", details={"state": current, "wanted": target})


def month_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The local (LINLI_TZ) calendar month holding `at`, as [start, end) instants."""
    return clock.month_bounds(at)


def check_request(*, active: bool, stock: int, quantity: int, per_person_limit: int | None,
                  used_this_month: int) -> None:
    """The checks on a request, in a fixed order: quantity, active, stock, monthly limit.

    The balance comes last and is the ledger's own check (insufficient_balance) when it holds.
    """
    if not 1 <= quantity <= MAX_QUANTITY:
        raise DomainError("validation_failed", field="quantity", details={"problem": f"1 to {MAX_QUANTITY}"})
    if not active:
        raise DomainError("invalid_state", details={"problem": "the reward is not on offer"})
    if stock < quantity:
        raise DomainError("out_of_stock", details={"stock": stock, "quantity": quantity})
    remaining = remaining_allowance(per_person_limit, used_this_month)
    if remaining is not None and quantity > remaining:
        raise DomainError("limit_reached", details={"limit": per_person_limit, "used": used_this_month,
                                                    "remaining": remaining})


def remaining_allowance(per_person_limit: int | None, used_this_month: int) -> int | None:
    if per_person_limit is None:
        return None
    return max(0, per_person_limit - used_this_month)


def require_decider(*, actor_id: int, actor_manages: bool, requester_id: int) -> None:
    """Approving, rejecting or handing over needs a manager of the community who is not the requester."""
    if not actor_manages:
        raise forbidden("not a manager of this community")
    if actor_id == requester_id:
        raise forbidden("nobody decides on their own redemption")


def require_requester(*, actor_id: int, requester_id: int) -> None:
    if actor_id != requester_id:
        raise forbidden("only the person who asked can cancel")


def total_points(cost_points: int, quantity: int) -> int:
    return cost_points * quantity

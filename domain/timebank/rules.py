"""Pure rules of the time bank: the request state machine, who may act, the confirm bound, and
star levels. No database here; domain/timebank.py applies these to rows it has locked."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

STATES = ("open", "accepted", "completed", "confirmed", "cancelled")

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"open"}), "accepted"),
    "complete": (frozenset({"accepted"}), "completed"),
    "confirm": (frozenset({"completed"}), "confirmed"),
    "cancel": (frozenset({"open", "accepted", "completed"}), "cancelled"),
}
ACTIONS = tuple(TRANSITIONS)

# Past this, a manager may confirm a completed service the requester left unconfirmed.
MANAGER_CONFIRM_AFTER = timedelta(days=7)

# An accepted service nobody completed lapses this long after its agreed time (or after it was
# accepted, when that is later or no time was agreed): the sweeper cancels it and releases the
# minutes held on the payer, who would otherwise never get them back. A completed service keeps
# its hold: the requester, or a manager after MANAGER_CONFIRM_AFTER, confirms it.
ACCEPTED_LAPSES_AFTER = timedelta(days=14)

# A completed service the requester leaves unconfirmed this long is confirmed at its estimate by the
# sweeper (the requester's minutes stayed held forever). The "please confirm" message says
# so when the service is marked done: that message is the notice.
AUTO_CONFIRM_AFTER = timedelta(days=14)
AUTO_CONFIRM_DAYS = AUTO_CONFIRM_AFTER.days


def affordable(state: str, estimate: int, payer_available: int) -> bool:
    """Whether an open request can be accepted: its payer (the requester, or the community pool) has
    the estimate available. A request past acceptance is paid from its hold."""
    return state != "open" or payer_available >= estimate

# Confirmed minutes may exceed the estimate by half at most (integer arithmetic: no rounding doubt).
MAX_OVER_NUMERATOR, MAX_OVER_DENOMINATOR = 3, 2

# Hours of banked time ever earned for 1..5 stars.
STAR_HOURS = (100, 300, 600, 1000, 1500)


class RuleError(Exception):
    """A refused action; `code` is a domain/reasons.py code, `field` names the bad input if any."""

    def __init__(self, code: str, field: str | None = None, problem: str | None = None) -> None:
        super().__init__(code)
        self.code, self.field, self.problem = code, field, problem


def next_state(state: str, action: str) -> str:
    """The state after `action`, or invalid_state when the request is not in a state that allows it."""
    starts, ends = TRANSITIONS[action]
    if state not in starts:
        raise RuleError("invalid_state", problem=f"cannot {action} a request that is {state}")
    return ends


@dataclass(frozen=True)
class Viewer:
    """How one person stands towards one request."""
    is_requester: bool
    is_beneficiary: bool
    is_volunteer: bool
    is_member: bool            # belongs to the request's community (may volunteer there)
    is_manager: bool           # manages the request's community (or is an admin)


@dataclass(frozen=True)
class RequestFacts:
    state: str
    use_pool: bool
    proxy: bool
    completed_at: datetime | None


def role_for(action: str, viewer: Viewer, request: RequestFacts, now: datetime) -> str:
    """The capacity in which `viewer` may take `action`, or RuleError (forbidden / not_member / invalid_state).

    Checked in a fixed order: state first (a cancelled request says so to everyone), then the person.
    The capacity is what the history records: a manager confirming for an elder acts as 'manager'.
    """
    next_state(request.state, action)
    if request.proxy and action in ("confirm", "cancel"):
        # A manager posted it for someone else: the requester's part is played by the community's
        # managers (recorded as such), not by whoever of them happened to post it.
        viewer = replace(viewer, is_requester=False)
    if action == "accept":
        if viewer.is_requester or viewer.is_beneficiary:
            raise RuleError("forbidden", problem="you cannot serve your own request")
        if not viewer.is_member:
            raise RuleError("not_member", problem="only members of the community can serve")
        return "volunteer"
    if action == "complete":
        if viewer.is_volunteer:
            return "volunteer"
        raise RuleError("forbidden", problem="only the volunteer marks the service completed")
    if action == "confirm":
        if viewer.is_requester:
            return "requester"
        if viewer.is_beneficiary:
            return "beneficiary"
        if viewer.is_manager and manager_may_confirm(request, now):
            return "manager"
        raise RuleError("forbidden", problem="only the requester confirms (a manager for the pool, "
                                             "for an elder, or after 7 days)")
    # cancel: the requester before the service is done; a manager also after (a disputed service).
    if viewer.is_requester and request.state in ("open", "accepted"):
        return "requester"
    if viewer.is_manager:
        return "manager"
    raise RuleError("forbidden", problem="only the requester or a manager cancels")


def manager_may_confirm(request: RequestFacts, now: datetime) -> bool:
    if request.use_pool or request.proxy:
        return True
    return request.completed_at is not None and now - request.completed_at >= MANAGER_CONFIRM_AFTER


def allowed_actions(viewer: Viewer, request: RequestFacts, now: datetime) -> list[str]:
    """What the viewer may do now, for the pages' buttons (the server re-checks on each action)."""
    can = []
    for action in ACTIONS:
        try:
            role_for(action, viewer, request, now)
            can.append(action)
        except RuleError:
            pass
    return can


def on_behalf_of(role: str, beneficiary_id: int, actor_id: int) -> int | None:
    """Acting as requester or manager for someone else is recorded as acting for the beneficiary."""
    if role in ("requester", "manager") and actor_id != beneficiary_id:
        return beneficiary_id
    return None


def check_confirmed_minutes(estimate: int, minutes: int, reason: str | None) -> None:
    """Confirmed minutes: 1 .. estimate * 1.5; above the estimate only with a reason."""
    if minutes < 1:
        raise RuleError("validation_failed", "minutes", "at least 1 minute")
    if minutes * MAX_OVER_DENOMINATOR > estimate * MAX_OVER_NUMERATOR:
        raise RuleError("validation_failed", "minutes",
                        f"at most {max_confirmable(estimate)} minutes (150% of the estimate)")
    if minutes > estimate and not (reason and reason.strip()):
        raise RuleError("validation_failed", "reason", "a reason is required above the estimate")


def max_confirmable(estimate: int) -> int:
    return estimate * MAX_OVER_NUMERATOR // MAX_OVER_DENOMINATOR


def split_confirmed(estimate: int, minutes: int) -> tuple[int, int]:
    """(posted from the hold, extra paid by a second transfer). The hold covers the estimate only."""
    return min(minutes, estimate), max(0, minutes - estimate)


def stars(earned_minutes: int) -> int:
    """0..5 stars from minutes ever earned (100/300/600/1000/1500 hours)."""
    return sum(1 for hours in STAR_HOURS if earned_minutes >= hours * 60)


def next_star_minutes(earned_minutes: int) -> int | None:
    """Earned minutes needed for the next star; None at five stars."""
    for hours in STAR_HOURS:
        if earned_minutes < hours * 60:
            return hours * 60
    return None

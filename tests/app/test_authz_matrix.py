"""The authorisation matrix (issue 11): every operation of the OpenAPI, as each of {logged out,
volunteer, courier, manager of A, manager of B, admin, and (issue 30) the manager of the street both
communities are in, the manager of its district, the administrator of A's work unit}, on a resource
of community A and one of B,
must answer 2xx where the rules allow it, 401 logged out, and 403 or 404 (as the table says) where
they don't. A new operation fails `test_every_operation_is_in_the_table` until it is added here.

The volunteer and courier belong to A; for B they are outsiders. Requests are otherwise valid, so
the only thing that changes between cells is who asks. Operations that use their resource up
(approve, cancel, delete ...) get a fresh one per cell (`fresh=`).

Scope, as the code decides it and this table pins it:
- managers act in their own communities; another community's resource is 403 (the API does not
  hide that it exists), except courier reports, which answer 404 to anyone who may not see them;
- a published activity is visible to anyone logged in (like its poster on the wall); drafts and
  every tool around an activity (attendance, posters, codes) are its managers' alone;
- members (volunteers, couriers) see their own community's rewards, service requests and member
  list (phones masked), and their own redemptions, reports and family links;
- admins may do what any manager may, but not what only the person may (cancel my redemption,
  approve a family link asking for me, confirm a service I asked for, redeem for myself ...).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest

from domain.core import clock, codes
from domain.people import auth
from domain.rankings import rules as ranking_rules
from tests.app.security_support import Builder, Side, _ok, ask_family_link, jpeg
from tests.conftest import T0, Person, World, appoint, new_phone, sms_code

pytestmark = pytest.mark.usefixtures("at_t0")  # seeded at T0: every test runs with the clock there

ROLES = ("anonymous", "volunteer", "courier", "manager_a", "manager_b", "admin",
         # issue 30: above and beside the communities. The street manager manages the street both
         # sides share, the district manager its district; the unit administrator runs side A's unit.
         "street_manager", "district_manager", "unit_admin")
LEVEL_MANAGERS = ("street_manager", "district_manager")
SIDES = ("A", "B")

# ---- who is allowed -------------------------------------------------------------------------------


def PUBLIC(role, side): return True
MATRIX_ADDRESS = "198.51.100.23"  # the matrix's own client address


def ANYONE(role, side): return role != "anonymous"
def ADMIN(role, side): return role == "admin"
def MANAGER(role, side): return role == "admin" or role == f"manager_{side.lower()}"
def MEMBER(role, side): return side == "A" and role in ("volunteer", "courier")
def VOLUNTEER(role, side): return side == "A" and role == "volunteer"
def COURIER(role, side): return side == "A" and role == "courier"
def MEMBER_OR_MANAGER(role, side): return MEMBER(role, side) or MANAGER(role, side)
def OWNER_OR_MANAGER(role, side): return VOLUNTEER(role, side) or MANAGER(role, side)
def COURIER_OR_MANAGER(role, side): return COURIER(role, side) or MANAGER(role, side)
def MEMBER_OR_OWN_MANAGER(role, side): return MEMBER(role, side) or role == f"manager_{side.lower()}"
def ANY_MANAGER(role, side): return role in ("admin", "manager_a", "manager_b")
# The second person on what a community holds (DESIGN.md "Roles follow the tree"): its managers, the
# managers of its street and district, an admin.
def CHECKER(role, side): return MANAGER(role, side) or role in LEVEL_MANAGERS
# Street and district managers read and compare everything below them (orgs.require_reader) ...
def READER(role, side): return MANAGER(role, side) or role in LEVEL_MANAGERS
def ANY_READER(role, side): return ANY_MANAGER(role, side) or role in LEVEL_MANAGERS
# ... and load and appoint for their part of the tree: units, spending areas, targets (require_level_manager).
def LEVEL(role, side): return role == "admin" or role in LEVEL_MANAGERS
# A unit's administrator runs side A's unit (its roster, its members, its view).
def UNIT_ADMIN(role, side): return role == "admin" or (role == "unit_admin" and side == "A")
def INVITEE(role, side): return role == "courier"
# The grid loop (issue 32): a side's hazard case is reported by its courier (A's courier is the matrix's)
# and dispatched to the side's property company, whose staff is the side's volunteer; a proposal is a
# resident's. Who may see a case but not do this gets 403, anyone else 404 (it does not exist for them).
# The street's and district's managers read everything below them, cases included.
def SEES_CASE(role, side): return COURIER(role, side) or MANAGER(role, side) or role in LEVEL_MANAGERS
def SEES_DISPATCHED(role, side): return SEES_CASE(role, side) or VOLUNTEER(role, side)
def case_deny(role, side): return 403 if SEES_CASE(role, side) else 404
def dispatched_deny(role, side): return 403 if SEES_DISPATCHED(role, side) else 404
def SEES_PROPOSAL(role, side): return MEMBER_OR_MANAGER(role, side) or role in LEVEL_MANAGERS
def proposal_deny(role, side): return 403 if SEES_PROPOSAL(role, side) else 404
# 爱心商家 (issue 35): each side's community has a merchant whose owner (and staff) is A's volunteer;
# its readers are its people and the managers who read the side. A's courier is the side-A resident
# who takes its offers (B's are outside A's courier's spending area).
def MERCHANT_STAFF(role, side): return role == "volunteer"
def MERCHANT_READER(role, side): return MERCHANT_STAFF(role, side) or READER(role, side)
# 公示 is for a community's residents, its managers and the managers above it (issue 34).
def POSTING_READER(role, side): return MEMBER(role, side) or READER(role, side)
# Issue 34: medal thresholds and selection quarters unique per cell; each fresh selection's candidate.
_COUNTER = __import__("itertools").count(1)
SELECTION_CANDIDATE: dict[int, int] = {}
# A quarter per selection opened, from 2025Q4 back to 2000Q1 (105 before one repeats): a counter of
# their own, as sharing _COUNTER with every other fresh value ran them round in one worker's matrix.
_QUARTERS = __import__("itertools").count()
def _past_quarter() -> str:
    n = next(_QUARTERS) % 104
    return f"{2025 - n // 4}Q{4 - n % 4}"
# A deduction (issue 34) is the side's volunteer's: they and whoever may decide it read it.
def DEDUCTED_OR_CHECKER(role, side): return VOLUNTEER(role, side) or CHECKER(role, side)


def _sent_code(phone: str) -> str:
    """The code the log sender sent to the phone; a guess when none was (bodies built for other tests)."""
    from domain.core import sms
    return sms_code(phone) if sms.last_logged(phone) else "000000"


def _residents_csv() -> bytes:
    return f"姓名,手机号\n王秀兰,{new_phone()}\n".encode()


def _units_csv() -> bytes:
    return "单位编码,单位名称,上级编码\n".encode()


def _units_form() -> dict:
    import hashlib
    data = _units_csv()
    return {"file": ("units.csv", data), "file_sha256": (None, hashlib.sha256(data).hexdigest())}


def _residents_form() -> dict:
    import hashlib
    data = _residents_csv()
    return {"file": ("r.csv", data), "file_sha256": (None, hashlib.sha256(data).hexdigest())}


@dataclass
class Op:
    method: str
    path: str
    allow: Callable[[str, str], bool]
    deny: int | Callable[[str, str], int] = 403       # what a logged-in person who may not gets
    fresh: dict[str, str] = field(default_factory=dict)  # path parameter -> kind of new resource per cell
    body: Callable[["Cell"], dict] | None = None       # JSON body
    files: Callable[["Cell"], dict] | None = None      # multipart body
    query: Callable[["Cell"], dict] | None = None
    session: str = "role"   # role: the role's own session; fresh_session: a new session of the same
                            # person (logout); fresh_person: a new person with the same roles (password)
    expect: dict[str, int] = field(default_factory=dict)  # exact statuses for some roles (rules, not scope)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


@dataclass
class Cell:
    """One request of the matrix: who asks, about which side, with which ids."""
    role: str
    side: Side
    ids: dict
    person: Person | None


def quarter() -> str:
    return str(ranking_rules.quarter_of(T0, clock.zone()))


def _iso(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def _records_xlsx() -> bytes:
    from domain.records import export
    return export.to_xlsx({group: [] for group in export.GROUPS} | {"people": [{
        "volunteer_key": "V-MATRIX-1", "name": "矩阵", "phone": "", "id_number": "", "birth_date": "",
        "district": "矩阵区", "street": "矩阵街道", "community": "矩阵社区", "joined_on": "2024-01-01"}]})


RECORDS_XLSX = _records_xlsx()
C = lambda c: c.ids["community"]  # noqa: E731  (the side's community id, for bodies and queries)

TABLE = [
    # service and auth
    Op("GET", "/healthz", PUBLIC),
    Op("GET", "/readyz", PUBLIC),
    Op("GET", "/api/periods/current", PUBLIC),  # the server's local day, month and quarter, for pages
    Op("POST", "/api/auth/register", PUBLIC, fresh={"sms_phone": "sms_register"},
       body=lambda c: {"phone": c.ids["sms_phone"], "password": "matrix-pass-1", "name": "新居民",
                       "code": _sent_code(c.ids["sms_phone"]), "consent": 1}),
    Op("POST", "/api/auth/login", PUBLIC, body=lambda c: {"phone": c.ids["login_phone"], "password": "matrix-pass-1"}),
    Op("POST", "/api/auth/logout", ANYONE, session="fresh_session"),
    Op("POST", "/api/auth/password", ANYONE, session="fresh_person",
       body=lambda c: {"old_password": "matrix-pass-1", "new_password": "matrix-pass-2"}),
    # me
    Op("GET", "/api/me", ANYONE),
    Op("GET", "/api/me/balances", ANYONE),
    Op("GET", "/api/me/statement", ANYONE),
    Op("GET", "/api/me/card", ANYONE),
    Op("POST", "/api/me/card/reissue", ANYONE, session="fresh_person"),
    Op("GET", "/api/me/export", ANYONE),
    Op("POST", "/api/me/close", ANYONE, session="fresh_person", body=lambda c: {"password": "matrix-pass-1"},
       expect={"manager_a": 409, "manager_b": 409, "admin": 409, "street_manager": 409,
               "district_manager": 409}),  # hand over the role first
    Op("GET", "/api/me/expiring", ANYONE),
    # organisation
    Op("POST", "/api/orgs", ADMIN, body=lambda c: {"kind": "grid", "name": "新网格", "parent_id": C(c)}),
    Op("GET", "/api/orgs", ANYONE, query=lambda c: {"parent_id": c.ids["street"]}),  # filtered, never refused
    Op("GET", "/api/orgs/{org_id}", READER),
    # ... a street's or district's own org too (tests/people/test_orgs_read.py: the level and below).
    Op("PATCH", "/api/orgs/{org_id}", ADMIN, body=lambda c: {"name": f"社区{c.side.name}"}),
    # appointing a community's manager is an invitation: the admin's, or its street's and district's managers'
    Op("POST", "/api/orgs/{org_id}/managers", LEVEL, body=lambda c: {"phone": new_phone(), "name": "新主任"}),
    Op("DELETE", "/api/orgs/{org_id}/managers/{user_id}", ADMIN, fresh={"user_id": "deputy"}),
    Op("POST", "/api/orgs/{org_id}/members", MANAGER, fresh={"org_id": "grid"},
       body=lambda c: {"user_id": c.ids["target"], "role": "courier"}),
    Op("POST", "/api/teams", MANAGER, body=lambda c: {"name": "新团队", "community_id": C(c)}),
    Op("POST", "/api/teams/{team_id}/members", MANAGER, body=lambda c: {"user_id": c.ids["target"]}),
    # console
    Op("GET", "/api/communities/{community_id}/members", MEMBER_OR_MANAGER),  # members see masked phones
    Op("GET", "/api/communities/{community_id}/members.csv", MEMBER_OR_MANAGER),
    Op("POST", "/api/communities/{community_id}/invitations", MANAGER,
       body=lambda c: {"phone": new_phone(), "name": "新邻居", "role": "volunteer"}),
    # A person one may not reach answers as an unknown id (issue 16): 404, not 403.
    Op("GET", "/api/members/{user_id}", MANAGER, deny=404),
    Op("POST", "/api/members/{user_id}/grid", MANAGER, fresh={"user_id": "courier_member"},  # couriers work in grids
       body=lambda c: {"grid_id": c.ids["grid"]}),
    Op("POST", "/api/members/{user_id}/deactivate", MANAGER, deny=404, fresh={"user_id": "member"},
       body=lambda c: {"reason": "搬走了"}),
    Op("POST", "/api/members/{user_id}/reactivate", MANAGER, deny=404, fresh={"user_id": "inactive_member"},
       body=lambda c: {"reason": "回来了"}),
    Op("POST", "/api/people/search", ADMIN, body=lambda c: {"q": "居民"}),
    Op("GET", "/api/audit", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/audit.csv", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/console/summary", ANY_MANAGER),
    # invitations answered by the invited person only (the courier of A, invited elsewhere): issue 16
    Op("GET", "/api/me/invitations", ANYONE),
    Op("POST", "/api/me/invitations/{invitation_id}/accept", INVITEE, deny=404, fresh={"invitation_id": "invitation"}),
    Op("POST", "/api/me/invitations/{invitation_id}/decline", INVITEE, deny=404, fresh={"invitation_id": "invitation"}),
    Op("GET", "/api/console/tree", ANY_MANAGER),
    # a unit's administration offered to A's courier's phone, answered by that person only (issue 30)
    # ledger
    Op("POST", "/api/adjustments", MANAGER, deny=404,
       body=lambda c: {"user_id": c.ids["target"], "unit": "points", "amount": 1, "reason": "补录"}),
    # maker-checker (issue 16): another manager of the community, or an admin, decides
    Op("GET", "/api/adjustment-requests", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("POST", "/api/adjustment-requests/{request_id}/approve", CHECKER, deny=404,
       fresh={"request_id": "adjustment_request"}),
    Op("POST", "/api/adjustment-requests/{request_id}/reject", CHECKER, deny=404,
       fresh={"request_id": "adjustment_request"}, body=lambda c: {"reason": "证据不足"}),
    Op("GET", "/api/communities/{community_id}/adjustment-policy", MANAGER),
    Op("PUT", "/api/communities/{community_id}/adjustment-policy", MANAGER, body=lambda c: {"threshold_points": 200}),
    Op("POST", "/api/transfers/{transfer_id}/reverse", MANAGER, fresh={"transfer_id": "transfer"},
       body=lambda c: {"reason": "录错了"}),
    Op("GET", "/api/users/{user_id}/statement", MANAGER, deny=404),
    # what is held for a second person, and the flags about managers (issue 30): the community's
    # other managers and the managers of its street and district decide; anyone else hears of nothing
    Op("GET", "/api/held", CHECKER, query=lambda c: {"community_id": C(c)}),
    Op("POST", "/api/held/{held_kind}/{item_id}/approve", CHECKER, deny=404, fresh={"item_id": "held_policy"},
       body=lambda c: {}),
    Op("POST", "/api/held/{held_kind}/{item_id}/reject", CHECKER, deny=404, fresh={"item_id": "held_policy"},
       body=lambda c: {"reason": "不宜自动通过"}),
    Op("GET", "/api/manager-flags", CHECKER, query=lambda c: {"community_id": C(c)}),
    Op("POST", "/api/manager-flags/{manager_flag_id}/dismiss", CHECKER, deny=404,
       fresh={"manager_flag_id": "manager_flag"}, body=lambda c: {"reason": "已核实"}),
    # activities and check-in
    Op("GET", "/api/activities", ANYONE, query=lambda c: {"community_id": C(c)}),  # filtered to what one may see
    Op("POST", "/api/activities", MANAGER, body=lambda c: {
        "community_id": C(c), "title": "新活动", "starts_at": _iso(1), "ends_at": _iso(3)}),
    Op("GET", "/api/activities/{activity_id}", ANYONE),  # published: like the poster on the wall
    Op("PATCH", "/api/activities/{activity_id}", MANAGER, fresh={"activity_id": "draft"},
       body=lambda c: {"place": "活动室"}),
    Op("DELETE", "/api/activities/{activity_id}", MANAGER, fresh={"activity_id": "draft"}),
    Op("POST", "/api/activities/{activity_id}/publish", MANAGER, fresh={"activity_id": "draft"}),
    Op("POST", "/api/activities/{activity_id}/close", MANAGER, fresh={"activity_id": "activity"}),
    Op("GET", "/api/activities/{activity_id}/attendance", MANAGER),
    Op("POST", "/api/activities/{activity_id}/attendance/mark", MANAGER,
       body=lambda c: {"user_ids": [c.ids["target"]], "reason": "忘带手机", "minutes": 30}),
    Op("GET", "/api/activities/{activity_id}/members", MANAGER),
    Op("GET", "/api/activities/{activity_id}/failed-scans", MANAGER),
    Op("GET", "/api/activities/{activity_id}/poster.png", MANAGER),
    Op("GET", "/api/activities/{activity_id}/poster.svg", MANAGER),
    Op("GET", "/api/activities/{activity_id}/rotating-code", MANAGER),
    Op("POST", "/api/activities/{activity_id}/station-scans", MANAGER,
       body=lambda c: {"code": c.ids["card_code"]}),
    Op("POST", "/api/checkins/{attendance_id}/annul", MANAGER, fresh={"attendance_id": "attendance"},
       body=lambda c: {"reason": "误签"}),
    # issue 21: paired kiosk screens (a device token, never a session) and the review of flagged scans
    Op("GET", "/api/activities/{activity_id}/flags", MANAGER),
    Op("GET", "/api/activities/{activity_id}/correction-requests", MANAGER),
    # 申请补录 is the attendance's own person's act: the side's volunteer asks about their own attendance;
    # anyone else (a manager included) hears of no such attendance.
    Op("POST", "/api/checkins/{attendance_id}/correction-request", VOLUNTEER, deny=404,
       fresh={"attendance_id": "volunteer_attendance"}, body=lambda c: {"reason": "我一直在场，忘了签退"}),
    Op("GET", "/api/activities/{activity_id}/kiosks", MANAGER),
    Op("POST", "/api/activities/{activity_id}/kiosks", MANAGER),
    Op("POST", "/api/kiosks/{kiosk_id}/revoke", MANAGER, fresh={"kiosk_id": "kiosk"}),
    Op("POST", "/api/kiosk/pair", PUBLIC, body=lambda c: {"code": "not-a-code"},
       expect={role: 404 for role in ROLES}),  # a session pairs nothing: only a live pairing code does
    Op("GET", "/api/kiosk/code", PUBLIC, expect={role: 401 for role in ROLES}),  # only a device token opens it
    Op("POST", "/api/scan-flags/{flag_id}/resolve", MANAGER, fresh={"flag_id": "flag"},
       body=lambda c: {"action": "dismiss", "reason": "已核实"}),
    # scans
    Op("GET", "/api/scans/{code}", PUBLIC),
    Op("POST", "/api/scans", MEMBER, body=lambda c: {"code": c.ids["poster_code"]}),  # others: not_member
    # moral supermarket
    Op("POST", "/api/rewards", MANAGER, body=lambda c: {"community_id": C(c), "name": "肥皂", "cost_points": 5}),
    Op("GET", "/api/rewards", MEMBER_OR_MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/rewards/{reward_id}", MEMBER_OR_MANAGER),
    Op("PATCH", "/api/rewards/{reward_id}", MANAGER, body=lambda c: {"description": "新到货"}),
    Op("POST", "/api/rewards/{reward_id}/stock", MANAGER, body=lambda c: {"delta": 1, "reason": "进货"}),
    Op("GET", "/api/rewards/{reward_id}/stock-changes", MANAGER),
    Op("POST", "/api/rewards/{reward_id}/image", MANAGER, files=lambda c: {"image": ("r.jpg", jpeg(), "image/jpeg")}),
    Op("DELETE", "/api/rewards/{reward_id}/image", MANAGER),
    Op("GET", "/api/rewards/{reward_id}/image", PUBLIC, fresh={"reward_id": "reward_with_image"}),
    Op("POST", "/api/redemptions", MEMBER_OR_OWN_MANAGER,
       body=lambda c: {"reward_id": c.ids["reward"], "quantity": 1}),
    Op("GET", "/api/redemptions", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/redemptions/counts", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/redemptions/{redemption_id}", OWNER_OR_MANAGER),
    Op("POST", "/api/redemptions/{redemption_id}/approve", MANAGER, fresh={"redemption_id": "redemption"}),
    Op("POST", "/api/redemptions/{redemption_id}/reject", MANAGER, fresh={"redemption_id": "redemption"},
       body=lambda c: {"reason": "库存不足"}),
    Op("POST", "/api/redemptions/{redemption_id}/cancel", VOLUNTEER, fresh={"redemption_id": "redemption"}),
    # The manager may show the voucher too: it is the manager's scan of it that hands the goods over.
    Op("GET", "/api/redemptions/{redemption_id}/voucher", OWNER_OR_MANAGER,
       fresh={"redemption_id": "approved_redemption"}),
    Op("POST", "/api/redemptions/on-the-spot", MANAGER,
       body=lambda c: {"member_code": c.ids["card_code"], "reward_id": c.ids["reward"], "quantity": 1}),
    # time bank
    # For oneself in a community one belongs to (its managers count); elsewhere, unless a spending
    # area (通兑范围) of the street opens it: 403 outside_area naming community_id.
    Op("POST", "/api/timebank/requests", MEMBER_OR_OWN_MANAGER,
       body=lambda c: {"title": "修水管", "minutes_estimate": 30, "community_id": C(c)}),
    Op("GET", "/api/timebank/requests", MEMBER_OR_MANAGER, query=lambda c: {"community_id": C(c)}),
    # spending areas (通兑范围) of the street A and B share: its policy is the admin's (and the
    # street's own managers'); its settlement is read by the managers of its communities too
    Op("GET", "/api/orgs/{org_id}/spending-area", LEVEL, fresh={"org_id": "street"}),
    Op("PUT", "/api/orgs/{org_id}/spending-area", LEVEL, fresh={"org_id": "street"},
       body=lambda c: {"unit": "minutes", "enabled": False}),
    Op("GET", "/api/orgs/{org_id}/settlement", ANY_READER, fresh={"org_id": "street"}),
    # certificates of service hours: asked by a member, issued and revoked by the community's
    # managers, verified by anyone
    Op("POST", "/api/certificates", MEMBER, body=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/certificates", ANYONE),
    Op("POST", "/api/certificates/{certificate_id}/issue", MANAGER, fresh={"certificate_id": "certificate"},
       body=lambda c: {}),
    Op("POST", "/api/certificates/{certificate_id}/revoke", MANAGER, fresh={"certificate_id": "issued_certificate"},
       body=lambda c: {"reason": "登记有误"}),
    Op("GET", "/api/verify/{code}", PUBLIC, fresh={"code": "certificate_code"}),
    Op("POST", "/api/corrections", MEMBER, body=lambda c: {"community_id": C(c), "request": "少记了一次服务"}),
    Op("GET", "/api/corrections", ANYONE),
    Op("POST", "/api/corrections/{correction_id}/answer", MANAGER, fresh={"correction_id": "correction"},
       body=lambda c: {"accepted": False, "answer": "已核实，记录无误"}),
    Op("GET", "/api/timebank/requests/{request_id}", MEMBER_OR_MANAGER),
    Op("POST", "/api/timebank/requests/{request_id}/accept", MEMBER, fresh={"request_id": "open_request"}),
    Op("POST", "/api/timebank/requests/{request_id}/complete", VOLUNTEER, fresh={"request_id": "accepted_request"}),
    # Only the requester confirms (a manager only for the pool, an elder, or after 7 days).
    Op("POST", "/api/timebank/requests/{request_id}/confirm", VOLUNTEER, fresh={"request_id": "completed_request"},
       body=lambda c: {"minutes": 30}),
    Op("POST", "/api/timebank/requests/{request_id}/cancel", MANAGER, fresh={"request_id": "open_request"}),
    Op("GET", "/api/timebank/me", ANYONE),
    Op("GET", "/api/timebank/certificate", MANAGER, deny=404, query=lambda c: {"user_id": c.ids["target"]}),
    Op("GET", "/api/timebank/pool", MEMBER_OR_MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("POST", "/api/timebank/pool/donations", MEMBER, body=lambda c: {"community_id": C(c), "minutes": 1}),
    Op("POST", "/api/timebank/pool/credits", MANAGER,
       body=lambda c: {"community_id": C(c), "minutes": 10, "reason": "街道拨付"}),
    Op("GET", "/api/family-links", ANYONE),
    Op("POST", "/api/family-links", ANYONE, body=lambda c: {"phone": c.ids["link_phone"]}),
    Op("POST", "/api/family-links/{link_id}/approve", VOLUNTEER, fresh={"link_id": "link"}),
    Op("POST", "/api/family-links/{link_id}/remove", VOLUNTEER, fresh={"link_id": "link"}),
    Op("POST", "/api/gifts", VOLUNTEER, body=lambda c: {"to_user_id": c.ids["target"], "minutes": 1}),
    # courier reports
    Op("POST", "/api/reports", COURIER, files=lambda c: {
        "kind": (None, "civility"), "text": (None, "劝导乱停车"), "grid_id": (None, str(c.ids["grid"]))}),
    Op("GET", "/api/reports", MANAGER, query=lambda c: {"community_id": C(c)}),
    Op("GET", "/api/reports/{report_id}", COURIER_OR_MANAGER, deny=404),
    Op("GET", "/api/reports/{report_id}/photo", COURIER_OR_MANAGER, deny=404),
    Op("POST", "/api/reports/{report_id}/verify", MANAGER, deny=404, fresh={"report_id": "report"}),
    Op("POST", "/api/reports/{report_id}/reject", MANAGER, deny=404, fresh={"report_id": "report"},
       body=lambda c: {"reason": "照片不清楚"}),
    Op("GET", "/api/couriers/me", ANYONE),
    Op("GET", "/api/communities/{community_id}/report-settings", MANAGER),
    Op("GET", "/api/communities/{community_id}/policy", MANAGER),
    Op("PUT", "/api/communities/{community_id}/policy", MANAGER, body=lambda c: {"offline_max_delay_seconds": 3600}),
    Op("PUT", "/api/communities/{community_id}/report-settings", MANAGER, body=lambda c: {"hazard_points": 8}),
    # rankings, postings, households, dashboard, exports
    Op("GET", "/api/rankings", READER, query=lambda c: {"scope": "community", "org_id": C(c)}),
    Op("GET", "/api/communities/{community_id}/ledger.csv", MANAGER,
       query=lambda c: {"from": f"{T0.year}-01-01", "to": f"{T0.year}-12-31"}),
    Op("GET", "/api/communities/{community_id}/settings", MANAGER),
    Op("PATCH", "/api/communities/{community_id}/settings", MANAGER, body=lambda c: {"points_expire": False}),
    Op("GET", "/api/communities/{community_id}/dashboard", READER),
    Op("GET", "/api/communities/{community_id}/households", MANAGER),
    Op("GET", "/api/communities/{community_id}/teams", MANAGER),
    Op("GET", "/api/communities/{community_id}/postings", POSTING_READER),  # residents too (issue 34)
    Op("POST", "/api/households", MANAGER, body=lambda c: {"community_id": C(c), "name": "王家"}),
    Op("POST", "/api/households/{household_id}/members", MANAGER, fresh={"household_id": "household"},
       body=lambda c: {"user_id": c.ids["target"]}),
    Op("POST", "/api/postings", MANAGER, body=lambda c: {"community_id": C(c), "quarter": quarter(), "top_n": 3}),
    Op("GET", "/api/public/postings/{posting_id}", PUBLIC),
    Op("POST", "/api/postings/{posting_id}/appeals", MEMBER, fresh={"posting_id": "posting"},
       body=lambda c: {"reason": "我的积分少算了"}),
    Op("GET", "/api/postings/{posting_id}/appeals", ANYONE),
    # activity sign-up (issue 22): members of the activity's community; anyone may see the places
    Op("GET", "/api/activities/{activity_id}/signup", ANYONE),
    Op("POST", "/api/activities/{activity_id}/signup", MEMBER),
    Op("POST", "/api/activities/{activity_id}/signup/cancel", ANYONE),
    Op("GET", "/api/me/activities", ANYONE),
    Op("GET", "/api/me/workbench", ANYONE),
    Op("GET", "/api/me/rank", ANYONE),  # a manager sees all, anyone else their own
    Op("POST", "/api/appeals/{appeal_id}/answer", MANAGER, fresh={"appeal_id": "appeal"},
       body=lambda c: {"answer": "已核实"}),
    # messages (issue 23): everyone has their own inbox; another person's message is not there
    Op("GET", "/api/me/messages", ANYONE),
    Op("GET", "/api/me/messages/unread", ANYONE),
    Op("POST", "/api/me/messages/{message_id}/read", VOLUNTEER, deny=404),  # A's volunteer's own message
    Op("POST", "/api/me/messages/read-all", ANYONE),
    Op("GET", "/api/me/messages/settings", ANYONE),
    Op("PUT", "/api/me/messages/settings/{kind}", ANYONE, body=lambda c: {"channels": ["sms"]}),
    # 双报到: work units (under the street both sides share) and levels above the community: the
    # street's and district's managers (and the admin) act there; the unit administrator runs unit A.
    Op("POST", "/api/units", LEVEL, body=lambda c: {"name": "新单位", "kind": "enterprise", "parent_id": c.ids["street"]}),
    Op("GET", "/api/units", ANYONE),
    Op("POST", "/api/units/{unit_id}/admins", LEVEL, body=lambda c: {"phone": c.ids["login_phone"]}),
    Op("POST", "/api/units/{unit_id}/roster", UNIT_ADMIN, files=lambda c: {"file": ("roster.csv", b"x", "text/csv")}),
    Op("POST", "/api/units/{unit_id}/members/{user_id}/confirm", UNIT_ADMIN, fresh={"user_id": "unit_claim"}),
    Op("GET", "/api/units/{unit_id}/view", UNIT_ADMIN),
    Op("POST", "/api/unit-reports", ANYONE, session="fresh_person",
       body=lambda c: {"unit_id": c.ids["unit"], "community_id": C(c)}),
    Op("POST", "/api/unit-reports/withdraw", ANYONE, session="fresh_person"),
    Op("POST", "/api/unit-reports/{unit_report_id}/approve", MANAGER, fresh={"unit_report_id": "unit_report"}),
    Op("POST", "/api/unit-reports/{unit_report_id}/reject", MANAGER, fresh={"unit_report_id": "unit_report"},
       body=lambda c: {"reason": "不在本社区居住"}),
    Op("GET", "/api/communities/{community_id}/unit-reports", MANAGER),
    Op("GET", "/api/communities/{community_id}/units-served", READER),
    Op("GET", "/api/communities/{community_id}/needs", lambda r, s: MEMBER_OR_MANAGER(r, s) or r in LEVEL_MANAGERS),
    Op("POST", "/api/communities/{community_id}/needs", MANAGER, body=lambda c: {"title": "楼道值守", "slots": 50}),
    Op("POST", "/api/communities/{community_id}/service-cards", MANAGER,
       body=lambda c: {"user_id": c.ids["reported"], "quarter": quarter()}),
    Op("POST", "/api/needs/{need_id}/claim", VOLUNTEER),  # the volunteer reported to A
    Op("POST", "/api/needs/{need_id}/close", MANAGER, fresh={"need_id": "need"}),
    Op("GET", "/api/levels/{level_id}/overview", LEVEL),
    Op("GET", "/api/levels/{level_id}/units-ranking", LEVEL),
    Op("PUT", "/api/levels/{level_id}/service-target", LEVEL, body=lambda c: {"year": 2026, "minutes": 3000}),
    Op("GET", "/api/me/levels", ANYONE),
    Op("GET", "/api/me/service-record", ANYONE),
    # a city loads itself (issue 31): lists only the platform admin or a street's or district's managers
    # load (for their part of the tree); roles by invitation; the need lifecycle; 微网格
    Op("GET", "/api/city-imports/{kind}/template", ANYONE, fresh={"kind": "import_kind"}),
    Op("POST", "/api/city-imports/{kind}/dry-run", LEVEL, fresh={"kind": "import_kind"},
       files=lambda c: {"file": ("units.csv", _units_csv())}),
    Op("POST", "/api/city-imports/{kind}", LEVEL, fresh={"kind": "import_kind"}, files=lambda c: _units_form()),
    Op("GET", "/api/communities/search", ANYONE, query=lambda c: {"q": "社区"}),
    # a community's manager is named by the admin or by the managers of its street and district
    Op("POST", "/api/role-invites", LEVEL,
       body=lambda c: {"kind": "manager", "phone": new_phone(), "name": "新主任", "org_id": C(c)}),
    Op("GET", "/api/role-invites", LEVEL, query=lambda c: {"org_id": C(c)}),
    Op("GET", "/api/me/role-invites", ANYONE),
    # the courier is named the administrator of a new unit of the street (nothing else in the table reads it)
    Op("POST", "/api/me/role-invites/{invite_id}/accept", INVITEE, deny=404, fresh={"invite_id": "role_invite"}),
    Op("POST", "/api/me/role-invites/{invite_id}/decline", INVITEE, deny=404, fresh={"invite_id": "role_invite"}),
    Op("GET", "/api/communities/{community_id}/need-claims", READER),
    Op("GET", "/api/me/need-claims", ANYONE),
    Op("POST", "/api/need-claims/{claim_id}/serve", VOLUNTEER, deny=404, fresh={"claim_id": "claim"},
       body=lambda c: {"note": "已完成"}),
    Op("POST", "/api/need-claims/{claim_id}/confirm", MANAGER, fresh={"claim_id": "claim"},
       body=lambda c: {"minutes": 30, "points": 5, "record": "议事会纪要"}),
    # above the threshold: the second person on what the community holds
    Op("POST", "/api/need-claims/{claim_id}/approve", CHECKER, fresh={"claim_id": "awaiting_claim"}),
    Op("POST", "/api/need-claims/{claim_id}/decline", MANAGER, fresh={"claim_id": "claim"},
       body=lambda c: {"reason": "未到场", "unserved": True}),
    Op("GET", "/api/grids/{grid_id}/micro-grids", lambda r, s: MEMBER_OR_MANAGER(r, s) or r in LEVEL_MANAGERS),
    Op("POST", "/api/grids/{grid_id}/micro-grids", MANAGER, body=lambda c: {"name": f"微网格{new_phone()[-6:]}"}),
    Op("GET", "/api/micro-grids/{micro_grid_id}", lambda r, s: MEMBER_OR_MANAGER(r, s) or r in LEVEL_MANAGERS),
    Op("POST", "/api/micro-grids/{micro_grid_id}/residents", MANAGER, body=lambda c: {"user_id": c.ids["target"]}),
    # the volunteer is A's 邻里长 (accepted); the elder of A's 微网格 has no phone
    Op("POST", "/api/micro-grids/{micro_grid_id}/attendance-marks", VOLUNTEER,
       body=lambda c: {"activity_id": c.ids["activity"], "user_ids": [c.ids["phoneless"]], "reason": "老人无手机",
                       "minutes": 10}),
    Op("GET", "/api/me/micro-grids", ANYONE),
    Op("PUT", "/api/me/party-identity", lambda role, side: role == "volunteer",  # a confirmed party member
       body=lambda c: {"shown": True}),
    # joining (issue 18): SMS codes, join requests, import, residents without phones, cards
    Op("POST", "/api/auth/phone-codes", PUBLIC, body=lambda c: {"phone": new_phone(), "purpose": "register"}),
    Op("POST", "/api/auth/password-reset", PUBLIC, fresh={"sms_phone": "sms_reset"},
       body=lambda c: {"phone": c.ids["sms_phone"], "code": _sent_code(c.ids["sms_phone"]),
                       "new_password": "matrix-pass-9"}),
    Op("GET", "/api/join/{join_code}", PUBLIC),
    # anyone logged in may ask to join a community they are not in (members get 409: tests/people/test_joining.py)
    Op("POST", "/api/join-requests", ANYONE, body=lambda c: {"join_code": c.ids["open_join_code"]}),
    Op("GET", "/api/join-requests/{join_request_id}", MANAGER, deny=404, fresh={"join_request_id": "join_request"}),
    Op("POST", "/api/join-requests/{join_request_id}/approve", MANAGER, fresh={"join_request_id": "join_request"}),
    Op("POST", "/api/join-requests/{join_request_id}/reject", MANAGER, fresh={"join_request_id": "join_request"},
       body=lambda c: {"reason": "不是本社区居民"}),
    Op("GET", "/api/communities/{community_id}/join-requests", MANAGER),
    Op("GET", "/api/communities/{community_id}/join-policy", MANAGER),
    Op("PUT", "/api/communities/{community_id}/join-policy", MANAGER, body=lambda c: {"auto_approve": False}),
    Op("GET", "/api/communities/{community_id}/join-code", MANAGER),
    Op("GET", "/api/communities/{community_id}/join-poster.svg", MANAGER),
    Op("GET", "/api/communities/{community_id}/join-poster.png", MANAGER),
    Op("GET", "/api/communities/{community_id}/imports/template.csv", MANAGER),
    Op("GET", "/api/communities/{community_id}/imports/template.xlsx", MANAGER),
    Op("POST", "/api/communities/{community_id}/imports/dry-run", MANAGER,
       files=lambda c: {"file": ("r.csv", _residents_csv())}),
    Op("POST", "/api/communities/{community_id}/imports", MANAGER, files=lambda c: _residents_form()),
    Op("POST", "/api/communities/{community_id}/residents", MANAGER, body=lambda c: {"name": "孙奶奶"}),
    Op("GET", "/api/communities/{community_id}/residents", MANAGER),
    Op("GET", "/api/communities/{community_id}/member-cards.pdf", MANAGER,
       query=lambda c: {"user_ids": str(c.ids["target"])}),
    Op("POST", "/api/communities/{community_id}/members/{user_id}/card", MANAGER, fresh={"user_id": "member"}),
    # the grid loop (issue 32): cases, a street's categories, partner organisations
    Op("GET", "/api/cases", ANYONE),  # my own cases
    Op("GET", "/api/cases/figures", READER, query=lambda c: {"org_id": str(C(c))}),
    Op("GET", "/api/cases/{case_id}", SEES_CASE, deny=404),
    Op("GET", "/api/cases/{case_id}/photos/{photo_id}", SEES_CASE, deny=404),
    Op("POST", "/api/cases", MEMBER, body=lambda c: {"kind": "problem", "title": "路灯坏了", "text": "3栋门口路灯不亮",
                                                    "community_id": C(c)}),
    Op("POST", "/api/cases/{case_id}/sort", MANAGER, deny=case_deny, body=lambda c: {"priority": "urgent"}),
    Op("POST", "/api/cases/{case_id}/merge", MANAGER, deny=case_deny, fresh={"case_id": "case"},
       body=lambda c: {"into": c.ids["case_target"]}),
    # a case sent up to the street is dispatched by the street's (or district's) managers
    Op("POST", "/api/cases/{case_id}/dispatch", LEVEL, deny=case_deny, fresh={"case_id": "street_case"},
       body=lambda c: {"handler_id": c.ids["partner"], "category_id": c.ids["category"]}),
    Op("POST", "/api/cases/{case_id}/accept", VOLUNTEER, deny=dispatched_deny, fresh={"case_id": "dispatched_case"}),
    Op("POST", "/api/cases/{case_id}/return", VOLUNTEER, deny=dispatched_deny, fresh={"case_id": "dispatched_case"},
       body=lambda c: {"reason": "不归我们管"}),
    # the handler's staff and the managers (the case's street's and district's too: they dispatched it)
    Op("POST", "/api/cases/{case_id}/notes", lambda r, s: OWNER_OR_MANAGER(r, s) or r in LEVEL_MANAGERS,
       deny=dispatched_deny,
       fresh={"case_id": "accepted_case"}, files=lambda c: {"note": (None, "已到现场")}),
    Op("POST", "/api/cases/{case_id}/done", VOLUNTEER, deny=dispatched_deny, fresh={"case_id": "accepted_case"},
       body=lambda c: {}),
    Op("POST", "/api/cases/{case_id}/rate", COURIER, deny=dispatched_deny, fresh={"case_id": "done_case"},
       body=lambda c: {"rating": "satisfied"}),
    # anyone who sees the proposal may follow it (the street's and district's managers read it too)
    Op("POST", "/api/cases/{case_id}/follow", SEES_PROPOSAL, deny=404, fresh={"case_id": "proposal"}),
    Op("POST", "/api/cases/{case_id}/comments", MEMBER_OR_MANAGER, deny=proposal_deny, fresh={"case_id": "proposal"},
       body=lambda c: {"text": "赞成"}),
    Op("POST", "/api/cases/{case_id}/meeting", MANAGER, deny=proposal_deny, fresh={"case_id": "proposal"},
       body=lambda c: {"text": "议事会同意"}),
    Op("POST", "/api/cases/{case_id}/vote-open", MANAGER, deny=proposal_deny, fresh={"case_id": "sorted_proposal"},
       body=lambda c: {"hours": 24}),
    Op("POST", "/api/cases/{case_id}/votes", MEMBER, deny=proposal_deny, fresh={"case_id": "voting_proposal"},
       body=lambda c: {"choice": "yes"}),
    Op("POST", "/api/cases/{case_id}/publish", MANAGER, deny=proposal_deny, fresh={"case_id": "closed_vote_proposal"}),
    Op("GET", "/api/streets/{street_id}/case-categories", ANY_READER),  # both sides sit under the street
    Op("PUT", "/api/streets/{street_id}/case-categories", LEVEL,  # the street's table: its (and above) managers
       body=lambda c: {"name": "占道堵塞", "deadline_hours": 48}),
    Op("POST", "/api/partners", MANAGER, body=lambda c: {"kind": "department", "name": f"部门{new_phone()}",
                                                         "parent_id": C(c)}),
    Op("GET", "/api/partners", ANYONE),  # the ones I work for
    Op("POST", "/api/partners/{partner_id}/invitations", MANAGER, body=lambda c: {"phone": new_phone(), "name": "员工"}),
    Op("GET", "/api/partner-invitations", ANYONE),
    Op("POST", "/api/partner-invitations/{invitation_id}/answer", INVITEE, deny=404,
       fresh={"invitation_id": "partner_invitation"}, body=lambda c: {"accept": True}),
    # merchants (issue 35)
    Op("POST", "/api/merchants", MANAGER, body=lambda c: {
        "parent_id": C(c), "name": f"商家{new_phone()}", "address": "幸福路1号", "contact_phone": new_phone(),
        "owner_name": "店主", "category": "理发"}),
    Op("GET", "/api/merchants", ANYONE),  # the ones I work for
    Op("GET", "/api/merchants/{merchant_id}", MERCHANT_READER),
    Op("POST", "/api/merchants/{merchant_id}/suspension", MANAGER,
       body=lambda c: {"suspended": False, "reason": "核查无误"}),
    Op("POST", "/api/merchants/{merchant_id}/offers", MERCHANT_STAFF, body=lambda c: {
        "name": "理发一次", "price_points": 1, "monthly_limit": 100, "stock": 100}),
    Op("GET", "/api/merchants/{merchant_id}/offers", MERCHANT_READER),
    Op("GET", "/api/merchants/{merchant_id}/vouchers/{code}", MERCHANT_STAFF, fresh={"code": "merchant_voucher"}),
    Op("POST", "/api/merchants/{merchant_id}/redemptions", MERCHANT_STAFF,
       fresh={"merchant_voucher": "merchant_voucher"}, body=lambda c: {"code": c.ids["merchant_voucher"]}),
    Op("GET", "/api/merchants/{merchant_id}/redemptions", MERCHANT_READER),
    Op("GET", "/api/merchants/{merchant_id}/statement", MERCHANT_READER),
    Op("GET", "/api/offers", ANYONE),
    Op("POST", "/api/offers/{offer_id}/decision", MANAGER, fresh={"offer_id": "merchant_offer"},
       body=lambda c: {"approve": True}),
    Op("POST", "/api/offers/{offer_id}/vouchers", COURIER),
    Op("POST", "/api/merchant-redemptions/{redemption_id}/refund", MERCHANT_STAFF,
       fresh={"redemption_id": "merchant_redemption"}, body=lambda c: {"reason": "顾客退回"}),
    Op("GET", "/api/orgs/{org_id}/merchant-rate", READER),
    Op("PUT", "/api/orgs/{org_id}/merchant-rate", MANAGER, body=lambda c: {"fen_per_point": 5}),
    # reach (issue 36): WeChat sign-in (not configured in the matrix: 404 for all), notices and consent,
    # the person's real name, minors registered by a guardian
    Op("GET", "/api/auth/wechat", PUBLIC),
    Op("POST", "/api/auth/wechat/bind", PUBLIC, body=lambda c: {"phone": new_phone(), "code": "123456"},
       expect={r: 404 for r in ROLES}),
    Op("GET", "/api/privacy/notices/{notice_kind}", PUBLIC),
    Op("POST", "/api/me/consents", ANYONE, fresh={"id_version": "id_number_version"},
       body=lambda c: {"kind": "id_number", "version": c.ids["id_version"]}),
    Op("GET", "/api/me/identity", ANYONE),
    Op("PUT", "/api/me/identity", ANYONE, body=lambda c: {"volunteer_number": f"MX{uuid.uuid4().hex[:12]}"}),
    Op("POST", "/api/me/minors", ANYONE, fresh={"guardian_version": "guardian_version",
                                                "privacy_version": "privacy_version"},
       body=lambda c: {"name": "小华", "birth_date": "2016-05-01", "guardian_consent": c.ids["guardian_version"],
                       "consent": c.ids["privacy_version"]}),
    Op("GET", "/api/me/minors", ANYONE),
    Op("GET", "/api/me/minors/{minor_id}/export", VOLUNTEER, deny=404),  # A's volunteer's own minor
    Op("POST", "/api/privacy/notices", ADMIN,
       body=lambda c: {"kind": "guardian", "body": "监护人同意（矩阵测试版）：未满 18 周岁的志愿者须由监护人代为注册。"}),
    # records (issue 36)
    Op("POST", "/api/trainings", MANAGER, body=lambda c: {"community_id": C(c), "title": "急救培训",
                                                          "held_on": "2024-05-01", "minutes": 60}),
    Op("POST", "/api/trainings/{training_id}/attendance", MANAGER, body=lambda c: {"user_ids": [c.ids["target"]]}),
    Op("POST", "/api/commendations", MANAGER, body=lambda c: {"community_id": C(c), "user_id": c.ids["target"],
                                                              "title": "优秀志愿者", "awarded_on": "2024-05-01"}),
    Op("POST", "/api/evaluations", MANAGER, body=lambda c: {"community_id": C(c), "user_id": c.ids["target"],
                                                            "rating": 5}),
    Op("POST", "/api/insurance", MANAGER, body=lambda c: {"community_id": C(c), "user_id": c.ids["target"],
                                                          "policy_number": "P-1", "starts_on": "2024-01-01",
                                                          "ends_on": "2030-12-31"}),
    Op("PUT", "/api/activities/{activity_id}/requirements", MANAGER, body=lambda c: {"requires_insurance": False}),
    Op("GET", "/api/me/records", ANYONE),
    Op("GET", "/api/orgs/{org_id}/records-export", READER, query=lambda c: {"format": "csv"}),
    Op("POST", "/api/records/restores", ADMIN, files=lambda c: {"file": ("r.xlsx", RECORDS_XLSX)}),
    # on an instance holding communities a pending restore only answers the differences (and closes)
    Op("POST", "/api/records/restores/{restore_id}/approve", ADMIN, fresh={"restore_id": "restore"}),
    # issue 34: the rulebook (积分细则) anyone signed in reads, a community's manager proposes (a second
    # person approves it in the held queue); deductions, proposed by a manager of the person's
    # community, read by the person and who may decide it, appealed by the person only
    Op("GET", "/api/orgs/{org_id}/rulebook", ANYONE),
    Op("POST", "/api/rulebooks", MANAGER, body=lambda c: {"org_id": C(c), "title": "社区积分细则", "items": [
        {"code": "M1", "kind": "deduct", "title": "占用消防通道", "points": 3, "clause": "小区公约第五条"}]}),
    Op("POST", "/api/deductions", MANAGER, files=lambda c: {
        "community_id": (None, str(C(c))), "user_id": (None, str(c.ids["target"])),
        "rule_item_id": (None, str(c.ids["rule_item"])), "evidence": (None, "楼道堆放杂物")}),
    Op("GET", "/api/me/deductions", ANYONE),
    Op("GET", "/api/deductions/{deduction_id}", DEDUCTED_OR_CHECKER, deny=404),
    Op("GET", "/api/deductions/{deduction_id}/photo", DEDUCTED_OR_CHECKER, deny=404),
    Op("POST", "/api/deductions/{deduction_id}/appeal", VOLUNTEER, deny=404, fresh={"deduction_id": "deduction"},
       body=lambda c: {"reason": "当天不在家"}),
    # medals: anyone reads their own and the rules; a community's manager defines, sweeps, revokes
    Op("GET", "/api/me/medals", ANYONE),
    Op("GET", "/api/orgs/{org_id}/medal-rules", ANYONE),
    Op("POST", "/api/medal-rules", MANAGER, body=lambda c: {"org_id": C(c), "kind": "hours",
                                                            "threshold": next(_COUNTER), "name": "服务之星"}),
    Op("POST", "/api/communities/{community_id}/medals/sweep", MANAGER),
    Op("GET", "/api/communities/{community_id}/medals", READER),
    Op("POST", "/api/medals/{medal_id}/revoke", MANAGER, fresh={"medal_id": "medal"}, body=lambda c: {"reason": "录入有误"}),
    # quarterly selections: a manager opens and decides (a second confirms in the held queue), residents
    # of a household nominate and vote, residents and managers read, the managers above export
    Op("POST", "/api/selections", MANAGER, body=lambda c: {"community_id": C(c), "kind": "person",
                                                           "quarter": _past_quarter()}),
    Op("GET", "/api/communities/{community_id}/selections", POSTING_READER),
    Op("GET", "/api/selections/{selection_id}", POSTING_READER),
    Op("POST", "/api/selections/{selection_id}/nominations", MEMBER, fresh={"selection_id": "selection"},
       body=lambda c: {"user_id": c.ids["target"], "reason": "热心邻里"}),
    Op("POST", "/api/selections/{selection_id}/votes", MEMBER, fresh={"selection_id": "selection"},
       body=lambda c: {"candidate_ids": [SELECTION_CANDIDATE.get(c.ids["selection"], 1)]}),
    Op("POST", "/api/selections/{selection_id}/decision", MANAGER, fresh={"selection_id": "closed_selection"},
       body=lambda c: {"choices": [{"candidate_id": SELECTION_CANDIDATE.get(c.ids["selection"], 1), "reason": "事迹突出"}]}),
    Op("POST", "/api/selections/{selection_id}/final", MANAGER, fresh={"selection_id": "posted_selection"}),
    Op("GET", "/api/selections/{selection_id}/export.csv", READER),
]

# Path parameters and the resource of the side they name when no fresh one is asked for.
PARAM = {"activity_id": "activity", "reward_id": "reward", "redemption_id": "redemption", "report_id": "report",
         "request_id": "request", "community_id": "community", "org_id": "community", "team_id": "team",
         "attendance_id": "attendance", "transfer_id": "transfer", "link_id": "link", "user_id": "target",
         "household_id": "household", "posting_id": "posting", "appeal_id": "appeal", "code": "poster_code",
         "kiosk_id": "kiosk", "flag_id": "flag",
         "message_id": "message", "kind": "message_kind",
         "unit_id": "unit", "unit_report_id": "unit_report", "need_id": "need", "level_id": "street",
         "join_request_id": "join_request", "join_code": "join_code",
         "invitation_id": "invitation",
         "certificate_id": "certificate", "correction_id": "correction",
         "invite_id": "role_invite", "claim_id": "claim", "grid_id": "grid", "micro_grid_id": "micro_grid",
         "case_id": "case", "photo_id": "case_photo", "street_id": "street", "partner_id": "community_partner",
         "notice_kind": "notice_kind", "minor_id": "minor", "training_id": "training", "restore_id": "restore",
         "held_kind": "held_kind", "item_id": "held_item", "manager_flag_id": "manager_flag",
         "deduction_id": "deduction", "medal_id": "medal", "selection_id": "selection",
         "merchant_id": "merchant", "offer_id": "offer"}


# ---- the world of the matrix --------------------------------------------------------------------

class Matrix:
    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client, self.world = client, world
        self.build = Builder(client, world)

    async def setup(self) -> None:
        self.a = await self.build.side("A")
        self.b = await self.build.side("B", street_id=self.a.community.street_id)
        self.admin = await self.world.admin()
        for side in (self.a, self.b):
            await self.extras(side)
        self.people = {"volunteer": self.a.volunteer, "courier": self.a.courier, "manager_a": self.a.manager,
                       "manager_b": self.b.manager, "admin": self.admin}
        for role in ("street_manager", "district_manager", "unit_admin"):
            self.people[role] = await self.twin(role)

    async def extras(self, side: Side) -> None:
        """What the matrix needs beyond Builder.side: codes, a household, a posting and its appeal,
        the courier funded, a family link approved for gifts, a password login."""
        ids = side.ids
        async with self.world.pool.acquire() as conn:
            ids["poster_code"] = await conn.fetchval(
                "select code from codes where kind = 'poster' and target_id = $1", ids["activity"])
            ids["card_code"] = (await codes.member_card(conn, side.target.id)).code
        ids["target"] = side.target.id
        for person in (side.courier, side.manager):
            await self.world.fund(person, side.community, "points", 1000)
        for person in (side.courier, side.manager):  # a request one posts is paid from one's minutes (issue 33)
            await self.world.fund(person, side.community, "minutes", 1000)
        async with self.world.pool.acquire() as conn:  # with a password: not an elder a manager acts for
            await conn.execute("update users set password_hash = $2 where id = $1", side.volunteer.id,
                               auth.hash_password("matrix-pass-1"))
        ids["household"] = await self.fresh("household", side)
        ids["posting"] = await self.fresh("posting", side)
        ids["appeal"] = await self.fresh("appeal", side)
        # The target linked the volunteer in Builder.side; approved, the volunteer may give the target minutes.
        await _ok(self.client, side.volunteer, "POST", f"/api/family-links/{ids['link']}/approve")
        login = await self.world.person("登录者", password="matrix-pass-1")
        ids["login_phone"] = login.phone
        async with self.world.pool.acquire() as conn:  # a message in the volunteer's inbox, nobody else's
            ids["message"] = await conn.fetchval(
                "insert into notifications (user_id, kind, params, created_at) values ($1, 'report_verified', '{}', now()) "
                "returning id", side.volunteer.id)
        ids["message_kind"] = "report_verified"
        # 双报到: a unit under the street; the volunteer reported to their community and was confirmed.
        ids["unit"] = (await _ok(self.client, self.admin, "POST", "/api/units", json={
            "name": f"单位{side.name}", "kind": "government", "parent_id": ids["street"]}))["id"]
        report = await _ok(self.client, side.volunteer, "POST", "/api/unit-reports",
                           json={"unit_id": ids["unit"], "community_id": side.community.id})
        await _ok(self.client, side.manager, "POST", f"/api/unit-reports/{report['id']}/approve")
        ids["reported"] = side.volunteer.id
        ids["need"] = await self.fresh("need", side)
        # the volunteer is a confirmed party member of the unit, and the 邻里长 of the side's 微网格
        await self.world.pool.execute("update unit_members set confirmed = true where user_id = $1", side.volunteer.id)
        micro = await _ok(self.client, side.manager, "POST", f"/api/grids/{ids['grid']}/micro-grids",
                          json={"name": "矩阵微网格"})
        ids["micro_grid"] = micro["id"]
        elder = await _ok(self.client, side.manager, "POST", f"/api/communities/{side.community.id}/residents",
                          json={"name": "无手机老人"})
        ids["phoneless"] = elder["id"]
        await _ok(self.client, side.manager, "POST", f"/api/micro-grids/{micro['id']}/residents",
                  json={"user_id": elder["id"]})
        invite = await _ok(self.client, side.manager, "POST", "/api/role-invites", json={
            "kind": "micro_leader", "phone": side.volunteer.phone, "name": "邻里长", "micro_grid_id": micro["id"]})
        await _ok(self.client, side.volunteer, "POST", f"/api/me/role-invites/{invite['id']}/accept")
        ids["join_code"] = (await _ok(self.client, side.manager, "GET",
                                      f"/api/communities/{side.community.id}/join-code"))["code"]
        if not hasattr(self, "open_join_code"):  # a third community nobody of the matrix belongs to
            third = await self.world.community("社区C", street_id=side.community.street_id)
            self.open_join_code = (await _ok(self.client, third.manager, "GET",
                                             f"/api/communities/{third.id}/join-code"))["code"]
        ids["open_join_code"] = self.open_join_code
        ids["held_kind"] = "policy"
        # issue 34: a rulebook of deductions in force in the side's community, a deduction of its volunteer
        book = await _ok(self.client, side.manager, "POST", "/api/rulebooks", json={
            "org_id": side.community.id, "title": "社区积分细则", "items": [
                {"code": "D1", "kind": "deduct", "title": "乱扔垃圾", "points": 5, "clause": "居民公约第二条"}]})
        await _ok(self.client, self.admin, "POST", f"/api/held/rulebook/{book['id']}/approve", json={})
        ids["rule_item"] = book["items"][0]["id"]
        ids["deduction"] = await self.fresh("deduction", side)
        # the volunteer and the courier live in one household (they nominate and vote for it); a selection
        ids["household_of_members"] = await self.world.pool.fetchval(
            "insert into households (community_id, name, created_at) values ($1, '矩阵家', now()) returning id",
            side.community.id)
        await self.world.pool.execute(
            "insert into household_members (user_id, household_id, added_at) select unnest($1::bigint[]), $2, now()",
            [side.volunteer.id, side.courier.id], ids["household_of_members"])
        ids["selection"] = await self.fresh("selection", side)

        # issue 36: a notice kind, the volunteer's minor, a training, a pending restore asked by someone else
        ids["notice_kind"] = "privacy"
        ids["minor"] = (await _ok(self.client, side.volunteer, "POST", "/api/me/minors", json={
            "name": "小明", "birth_date": "2015-03-01", "guardian_consent": await self.fresh("guardian_version", side),
            "consent": await self.fresh("privacy_version", side)}))["id"]
        ids["training"] = (await _ok(self.client, side.manager, "POST", "/api/trainings", json={
            "community_id": side.community.id, "title": "消防培训", "held_on": "2024-04-01", "minutes": 30}))["id"]
        ids["restore"] = await self.fresh("restore", side)
        await self.loop_extras(side)

    async def loop_extras(self, side: Side) -> None:
        """The grid loop: the street's category, the side's property company (its volunteer on the
        staff), a department of its community, its courier's hazard case and a resident's proposal."""
        ids, c = side.ids, self.client
        [category] = await _ok(c, self.admin, "PUT", f"/api/streets/{ids['street']}/case-categories",
                               json={"name": "占道堵塞", "deadline_hours": 48})
        ids["category"] = category["id"]
        ids["partner"] = (await _ok(c, self.admin, "POST", "/api/partners", json={
            "kind": "property", "name": f"物业{side.name}", "parent_id": ids["street"]}))["id"]
        invited = await _ok(c, self.admin, "POST", f"/api/partners/{ids['partner']}/invitations",
                            json={"phone": side.volunteer.phone, "name": side.volunteer.name})
        await _ok(c, side.volunteer, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer",
                  json={"accept": True})
        ids["community_partner"] = (await _ok(c, side.manager, "POST", "/api/partners", json={
            "kind": "department", "name": f"社区服务站{side.name}", "parent_id": side.community.id}))["id"]
        ids["case"] = ids["case_target"] = await self.fresh("case", side)
        ids["case_photo"] = await self.world.pool.fetchval("select min(id) from case_photos where case_id = $1",
                                                           ids["case"])
        await self.merchant_extras(side)

    async def merchant_extras(self, side: Side) -> None:
        """爱心商家 (issue 35): the side's community's merchant, owned by A's volunteer, with an approved offer."""
        ids, c = side.ids, self.client
        merchant = await _ok(c, side.manager, "POST", "/api/merchants", json={
            "parent_id": side.community.id, "name": f"理发店{side.name}", "address": "幸福路1号",
            "contact_phone": self.a.volunteer.phone, "owner_name": self.a.volunteer.name, "category": "理发"})
        ids["merchant"] = merchant["id"]
        [invitation] = [i for i in (await _ok(c, self.a.volunteer, "GET", "/api/partner-invitations"))["items"]
                        if i["partner_id"] == merchant["id"]]
        await _ok(c, self.a.volunteer, "POST", f"/api/partner-invitations/{invitation['id']}/answer",
                  json={"accept": True})
        ids["offer"] = await self.fresh("merchant_offer", side)
        await _ok(c, side.manager, "POST", f"/api/offers/{ids['offer']}/decision", json={"approve": True})

    async def fresh(self, kind: str, side: Side) -> int:
        b, c = self.build, self.client
        if kind == "held_policy":  # the side's deputy raises the daily limit a little: held for a second person
            # (a higher limit each time, above any an earlier cell's approval set; nothing else relies on it)
            self.raises = getattr(self, "raises", 0) + 1
            r = await _ok(c, await self.deputy(side), "PUT", f"/api/communities/{side.community.id}/adjustment-policy",
                          json={"daily_points": 500 + self.raises}, status=(202,))
            return r["pending_id"]
        if kind == "manager_flag":  # a flag about the side's deputy (one per reason and day: a new day each)
            self.flag_days = getattr(self, "flag_days", 0) + 1
            return await self.world.pool.fetchval(
                """insert into manager_flags (community_id, manager_id, reason, day, created_at)
                   values ($1, $2, 'velocity', current_date - $3::int, now()) returning id""",
                side.community.id, (await self.deputy(side)).id, self.flag_days)
        if kind == "medal":  # a medal of the side's target, to revoke
            return await self.world.pool.fetchval(
                "insert into medals (user_id, community_id, code, name, awarded_at) values ($1, $2, $3, '矩阵勋章', now()) "
                "returning id", side.target.id, side.community.id, f"matrix:{next(_COUNTER)}")
        if kind in ("selection", "closed_selection", "posted_selection"):
            # open (votes until T0 + 3 days), closed (the vote ended), or posted (its 公示 ended): the
            # side's target its one candidate, chosen once posted
            pool, mid = self.world.pool, {"selection": 3, "closed_selection": -1, "posted_selection": -10}[kind]
            selection_id = await pool.fetchval(
                """insert into selections (community_id, quarter, kind, title, top_n, max_votes, votes_until, state,
                                           opened_by, opened_at, proposed_by, proposed_at)
                   values ($1, $2, 'person', '道德模范', 10, 3, $3, $4, $5, $3, $6, $7) returning id""",
                side.community.id, f"{2100 + next(_COUNTER)}Q2", T0 + timedelta(days=mid),
                "posted" if kind == "posted_selection" else "open", side.manager.id,
                (await self.deputy(side)).id if kind == "posted_selection" else None,
                T0 - timedelta(days=10) if kind == "posted_selection" else None)
            SELECTION_CANDIDATE[selection_id] = await pool.fetchval(
                """insert into selection_candidates (selection_id, user_id, from_ranking, rank, score, chosen, choice_reason)
                   values ($1, $2, true, 1, 10, $3, $4) returning id""", selection_id, side.target.id,
                True if kind == "posted_selection" else None, "事迹突出" if kind == "posted_selection" else None)
            if kind == "posted_selection":
                posting = await pool.fetchval(
                    """insert into postings (community_id, scope, unit, quarter, top_n, starts_at, ends_at, created_by,
                                             created_at, selection_id)
                       values ($1, 'selection', 'points', '2026Q1', 1, $2, $3, $4, $2, $5) returning id""",
                    side.community.id, T0 - timedelta(days=9), T0 - timedelta(days=2), side.manager.id, selection_id)
                await pool.execute("update selections set posting_id = $2, confirmed_by = $3 where id = $1",
                                   selection_id, posting, side.manager.id)
            return selection_id
        if kind == "deduction":  # proposed of the side's volunteer, with a photo
            r = await c.post("/api/deductions", headers=side.manager.headers, files={
                "community_id": (None, str(side.community.id)), "user_id": (None, str(side.volunteer.id)),
                "rule_item_id": (None, str(side.ids["rule_item"])), "evidence": (None, "乱扔垃圾"),
                "photo": ("p.jpg", jpeg(), "image/jpeg")})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if kind == "street":  # not new: the street both sides share (its spending area, settlement)
            return side.ids["street"]
        if kind in ("case", "street_case", "dispatched_case", "accepted_case", "done_case"):
            report = await b.report(side)
            await _ok(c, side.manager, "POST", f"/api/reports/{report['id']}/verify")
            case_id = await self.world.pool.fetchval("select id from cases where report_id = $1", report["id"])
            steps = ("case", "street_case", "dispatched_case", "accepted_case", "done_case").index(kind)
            if steps >= 1:
                await _ok(c, side.manager, "POST", f"/api/cases/{case_id}/sort",
                          json={"category_id": side.ids["category"], "send_up": True})
            if steps >= 2:
                await _ok(c, self.admin, "POST", f"/api/cases/{case_id}/dispatch", json={"handler_id": side.ids["partner"]})
            if steps >= 3:
                await _ok(c, side.volunteer, "POST", f"/api/cases/{case_id}/accept")
            if steps >= 4:
                await _ok(c, side.volunteer, "POST", f"/api/cases/{case_id}/done", json={})
            return case_id
        if kind in ("proposal", "sorted_proposal", "voting_proposal", "closed_vote_proposal"):
            resident = await b.member(side)
            case_id = (await _ok(c, resident, "POST", "/api/cases", json={
                "kind": "proposal", "title": "加装充电桩", "text": "建议加装充电桩"}))["id"]
            steps = ("proposal", "sorted_proposal", "voting_proposal", "closed_vote_proposal").index(kind)
            if steps >= 1:
                await _ok(c, side.manager, "POST", f"/api/cases/{case_id}/meeting", json={"text": "议事会同意"})
            if steps >= 2:
                await _ok(c, side.manager, "POST", f"/api/cases/{case_id}/vote-open", json={"hours": 1})
            if steps >= 3:  # the vote's hour is over (on the matrix's frozen clock, not the database's)
                await self.world.pool.execute("update cases set vote_closes_at = $2 where id = $1",
                                              case_id, clock.now() - timedelta(minutes=1))
            return case_id
        if kind == "merchant_offer":  # a pending offer of the side's merchant (price 1, a high limit)
            return (await _ok(c, self.a.volunteer, "POST", f"/api/merchants/{side.ids['merchant']}/offers", json={
                "name": "理发一次", "price_points": 1, "monthly_limit": 100, "stock": 1000}))["id"]
        if kind == "merchant_voucher":  # the side's courier (a resident there) takes the approved offer
            return (await _ok(c, side.courier, "POST", f"/api/offers/{side.ids['offer']}/vouchers"))["code"]
        if kind == "merchant_redemption":  # redeemed at the side's merchant by its owner
            code = await self.fresh("merchant_voucher", side)
            return (await _ok(c, self.a.volunteer, "POST", f"/api/merchants/{side.ids['merchant']}/redemptions",
                              json={"code": code}))["id"]
        if kind == "partner_invitation":  # a new department of the side invites A's courier
            partner = await _ok(c, side.manager, "POST", "/api/partners", json={
                "kind": "department", "name": f"服务队{new_phone()}", "parent_id": side.community.id})
            invited = await _ok(c, side.manager, "POST", f"/api/partners/{partner['id']}/invitations",
                                json={"phone": self.a.courier.phone, "name": "骑手"})
            return invited["invitation"]["id"]
        if kind == "correction":
            return (await _ok(c, side.volunteer, "POST", "/api/corrections",
                              json={"community_id": side.community.id, "request": "少记了一次服务"}))["id"]
        if kind in ("certificate", "issued_certificate", "certificate_code"):
            asked = await _ok(c, side.volunteer, "POST", "/api/certificates", json={"community_id": side.community.id})
            if kind == "certificate":
                return asked["id"]
            issued = await _ok(c, side.manager, "POST", f"/api/certificates/{asked['id']}/issue", json={})
            return issued["id"] if kind == "issued_certificate" else issued["code"]
        if kind == "draft":
            return (await b.activity(side, publish=False))["id"]
        if kind == "activity":
            return (await b.activity(side))["id"]
        if kind == "redemption":
            return (await b.redemption(side))["id"]
        if kind == "approved_redemption":
            return (await b.redemption(side, approve=True))["id"]
        if kind == "report":
            return (await b.report(side))["id"]
        if kind == "open_request":
            return (await b.service_request(side, side.target))["id"]
        if kind == "accepted_request":
            return (await b.accepted_request(side))["id"]
        if kind == "completed_request":  # asked by the volunteer, served by the target
            req = await b.service_request(side, side.volunteer)
            for step in ("accept", "complete"):
                await _ok(c, side.target, "POST", f"/api/timebank/requests/{req['id']}/{step}")
            return req["id"]
        if kind == "transfer":
            return (await b.transfer(side))["id"]
        if kind == "attendance":
            person = await b.member(side)
            result = await _ok(c, side.manager, "POST", f"/api/activities/{side.ids['activity']}/attendance/mark",
                               json={"user_ids": [person.id], "reason": "补签", "minutes": 10})
            return result["marked"][0]
        if kind == "volunteer_attendance":
            # The side's volunteer's own finished attendance, in an activity of its own: in the shared
            # one, the row that scans the poster may have left the volunteer inside (not yet asked about).
            activity = (await b.activity(side))["id"]
            result = await _ok(c, side.manager, "POST", f"/api/activities/{activity}/attendance/mark",
                               json={"user_ids": [side.volunteer.id], "reason": "补签", "minutes": 10})
            return result["marked"][0]
        if kind == "kiosk":
            return (await _ok(c, side.manager, "POST", f"/api/activities/{side.ids['activity']}/kiosks"))["id"]
        if kind == "flag":
            attendance = await self.fresh("attendance", side)
            return await self.world.pool.fetchval(
                """insert into scan_flags (activity_id, attendance_id, user_id, reason, created_at)
                   select activity_id, id, user_id, 'device_burst', now() from attendances where id = $1
                   returning id""", attendance)
        if kind == "link":
            person = await self.world.person("亲属")
            return (await ask_family_link(c, person, side.volunteer))["id"]
        if kind == "member":
            return (await b.member(side)).id
        if kind == "courier_member":  # its own: the target becomes a courier only if another row ran first
            return (await b.member(side, role="courier")).id
        if kind == "inactive_member":
            person = await b.member(side)
            await _ok(c, side.manager, "POST", f"/api/members/{person.id}/deactivate", json={"reason": "测试"})
            return person.id
        if kind == "deputy":
            person = await self.world.person("副主任")
            await appoint(c, self.admin, side.community.id, person)
            return person.id
        if kind == "grid":
            return (await _ok(c, self.admin, "POST", "/api/orgs", json={
                "kind": "grid", "name": "新网格", "parent_id": side.community.id}))["id"]
        if kind == "adjustment_request":  # above the threshold, asked by another manager of the side
            return (await _ok(c, await self.deputy(side), "POST", "/api/adjustments", status=(202,), json={
                "user_id": side.target.id, "unit": "points", "amount": 5000, "reason": "表彰"}))["id"]
        if kind == "invitation":  # a new community invites A's courier, who belongs to none of its manager's
            # (the courier: joining other communities changes nothing else the courier does in the table)
            inviter = await self.world.community("邀请方社区")
            await _ok(c, inviter.manager, "POST", f"/api/communities/{inviter.id}/invitations",
                      json={"phone": self.a.courier.phone, "name": "骑手", "role": "volunteer"})
            async with self.world.pool.acquire() as conn:
                return await conn.fetchval("select id from invitations where community_id = $1", inviter.id)
        if kind == "reward_with_image":
            reward = await b.reward(side, "毛巾")
            await _ok(c, side.manager, "POST", f"/api/rewards/{reward['id']}/image",
                      files={"image": ("r.jpg", jpeg(), "image/jpeg")})
            return reward["id"]
        if kind == "household":
            return (await _ok(c, side.manager, "POST", "/api/households",
                              json={"community_id": side.community.id, "name": "李家"}))["id"]
        if kind == "posting":
            return (await _ok(c, side.manager, "POST", "/api/postings",
                              json={"community_id": side.community.id, "quarter": quarter(), "top_n": 3}))["id"]
        if kind == "appeal":
            posting = await self.fresh("posting", side)
            return (await _ok(c, side.volunteer, "POST", f"/api/postings/{posting}/appeals",
                              json={"reason": "请核实"}))["id"]
        if kind in ("unit_report", "unit_claim"):  # someone who declared themself and reported to the side
            person = await self.world.person("报到党员")
            report = await _ok(c, person, "POST", "/api/unit-reports",
                               json={"unit_id": side.ids["unit"], "community_id": side.community.id})
            return report["id"] if kind == "unit_report" else person.id
        if kind == "need":
            return (await _ok(c, side.manager, "POST", f"/api/communities/{side.community.id}/needs",
                              json={"title": "周末值守", "slots": 100}))["id"]
        if kind == "import_kind":
            return "units"  # type: ignore[return-value]  (a path word, not an id)
        if kind == "role_invite":  # the courier named the administrator of a new unit of the street
            unit = await _ok(c, self.admin, "POST", "/api/units", json={
                "name": f"新单位{new_phone()[-6:]}", "kind": "other", "parent_id": side.ids["street"]})
            return (await _ok(c, self.admin, "POST", "/api/role-invites", json={
                "kind": "unit_admin", "phone": self.a.courier.phone, "name": "骑手", "unit_id": unit["id"]}))["id"]
        if kind in ("claim", "awaiting_claim"):  # the side's reported volunteer claims a new need
            need = await self.fresh("need", side)
            claimed = await _ok(c, side.volunteer, "POST", f"/api/needs/{need}/claim")
            if kind == "awaiting_claim":  # confirmed above the threshold by the deputy: a second person approves
                await _ok(c, await self.deputy(side), "POST", f"/api/need-claims/{claimed['my_claim_id']}/confirm",
                          json={"minutes": 30, "points": 500, "record": "议事会纪要"})
            return claimed["my_claim_id"]
        if kind == "join_request":  # a stranger asks to join the side's community
            stranger = await self.world.person("申请人")
            return (await _ok(c, stranger, "POST", "/api/join-requests", json={"join_code": side.ids["join_code"]}))["id"]
        if kind == "restore":  # a pending restore asked by someone else than any role of the matrix
            async with self.world.pool.acquire() as conn:
                return await conn.fetchval(
                    """insert into record_restores (state, file_sha256, payload, summary, requested_by, created_at)
                       values ('pending', repeat('0', 64), $2::text::jsonb, '{}', $1, now()) returning id""",
                    side.manager.id,
                    '{"people": [], "service": [], "training": [], "commendations": [], "evaluations": []}')
        if kind in ("guardian_version", "privacy_version", "id_number_version"):  # the notice's current version
            return (await _ok(c, side.volunteer, "GET", f"/api/privacy/notices/{kind.removesuffix('_version')}"))["version"]
        if kind in ("sms_register", "sms_reset"):  # a phone with a live SMS code (sent without the matrix's address)
            from domain.people import phones
            phone = (await self.world.person("找回者", password="matrix-pass-1")).phone if kind == "sms_reset" \
                else new_phone()
            async with self.world.pool.acquire() as conn:
                await phones.send_code(conn, phone=phone, purpose=kind[4:], ip=f"matrix-{phone}")
                # a code works from the address that asked for it (issue 30): hand it to the matrix's
                await conn.execute("update phone_codes set ip = $2 where phone = $1", phone, MATRIX_ADDRESS)
            return phone
        raise AssertionError(f"no fresh {kind}")

    async def deputy(self, side: Side) -> Person:
        """A second manager of the side, made once: the maker of adjustments its managers check."""
        if "deputy" not in side.ids:
            person = await self.world.person("副主任")
            await appoint(self.client, self.admin, side.community.id, person)
            side.ids["deputy"] = person
        return side.ids["deputy"]

    async def person_for(self, op: Op, role: str) -> Person | None:
        if role == "anonymous":
            return None
        person = self.people[role]
        if op.session == "role":
            return person
        if op.session == "fresh_session":
            async with self.world.pool.acquire() as conn:
                login = await auth._new_session(conn, person.id)
            return Person(person.id, person.phone, person.name, login.token, login.csrf)
        return await self.twin(role)

    async def twin(self, role: str) -> Person:
        """A new person (password matrix-pass-1) holding the same roles as the role's person."""
        person = await self.world.person("替身", admin=role == "admin", password="matrix-pass-1")
        if role in ("volunteer", "courier"):
            org = self.a.community.grid_id if role == "courier" else self.a.community.id
            await _ok(self.client, self.admin, "POST", f"/api/orgs/{org}/members",
                      json={"user_id": person.id, "role": role})
        elif role.startswith("manager"):
            community = (self.a if role == "manager_a" else self.b).community.id
            await appoint(self.client, self.admin, community, person)
        elif role in LEVEL_MANAGERS:
            level = self.a.ids["street" if role == "street_manager" else "district"]
            await appoint(self.client, self.admin, level, person)
        elif role == "unit_admin":
            invite = await _ok(self.client, self.admin, "POST", f"/api/units/{self.a.ids['unit']}/admins",
                               json={"phone": person.phone}, status=(201,))
            await _ok(self.client, person, "POST", f"/api/me/role-invites/{invite['id']}/accept")
        return person

    async def cell(self, op: Op, role: str, side_name: str) -> httpx.Response:
        person = await self.person_for(op, role)
        request = await self.request(op, role, side_name, person)
        try:
            return await self.client.send(request)
        finally:
            self.client.cookies.clear()  # a login or register answer sets cookies: the next cell starts clean

    async def request(self, op: Op, role: str, side_name: str, person: Person | None) -> httpx.Request:
        """The cell's request, built but not sent (fresh resources are made now)."""
        side = self.a if side_name == "A" else self.b
        ids = dict(side.ids)
        ids["link_phone"] = (await self.world.person("家人")).phone if "family-links" in op.path else None
        for name, kind in op.fresh.items():
            ids[PARAM.get(name, name)] = await self.fresh(kind, side)
        path = op.path
        for name, kind in PARAM.items():
            path = path.replace("{" + name + "}", str(ids[kind])) if "{" + name + "}" in path else path
        cell = Cell(role, side, ids, person)
        kwargs = {}
        if op.body:
            kwargs["json"] = op.body(cell)
        if op.files:
            kwargs["files"] = op.files(cell)
        if op.query:
            kwargs["params"] = op.query(cell)
        return self.client.build_request(op.method, path, headers=person.headers if person else {}, **kwargs)


def expected(op: Op, role: str, side: str) -> int | str:
    if role in op.expect:
        return op.expect[role]
    if op.allow is PUBLIC:
        return "2xx"
    if role == "anonymous":
        return 401
    if op.allow(role, side):
        return "2xx"
    return op.deny(role, side) if callable(op.deny) else op.deny


@pytest.fixture(scope="module")
async def matrix(app):
    clock.freeze(T0)  # the world is seeded at T0, and every test of the matrix runs there (at_t0)
    # Its own client address: the matrix registers and logs in, and must not spend other tests' quota.
    transport = httpx.ASGITransport(app=app, client=(MATRIX_ADDRESS, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://linli.test") as client:
        m = Matrix(client, World(app.state.pool))
        await m.setup()
        yield m


def _spec_operations(app) -> set[tuple[str, str]]:
    spec = app.openapi_schema.to_schema()
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")}


def test_the_table_has_each_operation_once():
    keys = [op.key for op in TABLE]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]


async def test_every_operation_is_in_the_table(app):
    missing = _spec_operations(app) - {op.key for op in TABLE}
    stale = {op.key for op in TABLE} - _spec_operations(app)
    assert not missing, f"add these operations to tests/app/test_authz_matrix.py TABLE: {sorted(missing)}"
    assert not stale, f"these TABLE rows name no operation any more: {sorted(stale)}"


@pytest.mark.parametrize("op", TABLE, ids=lambda op: f"{op.method} {op.path}")
async def test_authorisation(matrix, op):
    wrong = []
    for side in SIDES:
        for role in ROLES:
            r = await matrix.cell(op, role, side)
            want = expected(op, role, side)
            ok = 200 <= r.status_code < 300 if want == "2xx" else r.status_code == want
            if not ok:
                wrong.append(f"{role:9} on {side}: want {want}, got {r.status_code} {r.text[:160]}")
            elif isinstance(want, int) and want in (401, 403, 404):
                body = r.json()
                assert body["error"] in ("unauthenticated", "forbidden", "not_found", "not_member",
                                         "outside_area"), body
    assert not wrong, "\n".join([f"{op.method} {op.path}"] + wrong)


UNSAFE = [op for op in TABLE if op.method in ("POST", "PUT", "PATCH", "DELETE") and op.allow is not PUBLIC]


@pytest.mark.parametrize("op", UNSAFE, ids=lambda op: f"{op.method} {op.path}")
async def test_cookie_sessions_need_the_csrf_header(matrix, op):
    """Every unsafe operation, sent with the session cookie of someone allowed but without the
    X-CSRF-Token header (what a forged cross-site form would send), is refused before it acts."""
    role = next(r for r in ROLES[1:] for side in SIDES if op.allow(r, side) and r not in op.expect)
    person = await matrix.person_for(op, role)

    async def send(extra: dict) -> httpx.Response:
        request = await matrix.request(op, role, "A", person)
        del request.headers["authorization"]
        request.headers["cookie"] = f"linli_session={person.token}; linli_csrf={person.csrf}"
        request.headers.update(extra)
        try:
            return await matrix.client.send(request)
        finally:
            matrix.client.cookies.clear()

    for header in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        r = await send(header)
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed", (header, r.status_code, r.text[:200])
    # The same cookie with the right header is let through: the refusal was the missing header.
    r = await send({"X-CSRF-Token": person.csrf})
    assert r.status_code < 400, r.text[:200]

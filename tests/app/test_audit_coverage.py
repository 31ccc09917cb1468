"""Every manager act writes exactly one audit row (issue 16, finding 12 and its acceptance).

The operations come from the app's own OpenAPI document: every POST, PUT, PATCH and DELETE is
either performed here by a manager (or an admin, for the org structure only admins change), with
a minimal valid request, and must leave exactly one new audit row naming the actor, the act, a
target and the community; or it is listed in PERSONAL with why it is no manager act. A new
operation in neither table fails `test_every_mutating_operation_is_covered`, so it gets covered.
"""

import hashlib
import io
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from PIL import Image

from domain.core import clock
from domain.rankings import rules as ranking_rules
from tests.conftest import T0, Community, Person, World, appoint, new_phone

MUTATING = ("post", "put", "patch", "delete")

# Operations that are not acts of a manager on others: what a person does for themself (also when
# that person is a manager), or requests that change nothing. Each says why.
PERSONAL: dict[tuple[str, str], str] = {
    ("POST", "/api/certificates"): "a person asks for a certificate of their own hours",
    ("POST", "/api/corrections"): "a person asks for a correction of their own record",
    ("POST", "/api/checkins/{attendance_id}/correction-request"): "a person asks for their own check-out to be credited",
    ("POST", "/api/kiosk/pair"): "a venue screen redeems the one-time code a manager made (audited as kiosk_pair)",
    ("POST", "/api/auth/register"): "a person opens their own account",
    ("POST", "/api/auth/login"): "a person logs in",
    ("POST", "/api/auth/logout"): "a person logs out",
    ("POST", "/api/auth/password"): "a person changes their own password",
    ("POST", "/api/me/card/reissue"): "a person renews their own member card",
    ("POST", "/api/me/close"): "a person closes their own account (audited as account_close by the person)",
    ("POST", "/api/people/search"): "a search: it changes nothing",
    ("POST", "/api/redemptions"): "a member asks for a reward for themself",
    ("POST", "/api/redemptions/{redemption_id}/cancel"): "the requester withdraws their own request",
    ("POST", "/api/reports"): "a courier files a report",
    ("POST", "/api/postings/{posting_id}/appeals"): "a resident appeals a posting",
    ("POST", "/api/timebank/requests/{request_id}/accept"): "a volunteer takes a request on",
    ("POST", "/api/timebank/requests/{request_id}/complete"): "the volunteer says they are done",
    ("POST", "/api/timebank/pool/donations"): "a person gives their own minutes to the pool",
    ("POST", "/api/gifts"): "a person gives their own minutes to family",
    ("POST", "/api/family-links"): "a person asks to link with family",
    ("POST", "/api/family-links/{link_id}/remove"): "either side of a family link ends it",
    # joining (issue 18) and membership by consent (issue 16)
    ("POST", "/api/auth/phone-codes"): "a person asks for an SMS code for their own phone",
    ("POST", "/api/auth/password-reset"): "a person resets their own password with their phone's code",
    ("POST", "/api/join-requests"): "a person asks to join a community",
    ("POST", "/api/me/invitations/{invitation_id}/accept"): "a person answers their own invitation "
                                                          "(audited as invitation_answer by the person)",
    ("POST", "/api/me/invitations/{invitation_id}/decline"): "a person answers their own invitation "
                                                           "(audited as invitation_answer by the person)",
    ("POST", "/api/communities/{community_id}/imports/dry-run"): "a dry run: it changes nothing",
    # issue 30: a unit's administration is offered (audited as unit_admin_grant) and the person answers
    # sign-ups (issue 22)
    ("POST", "/api/activities/{activity_id}/signup"): "a person signs up for an activity",
    ("POST", "/api/activities/{activity_id}/signup/cancel"): "a person cancels their own sign-up",
    # notifications (issue 23)
    ("POST", "/api/me/messages/read-all"): "a person marks their own messages read",
    ("POST", "/api/me/messages/{message_id}/read"): "a person marks their own message read",
    ("PUT", "/api/me/messages/settings/{kind}"): "a person chooses which messages they get",
    # reach and records (issue 36)
    ("POST", "/api/auth/wechat/bind"): "a person proves their phone to bind the WeChat they signed in with",
    ("POST", "/api/me/consents"): "a person agrees to a privacy notice",
    ("PUT", "/api/me/identity"): "a person adds their own ID number or volunteer number",
    ("POST", "/api/me/minors"): "a guardian registers their own minor (audited as minor_register by the guardian)",
    ("POST", "/api/records/restores"): "on an instance with data it writes nothing (only the differences); into an "
                                       "empty one it is audited as records_restore_request (tests/reach/test_records.py)",
    # 双报到 (issue 20)
    ("POST", "/api/unit-reports"): "a person reports to the community they live in",
    ("POST", "/api/unit-reports/withdraw"): "a person withdraws their own report",
    ("POST", "/api/needs/{need_id}/claim"): "a reported person takes on a need for themself",
    # a city loads itself (issue 31)
    ("POST", "/api/city-imports/{kind}/dry-run"): "a dry run: it changes nothing",
    ("POST", "/api/me/role-invites/{invite_id}/accept"): "a person answers their own invitation "
                                                        "(audited as role_invite_answer by the person)",
    ("POST", "/api/me/role-invites/{invite_id}/decline"): "a person answers their own invitation "
                                                         "(audited as role_invite_answer by the person)",
    ("POST", "/api/need-claims/{claim_id}/serve"): "the person who claimed a need says they served it",
    ("PUT", "/api/me/party-identity"): "a party member chooses whether to show it (亮身份)",
    # the grid loop (issue 32)
    ("POST", "/api/cases"): "a resident raises a matter (提事)",
    ("POST", "/api/cases/{case_id}/rate"): "the reporter rates the handling of their own case",
    ("POST", "/api/cases/{case_id}/follow"): "a resident follows a case",
    ("POST", "/api/cases/{case_id}/comments"): "a resident discusses a proposal",
    ("POST", "/api/cases/{case_id}/votes"): "a household votes",
    ("POST", "/api/partner-invitations/{invitation_id}/answer"): "a person answers their own invitation "
                                                                 "(audited as partner_invitation_answer by the person)",
    # recognition (issue 34)
    ("POST", "/api/deductions/{deduction_id}/appeal"): "the person deducted appeals their own deduction",
    ("POST", "/api/selections/{selection_id}/nominations"): "a resident nominates for their household",
    ("POST", "/api/selections/{selection_id}/votes"): "a household votes",
    # merchants (issue 35)
    ("POST", "/api/offers/{offer_id}/vouchers"): "a resident takes an offer for themself: a voucher code, nothing "
                                                 "moves until the merchant's staff confirm it (audited as merchant_redeem)",
}


pytestmark = pytest.mark.usefixtures("at_t0")  # the clock stands at T0 unless a test moves it


def _operations(app) -> set[tuple[str, str]]:
    doc = app.openapi_schema.to_schema()
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in MUTATING if method in item}




@dataclass
class Ctx:
    client: httpx.AsyncClient
    world: World
    pool: object
    c: Community
    volunteer: Person

    @property
    def m(self) -> Person:
        return self.c.manager

    async def call(self, who: Person, method: str, url: str, body=None, **kw) -> dict:
        r = await self.client.request(method, url, json=body, headers=who.headers, **kw)
        assert r.status_code < 300, (method, url, r.status_code, r.text)
        return r.json() if r.content else {}

    async def activity(self, *, publish: bool = True) -> dict:
        body = {"community_id": self.c.id, "title": "垃圾分类宣传", "starts_at": (T0 - timedelta(minutes=10)).isoformat(),
                "ends_at": (T0 + timedelta(hours=3)).isoformat(), "points": 10}
        activity = await self.call(self.m, "POST", "/api/activities", body)
        if publish:
            activity = await self.call(self.m, "POST", f"/api/activities/{activity['id']}/publish")
        return activity

    async def card(self, person: Person) -> str:
        return (await self.call(person, "GET", "/api/me/card"))["url"]

    async def reward(self) -> dict:
        return await self.call(self.m, "POST", "/api/rewards", {"community_id": self.c.id, "name": "大米",
                                                                 "cost_points": 10, "stock": 5})

    async def requested(self) -> dict:
        await self.world.fund(self.volunteer, self.c, "points", 100)
        reward = await self.reward()
        return await self.call(self.volunteer, "POST", "/api/redemptions", {"reward_id": reward["id"]})

    async def report(self) -> dict:
        courier = await self.world.member(self.c, "快递小哥", role="courier")
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (90, 140, 60)).save(out, "JPEG")
        r = await self.client.post("/api/reports", headers=courier.headers,
                                   data={"kind": "hazard", "text": "消防通道被占用"},
                                   files={"photo": ("p.jpg", out.getvalue(), "image/jpeg")})
        assert r.status_code == 201, r.text
        return r.json()

    async def proxy_request(self, *, accepted: bool) -> dict:
        elder = await self.world.member(self.c, "老人")
        await self.call(self.m, "POST", "/api/timebank/pool/credits",
                        {"community_id": self.c.id, "minutes": 100, "reason": "拨入"})
        request = await self.call(self.m, "POST", "/api/timebank/requests",
                                  {"title": "陪老人复诊", "minutes_estimate": 30, "for_user_id": elder.id,
                                   "use_pool": True})
        if accepted:
            await self.call(self.volunteer, "POST", f"/api/timebank/requests/{request['id']}/accept")
            await self.call(self.volunteer, "POST", f"/api/timebank/requests/{request['id']}/complete")
        return request

    async def posting(self) -> dict:
        await self.world.fund(self.volunteer, self.c, "points", 10)
        quarter = str(ranking_rules.quarter_of(clock.now(), clock.zone()))
        return await self.call(self.m, "POST", "/api/postings", {"community_id": self.c.id, "quarter": quarter})


# Each case prepares what the operation needs and returns (who acts, method args, expected act,
# the community the row must name). The act runs after the preparation's own audit rows.
async def _org_create(x: Ctx):
    return await x.world.admin(), ("POST", "/api/orgs", {"kind": "grid", "name": "第二网格", "parent_id": x.c.id}), \
        "org_create", x.c.id


async def _org_edit(x: Ctx):
    return await x.world.admin(), ("PATCH", f"/api/orgs/{x.c.grid_id}", {"name": "一网格"}), "org_edit", x.c.id


async def _appoint(x: Ctx):  # an invitation the person accepts (issue 31)
    return await x.world.admin(), ("POST", f"/api/orgs/{x.c.id}/managers", {"phone": new_phone(), "name": "新主任"}), \
        "role_invite", x.c.id


async def _dismiss(x: Ctx):
    someone = await x.world.person("老主任")
    await appoint(x.client, await x.world.admin(), x.c.id, someone)
    return await x.world.admin(), ("DELETE", f"/api/orgs/{x.c.id}/managers/{someone.id}", None), "role_revoke", x.c.id


async def _org_member(x: Ctx):
    someone = await x.world.person("新居民")
    return await x.world.admin(), ("POST", f"/api/orgs/{x.c.id}/members", {"user_id": someone.id, "role": "volunteer"}), \
        "member_add", x.c.id


async def _invite(x: Ctx):
    return x.m, ("POST", f"/api/communities/{x.c.id}/invitations",
                 {"phone": new_phone(), "name": "新居民", "role": "volunteer"}), "member_invite", x.c.id


async def _grid(x: Ctx):
    courier = await x.world.member(x.c, "快递员", role="courier")
    grid = await x.call(await x.world.admin(), "POST", "/api/orgs", {"kind": "grid", "name": "二网格", "parent_id": x.c.id})
    return x.m, ("POST", f"/api/members/{courier.id}/grid", {"grid_id": grid["id"]}), "member_edit", x.c.id


async def _deactivate(x: Ctx):
    return x.m, ("POST", f"/api/members/{x.volunteer.id}/deactivate", {"reason": "搬走了"}), "member_deactivate", x.c.id


async def _reactivate(x: Ctx):
    await x.call(x.m, "POST", f"/api/members/{x.volunteer.id}/deactivate", {"reason": "搬走了"})
    return x.m, ("POST", f"/api/members/{x.volunteer.id}/reactivate", {"reason": "回来了"}), "member_reactivate", x.c.id


async def _team(x: Ctx):
    return x.m, ("POST", "/api/teams", {"name": "物业公司", "community_id": x.c.id}), "team_create", x.c.id


async def _team_member(x: Ctx):
    team = await x.call(x.m, "POST", "/api/teams", {"name": "物业公司", "community_id": x.c.id})
    return x.m, ("POST", f"/api/teams/{team['id']}/members", {"user_id": x.volunteer.id}), "team_member_add", x.c.id


async def _adjust(x: Ctx):
    return x.m, ("POST", "/api/adjustments", {"user_id": x.volunteer.id, "unit": "points", "amount": 5,
                                              "reason": "补录"}), "adjustment", x.c.id


async def _reverse(x: Ctx):
    t = await x.call(x.m, "POST", "/api/adjustments", {"user_id": x.volunteer.id, "unit": "points", "amount": 5,
                                                       "reason": "补录"})
    return x.m, ("POST", f"/api/transfers/{t['id']}/reverse", {"reason": "录错了"}), "reversal", x.c.id


async def _activity_create(x: Ctx):
    return x.m, ("POST", "/api/activities", {"community_id": x.c.id, "title": "义诊",
                                             "starts_at": T0.isoformat(),
                                             "ends_at": (T0 + timedelta(hours=1)).isoformat()}), "activity_create", x.c.id


async def _activity_edit(x: Ctx):
    a = await x.activity(publish=False)
    return x.m, ("PATCH", f"/api/activities/{a['id']}", {"title": "义诊（改）"}), "activity_edit", x.c.id


async def _activity_delete(x: Ctx):
    a = await x.activity(publish=False)
    return x.m, ("DELETE", f"/api/activities/{a['id']}", None), "activity_delete", x.c.id


async def _activity_publish(x: Ctx):
    a = await x.activity(publish=False)
    return x.m, ("POST", f"/api/activities/{a['id']}/publish", None), "activity_publish", x.c.id


async def _activity_close(x: Ctx):
    a = await x.activity()
    return x.m, ("POST", f"/api/activities/{a['id']}/close", None), "activity_close", x.c.id


async def _mark(x: Ctx):
    a = await x.activity()
    return x.m, ("POST", f"/api/activities/{a['id']}/attendance/mark",
                 {"user_ids": [x.volunteer.id], "reason": "忘带手机", "minutes": 60}), "attendance_mark", x.c.id


async def _station(x: Ctx):
    a = await x.activity()
    return x.m, ("POST", f"/api/activities/{a['id']}/station-scans", {"code": await x.card(x.volunteer)}), \
        "station_scan", x.c.id


async def _annul(x: Ctx):
    a = await x.activity()
    scan = await x.call(x.m, "POST", f"/api/activities/{a['id']}/station-scans", {"code": await x.card(x.volunteer)})
    attendance_id = await x.pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                          a["id"], x.volunteer.id)
    assert scan
    return x.m, ("POST", f"/api/checkins/{attendance_id}/annul", {"reason": "代签"}), "checkin_annul", x.c.id


async def _kiosk_pair(x: Ctx):
    a = await x.activity()
    return x.m, ("POST", f"/api/activities/{a['id']}/kiosks", None), "kiosk_pair", x.c.id


async def _kiosk_revoke(x: Ctx):
    a = await x.activity()
    pairing = await x.call(x.m, "POST", f"/api/activities/{a['id']}/kiosks")
    return x.m, ("POST", f"/api/kiosks/{pairing['id']}/revoke", None), "kiosk_revoke", x.c.id


async def _flag_dismiss(x: Ctx):
    a = await x.activity()
    await x.call(x.m, "POST", f"/api/activities/{a['id']}/station-scans", {"code": await x.card(x.volunteer)})
    attendance_id = await x.pool.fetchval("select id from attendances where activity_id = $1 and user_id = $2",
                                          a["id"], x.volunteer.id)
    flag_id = await x.pool.fetchval(  # what the fraud check raises on a burst from one address
        "insert into scan_flags (activity_id, attendance_id, user_id, reason, created_at) "
        "values ($1, $2, $3, 'address_burst', now()) returning id", a["id"], attendance_id, x.volunteer.id)
    return x.m, ("POST", f"/api/scan-flags/{flag_id}/resolve", {"action": "dismiss", "reason": "同一户人家共用网络"}), \
        "scan_flag_dismiss", x.c.id


async def _expiry_policy(x: Ctx):
    return x.m, ("PATCH", f"/api/communities/{x.c.id}/settings", {"points_expire": True}), "expiry_policy", x.c.id


async def _household(x: Ctx):
    return x.m, ("POST", "/api/households", {"community_id": x.c.id, "name": "刘家"}), "household_edit", x.c.id


async def _household_member(x: Ctx):
    h = await x.call(x.m, "POST", "/api/households", {"community_id": x.c.id, "name": "刘家"})
    return x.m, ("POST", f"/api/households/{h['id']}/members", {"user_id": x.volunteer.id}), "household_edit", x.c.id


async def _posting(x: Ctx):
    await x.world.fund(x.volunteer, x.c, "points", 10)
    quarter = str(ranking_rules.quarter_of(clock.now(), clock.zone()))
    return x.m, ("POST", "/api/postings", {"community_id": x.c.id, "quarter": quarter}), "posting_publish", x.c.id


async def _answer(x: Ctx):
    posting = await x.posting()
    appeal = await x.call(x.volunteer, "POST", f"/api/postings/{posting['id']}/appeals", {"reason": "我的分数不对"})
    return x.m, ("POST", f"/api/appeals/{appeal['id']}/answer", {"answer": "已核对"}), "appeal_answer", x.c.id


async def _report_verify(x: Ctx):
    report = await x.report()
    return x.m, ("POST", f"/api/reports/{report['id']}/verify", None), "report_verify", x.c.id


async def _report_reject(x: Ctx):
    report = await x.report()
    return x.m, ("POST", f"/api/reports/{report['id']}/reject", {"reason": "照片不清楚"}), "report_reject", x.c.id


async def _community_policy(x: Ctx):
    return x.m, ("PUT", f"/api/communities/{x.c.id}/policy", {"daily_points_cap": 150}), "community_policy", x.c.id


async def _report_settings(x: Ctx):
    return x.m, ("PUT", f"/api/communities/{x.c.id}/report-settings", {"civility_points": 3}), "report_settings", x.c.id


async def _reward_create(x: Ctx):
    return x.m, ("POST", "/api/rewards", {"community_id": x.c.id, "name": "毛巾", "cost_points": 5, "stock": 3}), \
        "reward_create", x.c.id


async def _reward_edit(x: Ctx):
    reward = await x.reward()
    return x.m, ("PATCH", f"/api/rewards/{reward['id']}", {"cost_points": 12}), "reward_edit", x.c.id


async def _stock(x: Ctx):
    reward = await x.reward()
    return x.m, ("POST", f"/api/rewards/{reward['id']}/stock", {"delta": 4, "reason": "到货"}), "stock_change", x.c.id


async def _image(x: Ctx):
    reward = await x.reward()
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(out, "PNG")
    return x.m, ("POST", f"/api/rewards/{reward['id']}/image", None,
                 {"files": {"image": ("r.png", out.getvalue(), "image/png")}}), "reward_edit", x.c.id


async def _image_remove(x: Ctx):
    reward = await x.reward()
    return x.m, ("DELETE", f"/api/rewards/{reward['id']}/image", None), "reward_edit", x.c.id


async def _approve(x: Ctx):
    asked = await x.requested()
    return x.m, ("POST", f"/api/redemptions/{asked['id']}/approve", None), "redemption_approve", x.c.id


async def _reject(x: Ctx):
    asked = await x.requested()
    return x.m, ("POST", f"/api/redemptions/{asked['id']}/reject", {"reason": "库存不符"}), "redemption_reject", x.c.id


async def _fulfil(x: Ctx):
    asked = await x.requested()
    await x.call(x.m, "POST", f"/api/redemptions/{asked['id']}/approve")
    voucher = await x.call(x.volunteer, "GET", f"/api/redemptions/{asked['id']}/voucher")
    return x.m, ("POST", "/api/scans", {"code": voucher["code"]}), "redemption_fulfil", x.c.id


async def _on_the_spot(x: Ctx):
    await x.world.fund(x.volunteer, x.c, "points", 100)
    reward = await x.reward()
    return x.m, ("POST", "/api/redemptions/on-the-spot", {"member_code": await x.card(x.volunteer),
                                                          "reward_id": reward["id"]}), "redemption_on_the_spot", x.c.id


async def _proxy(x: Ctx):
    elder = await x.world.member(x.c, "老人")
    await x.world.fund(x.m, x.c, "minutes", 30)  # not from the pool: the posting manager pays (issue 33)
    return x.m, ("POST", "/api/timebank/requests", {"title": "送饭", "minutes_estimate": 30, "for_user_id": elder.id}), \
        "service_proxy", x.c.id


async def _confirm(x: Ctx):
    request = await x.proxy_request(accepted=True)
    return x.m, ("POST", f"/api/timebank/requests/{request['id']}/confirm", {"minutes": 30}), "service_confirm", x.c.id


async def _service_cancel(x: Ctx):
    request = await x.proxy_request(accepted=False)
    return x.m, ("POST", f"/api/timebank/requests/{request['id']}/cancel", {"reason": "家属自己去了"}), \
        "service_cancel", x.c.id


async def _pool_credit(x: Ctx):
    return x.m, ("POST", "/api/timebank/pool/credits", {"community_id": x.c.id, "minutes": 60, "reason": "拨入"}), \
        "adjustment", x.c.id


async def _family_approve(x: Ctx):
    elder = await x.world.member(x.c, "老人")  # no login: a manager approves for them
    await x.call(x.volunteer, "POST", "/api/family-links", {"phone": elder.phone})  # answers no id (issue 16)
    link_id = await x.pool.fetchval("select id from family_links where requester_id = $1 and target_id = $2",
                                    x.volunteer.id, elder.id)
    return x.m, ("POST", f"/api/family-links/{link_id}/approve", None), "family_link_approve", x.c.id


# ---- joining (issue 18) -----------------------------------------------------------------------

async def _join_request(x: Ctx) -> dict:
    stranger = await x.world.person("新来的")
    code = (await x.call(x.m, "GET", f"/api/communities/{x.c.id}/join-code"))["code"]
    return await x.call(stranger, "POST", "/api/join-requests", {"join_code": code})


async def _join_approve(x: Ctx):
    asked = await _join_request(x)
    return x.m, ("POST", f"/api/join-requests/{asked['id']}/approve", None), "join_approve", x.c.id


async def _join_reject(x: Ctx):
    asked = await _join_request(x)
    return x.m, ("POST", f"/api/join-requests/{asked['id']}/reject", {"reason": "不是本社区居民"}), \
        "join_reject", x.c.id


async def _join_policy(x: Ctx):
    # Turning auto-approval on is held for a second person (issue 30): the act is the request.
    return x.m, ("PUT", f"/api/communities/{x.c.id}/join-policy", {"auto_approve": True}), "held_request", x.c.id


# ---- what is held for a second person (issue 30) ------------------------------------------------

async def _held_policy(x: Ctx) -> int:
    r = await x.call(x.m, "PUT", f"/api/communities/{x.c.id}/join-policy", {"auto_approve": True})
    return r["pending_id"]


async def _held_approve(x: Ctx):
    deputy = await _deputy(x)
    held = await _held_policy(x)
    return deputy, ("POST", f"/api/held/policy/{held}/approve", {}), "held_approve", x.c.id


async def _held_reject(x: Ctx):
    deputy = await _deputy(x)
    held = await _held_policy(x)
    return deputy, ("POST", f"/api/held/policy/{held}/reject", {"reason": "不宜自动通过"}), "held_reject", x.c.id


async def _manager_flag_dismiss(x: Ctx):
    deputy = await _deputy(x)
    await _held_policy(x)  # raises a flag about the manager
    flags = await x.call(deputy, "GET", "/api/manager-flags", params={"community_id": x.c.id})
    flag = next(f for f in flags["items"] if f["manager"]["id"] == x.m.id)
    return deputy, ("POST", f"/api/manager-flags/{flag['id']}/dismiss", {"reason": "已核实"}), \
        "manager_flag_dismiss", x.c.id


def _roster() -> bytes:
    return ("姓名 name,手机号 phone,网格 grid,户/地址 household,标签 tags,工作单位 work unit\r\n"
            f"王秀兰,{new_phone()},,3栋501,,\r\n").encode("utf-8-sig")


async def _import(x: Ctx):
    data = _roster()
    return x.m, ("POST", f"/api/communities/{x.c.id}/imports", None,
                 {"files": {"file": ("residents.csv", data)},
                  "data": {"file_sha256": hashlib.sha256(data).hexdigest()}}), "member_import", x.c.id


async def _resident(x: Ctx):
    return x.m, ("POST", f"/api/communities/{x.c.id}/residents", {"name": "王秀兰", "household": "3栋2单元501"}), \
        "member_create", x.c.id


async def _card_reissue(x: Ctx):
    elder = await x.call(x.m, "POST", f"/api/communities/{x.c.id}/residents", {"name": "王秀兰"})
    return x.m, ("POST", f"/api/communities/{x.c.id}/members/{elder['id']}/card", None), "card_reissue", x.c.id


# ---- maker-checker adjustments (issue 16) -----------------------------------------------------

async def _deputy(x: Ctx) -> Person:
    deputy = await x.world.person("副主任")
    await appoint(x.client, await x.world.admin(), x.c.id, deputy)
    return deputy


async def _adjustment_request(x: Ctx) -> dict:
    return await x.call(x.m, "POST", "/api/adjustments", {"user_id": x.volunteer.id, "unit": "points",
                                                         "amount": 500, "reason": "年度表彰"})


async def _adjustment_approve(x: Ctx):
    deputy = await _deputy(x)
    asked = await _adjustment_request(x)
    return deputy, ("POST", f"/api/adjustment-requests/{asked['id']}/approve", None), "adjustment_approve", x.c.id


async def _adjustment_reject(x: Ctx):
    deputy = await _deputy(x)
    asked = await _adjustment_request(x)
    return deputy, ("POST", f"/api/adjustment-requests/{asked['id']}/reject", {"reason": "金额不对"}), \
        "adjustment_reject", x.c.id


async def _adjustment_policy(x: Ctx):
    return x.m, ("PUT", f"/api/communities/{x.c.id}/adjustment-policy",
                 {"threshold_points": 100, "threshold_minutes": 300}), "adjustment_policy", x.c.id


# ---- 双报到 (issue 20): work units are acts above the community (no community in the row) -------

async def _street_manager(x: Ctx) -> Person:
    manager = await x.world.person("街道书记")
    await appoint(x.client, await x.world.admin(), x.c.street_id, manager)
    return manager


async def _unit(x: Ctx) -> tuple[Person, dict]:
    manager = await _street_manager(x)
    unit = await x.call(manager, "POST", "/api/units", {"name": "区政务服务中心党支部", "kind": "government",
                                                        "parent_id": x.c.street_id})
    return manager, unit


async def _unit_admin(x: Ctx) -> tuple[Person, dict]:
    manager, unit = await _unit(x)
    admin = await x.world.person("支部书记")
    invite = await x.call(manager, "POST", f"/api/units/{unit['id']}/admins", {"phone": admin.phone})
    await x.call(admin, "POST", f"/api/me/role-invites/{invite['id']}/accept")
    return admin, unit


async def _unit_create(x: Ctx):
    manager = await _street_manager(x)
    return manager, ("POST", "/api/units", {"name": "苏祠小学党支部", "kind": "school", "parent_id": x.c.street_id}), \
        "unit_create", None


async def _unit_admin_grant(x: Ctx):
    manager, unit = await _unit(x)
    admin = await x.world.person("支部书记")
    return manager, ("POST", f"/api/units/{unit['id']}/admins", {"phone": admin.phone}), "role_invite", None


async def _unit_roster(x: Ctx):
    admin, unit = await _unit_admin(x)
    return admin, ("POST", f"/api/units/{unit['id']}/roster", None,
                   {"files": {"file": ("名单.csv", f"{x.volunteer.phone},刘芳\n".encode(), "text/csv")}}), \
        "unit_roster_upload", None


async def _unit_confirm(x: Ctx):
    admin, unit = await _unit_admin(x)  # the volunteer names the unit in their report; its admin confirms them
    await x.call(x.volunteer, "POST", "/api/unit-reports",
                 {"unit_id": unit["id"], "community_id": x.c.id, "grid_id": x.c.grid_id, "party_member": True})
    return admin, ("POST", f"/api/units/{unit['id']}/members/{x.volunteer.id}/confirm", None), \
        "unit_member_confirm", None


async def _unit_report(x: Ctx) -> dict:
    admin, unit = await _unit_admin(x)
    await x.call(admin, "POST", f"/api/units/{unit['id']}/roster",
                 files={"file": ("名单.csv", f"{x.volunteer.phone},刘芳\n".encode(), "text/csv")})
    return await x.call(x.volunteer, "POST", "/api/unit-reports",
                        {"unit_id": unit["id"], "community_id": x.c.id, "grid_id": x.c.grid_id, "party_member": True})


async def _unit_report_approve(x: Ctx):
    r = await _unit_report(x)
    return x.m, ("POST", f"/api/unit-reports/{r['id']}/approve", None), "unit_report_approve", x.c.id


async def _unit_report_reject(x: Ctx):
    r = await _unit_report(x)
    return x.m, ("POST", f"/api/unit-reports/{r['id']}/reject", {"reason": "不在本社区居住"}), \
        "unit_report_reject", x.c.id


async def _service_target(x: Ctx):
    manager = await _street_manager(x)
    return manager, ("PUT", f"/api/levels/{x.c.street_id}/service-target",
                     {"year": clock.now().astimezone(clock.zone()).year, "minutes": 100}), "service_target_set", None


async def _spending_area(x: Ctx):
    manager = await _street_manager(x)
    return manager, ("PUT", f"/api/orgs/{x.c.street_id}/spending-area", {"unit": "points", "enabled": True}), \
        "area_policy", None


async def _asked_certificate(x: Ctx) -> dict:
    return await x.call(x.volunteer, "POST", "/api/certificates", {"community_id": x.c.id})


async def _certificate_issue(x: Ctx):
    certificate = await _asked_certificate(x)
    return x.m, ("POST", f"/api/certificates/{certificate['id']}/issue", {"contact": "社区服务站"}), \
        "certificate_issue", x.c.id


async def _certificate_revoke(x: Ctx):
    certificate = await _asked_certificate(x)
    await x.call(x.m, "POST", f"/api/certificates/{certificate['id']}/issue", {})
    return x.m, ("POST", f"/api/certificates/{certificate['id']}/revoke", {"reason": "时长统计有误"}), \
        "certificate_revoke", x.c.id


async def _correction_answer(x: Ctx):
    correction = await x.call(x.volunteer, "POST", "/api/corrections",
                              {"community_id": x.c.id, "request": "三月的活动漏记了一次"})
    return x.m, ("POST", f"/api/corrections/{correction['id']}/answer", {"accepted": True, "answer": "已补录"}), \
        "correction_answer", x.c.id


async def _need_create(x: Ctx):
    return x.m, ("POST", f"/api/communities/{x.c.id}/needs", {"title": "周末楼道值守", "kind": "duty", "slots": 1}), \
        "need_create", x.c.id


async def _need_close(x: Ctx):
    need = await x.call(x.m, "POST", f"/api/communities/{x.c.id}/needs", {"title": "周末楼道值守", "kind": "duty",
                                                                           "slots": 1})
    return x.m, ("POST", f"/api/needs/{need['id']}/close", None), "need_close", x.c.id


async def _service_card(x: Ctx):
    r = await _unit_report(x)
    await x.call(x.m, "POST", f"/api/unit-reports/{r['id']}/approve")
    quarter = str(ranking_rules.quarter_of(clock.now(), clock.zone()))
    return x.m, ("POST", f"/api/communities/{x.c.id}/service-cards", {"user_id": x.volunteer.id, "quarter": quarter}), \
        "service_card_confirm", x.c.id


# ---- a city loads itself (issue 31) -------------------------------------------------------------

async def _city_import(x: Ctx):
    import hashlib
    import secrets
    data = f"层级,编码,名称,上级编码\n区,AUD{secrets.token_hex(4)},审计区,\n".encode()
    return await x.world.admin(), ("POST", "/api/city-imports/tree", None, {
        "files": {"file": ("tree.csv", data)}, "data": {"file_sha256": hashlib.sha256(data).hexdigest()}}), \
        "city_import", None


async def _role_invite(x: Ctx):
    return await x.world.admin(), ("POST", "/api/role-invites", {"kind": "manager", "phone": new_phone(),
                                                                 "name": "新主任", "org_id": x.c.id}), \
        "role_invite", x.c.id


async def _claim(x: Ctx) -> int:
    """The volunteer reported to the community (with a unit) and claims a new need."""
    unit = await x.pool.fetchval("insert into units (name, kind, parent_id, created_at) values ('单位', 'other', $1, now()) "
                                 "returning id", x.c.street_id)
    await x.pool.execute("insert into unit_reports (user_id, unit_id, community_id, state, created_at, decided_at) "
                         "values ($1, $2, $3, 'approved', now(), now())", x.volunteer.id, unit, x.c.id)
    need = await x.call(x.m, "POST", f"/api/communities/{x.c.id}/needs", {"title": "楼道值守", "slots": 1})
    return (await x.call(x.volunteer, "POST", f"/api/needs/{need['id']}/claim"))["my_claim_id"]


async def _need_confirm(x: Ctx):
    claim = await _claim(x)
    return x.m, ("POST", f"/api/need-claims/{claim}/confirm", {"minutes": 60, "points": 10, "record": "议事会纪要"}), \
        "need_confirm", x.c.id


async def _need_approve(x: Ctx):
    claim = await _claim(x)
    deputy = await _deputy(x)
    await x.call(deputy, "POST", f"/api/need-claims/{claim}/confirm", {"minutes": 60, "points": 900, "record": "纪要"})
    return x.m, ("POST", f"/api/need-claims/{claim}/approve", None), "need_confirm", x.c.id


async def _need_decline(x: Ctx):
    claim = await _claim(x)
    return x.m, ("POST", f"/api/need-claims/{claim}/decline", {"reason": "未到场", "unserved": True}), \
        "need_decline", x.c.id


async def _micro_grid_create(x: Ctx):
    return x.m, ("POST", f"/api/grids/{x.c.grid_id}/micro-grids", {"name": "3栋"}), "micro_grid_create", x.c.id


async def _micro_grid_assign(x: Ctx):
    micro = await x.call(x.m, "POST", f"/api/grids/{x.c.grid_id}/micro-grids", {"name": "3栋"})
    return x.m, ("POST", f"/api/micro-grids/{micro['id']}/residents", {"user_id": x.volunteer.id}), \
        "micro_grid_assign", x.c.id


async def _micro_mark(x: Ctx):
    """The 邻里长 (the volunteer, who accepted) marks the 微网格's elder who has no phone."""
    micro = await x.call(x.m, "POST", f"/api/grids/{x.c.grid_id}/micro-grids", {"name": "3栋"})
    elder = await x.call(x.m, "POST", f"/api/communities/{x.c.id}/residents", {"name": "李奶奶"})
    await x.call(x.m, "POST", f"/api/micro-grids/{micro['id']}/residents", {"user_id": elder["id"]})
    invite = await x.call(x.m, "POST", "/api/role-invites", {"kind": "micro_leader", "phone": x.volunteer.phone,
                                                           "name": "邻里长", "micro_grid_id": micro["id"]})
    await x.call(x.volunteer, "POST", f"/api/me/role-invites/{invite['id']}/accept")
    activity = await x.activity()
    return x.volunteer, ("POST", f"/api/micro-grids/{micro['id']}/attendance-marks", {
        "activity_id": activity["id"], "user_ids": [elder["id"]], "reason": "老人无手机", "minutes": 30}), \
        "attendance_mark", x.c.id


# ---- records and notices (issue 36) -----------------------------------------------------------

async def _training(x: Ctx):
    return x.m, ("POST", "/api/trainings", {"community_id": x.c.id, "title": "急救培训", "held_on": "2024-05-01",
                                            "minutes": 60}), "training_create", x.c.id


async def _training_attend(x: Ctx):
    t = await x.call(x.m, "POST", "/api/trainings", {"community_id": x.c.id, "title": "急救培训",
                                                     "held_on": "2024-05-01", "minutes": 60})
    return x.m, ("POST", f"/api/trainings/{t['id']}/attendance", {"user_ids": [x.volunteer.id]}), \
        "training_attend", x.c.id


async def _commendation(x: Ctx):
    return x.m, ("POST", "/api/commendations", {"community_id": x.c.id, "user_id": x.volunteer.id,
                                                "title": "优秀志愿者", "awarded_on": "2024-05-01"}), \
        "commendation_add", x.c.id


async def _evaluation(x: Ctx):
    return x.m, ("POST", "/api/evaluations", {"community_id": x.c.id, "user_id": x.volunteer.id, "rating": 5}), \
        "evaluation_add", x.c.id


async def _insurance(x: Ctx):
    return x.m, ("POST", "/api/insurance", {"community_id": x.c.id, "user_id": x.volunteer.id, "policy_number": "P-1",
                                            "starts_on": "2024-01-01", "ends_on": "2030-12-31"}), \
        "insurance_add", x.c.id


async def _requirements(x: Ctx):
    activity = await x.activity()
    return x.m, ("PUT", f"/api/activities/{activity['id']}/requirements", {"requires_training": "急救"}), \
        "activity_requirements", x.c.id


async def _notice(x: Ctx):
    # the guardian notice: the one no other test signs against (they read its current version anyway)
    return await x.world.admin(), ("POST", "/api/privacy/notices", {
        "kind": "guardian", "body": "监护人同意（审计测试版）：未满 18 周岁的志愿者须由监护人代为注册。"}), \
        "privacy_notice", None


async def _restore_approve(x: Ctx):
    other = await x.world.person("另一位管理员", admin=True)
    restore_id = await x.pool.fetchval(
        """insert into record_restores (state, file_sha256, payload, summary, requested_by, created_at)
           values ('pending', repeat('0', 64), $2::text::jsonb, '{}', $1, now()) returning id""", other.id,
        '{"people": [], "service": [], "training": [], "commendations": [], "evaluations": []}')
    return await x.world.admin(), ("POST", f"/api/records/restores/{restore_id}/approve", None), \
        "records_restore_apply", None


MANAGER_ACTS = {
    ("POST", "/api/orgs"): _org_create,
    ("PATCH", "/api/orgs/{org_id}"): _org_edit,
    ("POST", "/api/orgs/{org_id}/managers"): _appoint,
    ("DELETE", "/api/orgs/{org_id}/managers/{user_id}"): _dismiss,
    ("POST", "/api/orgs/{org_id}/members"): _org_member,
    ("POST", "/api/communities/{community_id}/invitations"): _invite,
    ("POST", "/api/members/{user_id}/grid"): _grid,
    ("POST", "/api/members/{user_id}/deactivate"): _deactivate,
    ("POST", "/api/members/{user_id}/reactivate"): _reactivate,
    ("POST", "/api/teams"): _team,
    ("POST", "/api/teams/{team_id}/members"): _team_member,
    ("POST", "/api/adjustments"): _adjust,
    ("POST", "/api/transfers/{transfer_id}/reverse"): _reverse,
    ("POST", "/api/activities"): _activity_create,
    ("PATCH", "/api/activities/{activity_id}"): _activity_edit,
    ("DELETE", "/api/activities/{activity_id}"): _activity_delete,
    ("POST", "/api/activities/{activity_id}/publish"): _activity_publish,
    ("POST", "/api/activities/{activity_id}/close"): _activity_close,
    ("POST", "/api/activities/{activity_id}/attendance/mark"): _mark,
    ("POST", "/api/activities/{activity_id}/station-scans"): _station,
    ("POST", "/api/checkins/{attendance_id}/annul"): _annul,
    ("PUT", "/api/orgs/{org_id}/spending-area"): _spending_area,
    ("POST", "/api/certificates/{certificate_id}/issue"): _certificate_issue,
    ("POST", "/api/certificates/{certificate_id}/revoke"): _certificate_revoke,
    ("POST", "/api/corrections/{correction_id}/answer"): _correction_answer,
    ("POST", "/api/activities/{activity_id}/kiosks"): _kiosk_pair,
    ("POST", "/api/kiosks/{kiosk_id}/revoke"): _kiosk_revoke,
    ("POST", "/api/scan-flags/{flag_id}/resolve"): _flag_dismiss,
    ("PATCH", "/api/communities/{community_id}/settings"): _expiry_policy,
    ("POST", "/api/households"): _household,
    ("POST", "/api/households/{household_id}/members"): _household_member,
    ("POST", "/api/postings"): _posting,
    ("POST", "/api/appeals/{appeal_id}/answer"): _answer,
    ("POST", "/api/reports/{report_id}/verify"): _report_verify,
    ("POST", "/api/reports/{report_id}/reject"): _report_reject,
    ("PUT", "/api/communities/{community_id}/report-settings"): _report_settings,
    ("PUT", "/api/communities/{community_id}/policy"): _community_policy,
    ("POST", "/api/rewards"): _reward_create,
    ("PATCH", "/api/rewards/{reward_id}"): _reward_edit,
    ("POST", "/api/rewards/{reward_id}/stock"): _stock,
    ("POST", "/api/rewards/{reward_id}/image"): _image,
    ("DELETE", "/api/rewards/{reward_id}/image"): _image_remove,
    ("POST", "/api/redemptions/{redemption_id}/approve"): _approve,
    ("POST", "/api/redemptions/{redemption_id}/reject"): _reject,
    ("POST", "/api/scans"): _fulfil,  # a manager's scan of a voucher hands the goods over
    ("POST", "/api/redemptions/on-the-spot"): _on_the_spot,
    ("POST", "/api/timebank/requests"): _proxy,  # a manager posting for a resident
    ("POST", "/api/timebank/requests/{request_id}/confirm"): _confirm,
    ("POST", "/api/timebank/requests/{request_id}/cancel"): _service_cancel,
    ("POST", "/api/timebank/pool/credits"): _pool_credit,
    ("POST", "/api/family-links/{link_id}/approve"): _family_approve,
    ("POST", "/api/join-requests/{join_request_id}/approve"): _join_approve,
    ("POST", "/api/join-requests/{join_request_id}/reject"): _join_reject,
    ("PUT", "/api/communities/{community_id}/join-policy"): _join_policy,
    ("POST", "/api/held/{held_kind}/{item_id}/approve"): _held_approve,
    ("POST", "/api/held/{held_kind}/{item_id}/reject"): _held_reject,
    ("POST", "/api/manager-flags/{manager_flag_id}/dismiss"): _manager_flag_dismiss,
    ("POST", "/api/communities/{community_id}/imports"): _import,
    ("POST", "/api/communities/{community_id}/residents"): _resident,
    ("POST", "/api/communities/{community_id}/members/{user_id}/card"): _card_reissue,
    ("POST", "/api/adjustment-requests/{request_id}/approve"): _adjustment_approve,
    ("POST", "/api/adjustment-requests/{request_id}/reject"): _adjustment_reject,
    ("PUT", "/api/communities/{community_id}/adjustment-policy"): _adjustment_policy,
    ("POST", "/api/units"): _unit_create,
    ("POST", "/api/units/{unit_id}/admins"): _unit_admin_grant,
    ("POST", "/api/units/{unit_id}/roster"): _unit_roster,
    ("POST", "/api/units/{unit_id}/members/{user_id}/confirm"): _unit_confirm,
    ("POST", "/api/unit-reports/{unit_report_id}/approve"): _unit_report_approve,
    ("POST", "/api/unit-reports/{unit_report_id}/reject"): _unit_report_reject,
    ("PUT", "/api/levels/{level_id}/service-target"): _service_target,
    ("POST", "/api/communities/{community_id}/needs"): _need_create,
    ("POST", "/api/needs/{need_id}/close"): _need_close,
    ("POST", "/api/communities/{community_id}/service-cards"): _service_card,
    ("POST", "/api/city-imports/{kind}"): _city_import,
    ("POST", "/api/role-invites"): _role_invite,
    ("POST", "/api/need-claims/{claim_id}/confirm"): _need_confirm,
    ("POST", "/api/need-claims/{claim_id}/approve"): _need_approve,
    ("POST", "/api/need-claims/{claim_id}/decline"): _need_decline,
    ("POST", "/api/grids/{grid_id}/micro-grids"): _micro_grid_create,
    ("POST", "/api/micro-grids/{micro_grid_id}/residents"): _micro_grid_assign,
    ("POST", "/api/micro-grids/{micro_grid_id}/attendance-marks"): _micro_mark,
    ("POST", "/api/trainings"): _training,
    ("POST", "/api/trainings/{training_id}/attendance"): _training_attend,
    ("POST", "/api/commendations"): _commendation,
    ("POST", "/api/evaluations"): _evaluation,
    ("POST", "/api/insurance"): _insurance,
    ("PUT", "/api/activities/{activity_id}/requirements"): _requirements,
    ("POST", "/api/privacy/notices"): _notice,
    ("POST", "/api/records/restores/{restore_id}/approve"): _restore_approve,
}


# ---- the grid loop (issue 32): cases and partner organisations ---------------------------------

async def _loop(x: Ctx) -> tuple[Person, dict, dict, Person]:
    """A street manager, a category, a property company with one handler, and a verified hazard's case."""
    manager = await _street_manager(x)
    [category] = await x.call(manager, "PUT", f"/api/streets/{x.c.street_id}/case-categories",
                              {"name": "占道", "deadline_hours": 48})
    company = await x.call(manager, "POST", "/api/partners",
                           {"kind": "property", "name": "物业公司", "parent_id": x.c.street_id})
    handler = await x.world.person("物业维修员")
    invited = await x.call(manager, "POST", f"/api/partners/{company['id']}/invitations",
                           {"phone": handler.phone, "name": handler.name})
    await x.call(handler, "POST", f"/api/partner-invitations/{invited['invitation']['id']}/answer", {"accept": True})
    report = await x.report()
    await x.call(x.m, "POST", f"/api/reports/{report['id']}/verify")
    page = await x.call(x.m, "GET", f"/api/cases?view=community&org_id={x.c.id}")
    case = next(k for k in page["items"] if k["report_id"] == report["id"])
    return manager, category, {**case, "company_id": company["id"]}, handler


async def _dispatched(x: Ctx, *, accept: bool) -> tuple[dict, Person]:
    manager, category, case, handler = await _loop(x)
    await x.call(x.m, "POST", f"/api/cases/{case['id']}/sort", {"category_id": category["id"], "send_up": True})
    await x.call(manager, "POST", f"/api/cases/{case['id']}/dispatch", {"handler_id": case["company_id"]})
    if accept:
        await x.call(handler, "POST", f"/api/cases/{case['id']}/accept")
    return case, handler


async def _proposal(x: Ctx) -> dict:
    return await x.call(x.volunteer, "POST", "/api/cases", {"kind": "proposal", "title": "加装充电桩", "text": "建议加装"})


async def _case_sort(x: Ctx):
    _, category, case, _ = await _loop(x)
    return x.m, ("POST", f"/api/cases/{case['id']}/sort", {"category_id": category["id"]}), "case_sort", x.c.id


async def _case_merge(x: Ctx):
    _, _, case, _ = await _loop(x)
    other = await x.report()
    await x.call(x.m, "POST", f"/api/reports/{other['id']}/verify")
    page = await x.call(x.m, "GET", f"/api/cases?view=community&org_id={x.c.id}")
    duplicate = next(k for k in page["items"] if k["report_id"] == other["id"])
    return x.m, ("POST", f"/api/cases/{duplicate['id']}/merge", {"into": case["id"]}), "case_merge", x.c.id


async def _case_dispatch(x: Ctx):
    manager, category, case, _ = await _loop(x)
    await x.call(x.m, "POST", f"/api/cases/{case['id']}/sort", {"category_id": category["id"], "send_up": True})
    return manager, ("POST", f"/api/cases/{case['id']}/dispatch", {"handler_id": case["company_id"]}), \
        "case_dispatch", x.c.id


async def _case_accept(x: Ctx):
    case, handler = await _dispatched(x, accept=False)
    return handler, ("POST", f"/api/cases/{case['id']}/accept", None), "case_handle", x.c.id


async def _case_return(x: Ctx):
    case, handler = await _dispatched(x, accept=False)
    return handler, ("POST", f"/api/cases/{case['id']}/return", {"reason": "不属于物业管理范围"}), "case_handle", x.c.id


async def _case_note(x: Ctx):
    case, handler = await _dispatched(x, accept=True)
    return handler, ("POST", f"/api/cases/{case['id']}/notes", None,
                     {"files": {"note": (None, "已到现场")}}), "case_handle", x.c.id


async def _case_done(x: Ctx):
    case, handler = await _dispatched(x, accept=True)
    return handler, ("POST", f"/api/cases/{case['id']}/done", {}), "case_handle", x.c.id


async def _case_meeting(x: Ctx):
    case = await _proposal(x)
    return x.m, ("POST", f"/api/cases/{case['id']}/meeting", {"text": "议事会同意"}), "case_meeting", x.c.id


async def _case_vote_open(x: Ctx):
    case = await _proposal(x)
    await x.call(x.m, "POST", f"/api/cases/{case['id']}/meeting", {"text": "议事会同意"})
    return x.m, ("POST", f"/api/cases/{case['id']}/vote-open", {"hours": 24}), "case_vote_open", x.c.id


async def _case_publish(x: Ctx):
    case = await _proposal(x)
    await x.call(x.m, "POST", f"/api/cases/{case['id']}/meeting", {"text": "议事会同意"})
    await x.call(x.m, "POST", f"/api/cases/{case['id']}/vote-open", {"hours": 1})
    clock.freeze(clock.now() + timedelta(hours=2))
    return x.m, ("POST", f"/api/cases/{case['id']}/publish", None), "case_publish", x.c.id


async def _case_category(x: Ctx):
    manager = await _street_manager(x)
    return manager, ("PUT", f"/api/streets/{x.c.street_id}/case-categories", {"name": "噪音扰民", "deadline_hours": 72}), \
        "case_category", None


async def _partner_create(x: Ctx):
    manager = await _street_manager(x)
    return manager, ("POST", "/api/partners", {"kind": "department", "name": "城管执法中队", "parent_id": x.c.street_id}), \
        "partner_create", None


async def _partner_invite(x: Ctx):
    manager = await _street_manager(x)
    company = await x.call(manager, "POST", "/api/partners",
                           {"kind": "property", "name": "物业公司", "parent_id": x.c.street_id})
    return manager, ("POST", f"/api/partners/{company['id']}/invitations", {"phone": new_phone(), "name": "维修员"}), \
        "partner_invite", None


CASE_ACTS = {
    ("POST", "/api/cases/{case_id}/sort"): _case_sort,
    ("POST", "/api/cases/{case_id}/merge"): _case_merge,
    ("POST", "/api/cases/{case_id}/dispatch"): _case_dispatch,
    ("POST", "/api/cases/{case_id}/accept"): _case_accept,
    ("POST", "/api/cases/{case_id}/return"): _case_return,
    ("POST", "/api/cases/{case_id}/notes"): _case_note,
    ("POST", "/api/cases/{case_id}/done"): _case_done,
    ("POST", "/api/cases/{case_id}/meeting"): _case_meeting,
    ("POST", "/api/cases/{case_id}/vote-open"): _case_vote_open,
    ("POST", "/api/cases/{case_id}/publish"): _case_publish,
    ("PUT", "/api/streets/{street_id}/case-categories"): _case_category,
    ("POST", "/api/partners"): _partner_create,
    ("POST", "/api/partners/{partner_id}/invitations"): _partner_invite,
}
MANAGER_ACTS.update(CASE_ACTS)


# ---- merchants (issue 35): the community's merchant, its owner (who accepted), an approved offer ----

async def _merchant(x: Ctx, *, offer: bool = True) -> tuple[dict, Person, int | None]:
    owner = await x.world.person("王师傅")
    merchant = await x.call(x.m, "POST", "/api/merchants", {
        "parent_id": x.c.id, "name": "老王理发", "address": "幸福路12号", "contact_phone": owner.phone,
        "owner_name": owner.name, "category": "理发"})
    [invitation] = (await x.call(owner, "GET", "/api/partner-invitations"))["items"]
    await x.call(owner, "POST", f"/api/partner-invitations/{invitation['id']}/answer", {"accept": True})
    if not offer:
        return merchant, owner, None
    made = await x.call(owner, "POST", f"/api/merchants/{merchant['id']}/offers",
                        {"name": "理发一次", "price_points": 20, "monthly_limit": 5, "stock": 10})
    await x.call(x.m, "POST", f"/api/offers/{made['id']}/decision", {"approve": True})
    return merchant, owner, made["id"]


async def _voucher(x: Ctx, offer_id: int) -> str:
    await x.world.fund(x.volunteer, x.c, "points", 100)
    return (await x.call(x.volunteer, "POST", f"/api/offers/{offer_id}/vouchers"))["code"]


async def _merchant_create(x: Ctx):
    return x.m, ("POST", "/api/merchants", {"parent_id": x.c.id, "name": "社区小卖部", "address": "3栋",
                                             "contact_phone": new_phone(), "owner_name": "刘姐", "category": "百货"}), \
        "merchant_create", x.c.id


async def _merchant_suspend(x: Ctx):
    merchant, _, _ = await _merchant(x, offer=False)
    return x.m, ("POST", f"/api/merchants/{merchant['id']}/suspension", {"suspended": True, "reason": "居民投诉"}), \
        "merchant_suspend", x.c.id


async def _merchant_offer(x: Ctx):
    merchant, owner, _ = await _merchant(x, offer=False)
    return owner, ("POST", f"/api/merchants/{merchant['id']}/offers",
                   {"name": "洗剪吹", "price_points": 30, "monthly_limit": 2, "stock": 5}), "merchant_offer_create", x.c.id


async def _merchant_offer_decide(x: Ctx):
    merchant, owner, _ = await _merchant(x, offer=False)
    made = await x.call(owner, "POST", f"/api/merchants/{merchant['id']}/offers",
                        {"name": "洗剪吹", "price_points": 30, "monthly_limit": 2, "stock": 5})
    return x.m, ("POST", f"/api/offers/{made['id']}/decision", {"approve": True}), "merchant_offer_decide", x.c.id


async def _merchant_redeem(x: Ctx):
    merchant, owner, offer_id = await _merchant(x)
    code = await _voucher(x, offer_id)
    return owner, ("POST", f"/api/merchants/{merchant['id']}/redemptions", {"code": code}), "merchant_redeem", x.c.id


async def _merchant_refund(x: Ctx):
    merchant, owner, offer_id = await _merchant(x)
    done = await x.call(owner, "POST", f"/api/merchants/{merchant['id']}/redemptions",
                        {"code": await _voucher(x, offer_id)})
    return owner, ("POST", f"/api/merchant-redemptions/{done['id']}/refund", {"reason": "顾客退回"}), \
        "merchant_refund", x.c.id


async def _merchant_rate(x: Ctx):
    return x.m, ("PUT", f"/api/orgs/{x.c.id}/merchant-rate", {"fen_per_point": 5}), "merchant_rate", x.c.id


MANAGER_ACTS.update({
    ("POST", "/api/merchants"): _merchant_create,
    ("POST", "/api/merchants/{merchant_id}/suspension"): _merchant_suspend,
    ("POST", "/api/merchants/{merchant_id}/offers"): _merchant_offer,
    ("POST", "/api/offers/{offer_id}/decision"): _merchant_offer_decide,
    ("POST", "/api/merchants/{merchant_id}/redemptions"): _merchant_redeem,
    ("POST", "/api/merchant-redemptions/{redemption_id}/refund"): _merchant_refund,
    ("PUT", "/api/orgs/{org_id}/merchant-rate"): _merchant_rate,
})


# ---- recognition (issue 34): the rulebook, deductions, medals, selections -------------------------

async def _rulebook_in_force(x: Ctx) -> int:
    """A community rulebook with one deduction item, approved by the admin; the item's id."""
    book = await x.call(x.m, "POST", "/api/rulebooks", {"org_id": x.c.id, "title": "社区积分细则", "items": [
        {"code": "D1", "kind": "deduct", "title": "乱扔垃圾", "points": 5, "clause": "居民公约第二条"}]})
    await x.call(await x.world.admin(), "POST", f"/api/held/rulebook/{book['id']}/approve", {})
    return book["items"][0]["id"]


async def _rulebook_propose(x: Ctx):
    return x.m, ("POST", "/api/rulebooks", {"org_id": x.c.id, "title": "社区积分细则", "items": [
        {"code": "A1", "kind": "earn", "title": "志愿服务", "points": 10}]}), "rulebook_propose", x.c.id


async def _deduction_propose(x: Ctx):
    item = await _rulebook_in_force(x)
    return x.m, ("POST", "/api/deductions", None, {"files": {
        "community_id": (None, str(x.c.id)), "user_id": (None, str(x.volunteer.id)),
        "rule_item_id": (None, str(item)), "evidence": (None, "楼道乱扔垃圾")}}), "deduction_propose", x.c.id


async def _medal_rule(x: Ctx):
    return x.m, ("POST", "/api/medal-rules", {"org_id": x.c.id, "kind": "hours", "threshold": 20, "name": "二十小时"}), \
        "medal_rule", x.c.id


async def _medal_sweep(x: Ctx):
    return x.m, ("POST", f"/api/communities/{x.c.id}/medals/sweep", None), "medal_sweep", x.c.id


async def _medal_revoke(x: Ctx):
    medal = await x.pool.fetchval("insert into medals (user_id, community_id, code, name, awarded_at) "
                                  "values ($1, $2, 'hours:10', '志愿服务10小时', now()) returning id", x.volunteer.id, x.c.id)
    return x.m, ("POST", f"/api/medals/{medal}/revoke", {"reason": "录入有误"}), "medal_revoke", x.c.id


async def _selection_open(x: Ctx):
    quarter = str(ranking_rules.quarter_of(clock.now(), clock.zone()))
    return x.m, ("POST", "/api/selections", {"community_id": x.c.id, "kind": "person", "quarter": quarter}), \
        "selection_open", x.c.id


async def _selection(x: Ctx, *, posted: bool) -> tuple[int, int]:
    """A selection whose vote has ended (or whose 公示 has ended), the volunteer its one candidate."""
    selection = await x.pool.fetchval(
        """insert into selections (community_id, quarter, kind, title, top_n, max_votes, votes_until, state, opened_by,
                                   opened_at)
           values ($1, '2026Q1', 'person', '道德模范', 10, 3, $2, $3, $4, $2) returning id""",
        x.c.id, T0 - timedelta(days=10), "posted" if posted else "open", x.m.id)
    candidate = await x.pool.fetchval(
        """insert into selection_candidates (selection_id, user_id, from_ranking, rank, score, chosen, choice_reason)
           values ($1, $2, true, 1, 10, $3, $4) returning id""", selection, x.volunteer.id, posted or None,
        "事迹突出" if posted else None)
    if posted:
        posting = await x.pool.fetchval(
            """insert into postings (community_id, scope, unit, quarter, top_n, starts_at, ends_at, created_by,
                                     created_at, selection_id)
               values ($1, 'selection', 'points', '2026Q1', 1, $2, $3, $4, $2, $5) returning id""",
            x.c.id, T0 - timedelta(days=9), T0 - timedelta(days=1), x.m.id, selection)
        await x.pool.execute("update selections set posting_id = $2 where id = $1", selection, posting)
    return selection, candidate


async def _selection_propose(x: Ctx):
    selection, candidate = await _selection(x, posted=False)
    return x.m, ("POST", f"/api/selections/{selection}/decision",
                 {"choices": [{"candidate_id": candidate, "reason": "事迹突出"}]}), "selection_propose", x.c.id


async def _selection_final(x: Ctx):
    selection, _ = await _selection(x, posted=True)
    return x.m, ("POST", f"/api/selections/{selection}/final", None), "selection_final", x.c.id


MANAGER_ACTS.update({
    ("POST", "/api/rulebooks"): _rulebook_propose,
    ("POST", "/api/deductions"): _deduction_propose,
    ("POST", "/api/medal-rules"): _medal_rule,
    ("POST", "/api/communities/{community_id}/medals/sweep"): _medal_sweep,
    ("POST", "/api/medals/{medal_id}/revoke"): _medal_revoke,
    ("POST", "/api/selections"): _selection_open,
    ("POST", "/api/selections/{selection_id}/decision"): _selection_propose,
    ("POST", "/api/selections/{selection_id}/final"): _selection_final,
})


def test_every_mutating_operation_is_covered(app):
    operations = _operations(app)
    missing = operations - set(MANAGER_ACTS) - set(PERSONAL)
    assert not missing, f"mutating operations without an audit case or a reason in PERSONAL: {sorted(missing)}"
    stale = (set(MANAGER_ACTS) | set(PERSONAL)) - operations
    assert not stale, f"table rows for operations the app no longer has: {sorted(stale)}"
    assert not set(MANAGER_ACTS) & set(PERSONAL)


@pytest.mark.parametrize("operation", sorted(MANAGER_ACTS), ids=lambda op: f"{op[0]} {op[1]}")
async def test_a_manager_act_writes_exactly_one_audit_row(operation, client, world, pool):
    community = await world.community()
    volunteer = await world.member(community, "刘芳")
    ctx = Ctx(client, world, pool, community, volunteer)
    actor, request, act, community_id = await MANAGER_ACTS[operation](ctx)
    method, url, body, *extra = request
    last = await pool.fetchval("select coalesce(max(id), 0) from audit_log")
    r = await client.request(method, url, headers=actor.headers, **({"json": body} if body is not None else {}),
                             **(extra[0] if extra else {}))
    assert r.status_code < 300, r.text
    rows = await pool.fetch("select actor_id, act, target_type, target_id, community_id from audit_log "
                            "where id > $1", last)
    assert len(rows) == 1, [dict(row) for row in rows]
    [row] = rows
    assert (row["actor_id"], row["act"], row["community_id"]) == (actor.id, act, community_id)
    assert row["target_type"] and row["target_id"] is not None

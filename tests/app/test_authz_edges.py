"""The authorisation matrix's two edge rows of issue 16, for every operation that pays someone or
reads or acts on a person:

- "manager acting on a person outside their communities": manager A on a resident of community B
  (who is a stranger to A): refused, and as an unknown id where the person is addressed by id;
- "actor is the beneficiary": manager A acting so that manager A is paid: refused.

Each row also asserts that nothing changed: balances, memberships (community, team, household),
attendances, transfers and the audit log. (Kept apart from tests/app/test_authz_matrix.py, which
lists every operation by role and side.)
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from domain.core import clock, codes
from domain.people import orgs
from tests.conftest import T0, Community, Person, World

pytestmark = pytest.mark.usefixtures("at_t0")  # seeded at T0: every test runs with the clock there

@dataclass
class Env:
    client: httpx.AsyncClient
    world: World
    a: Community           # its manager (also a resident and a courier of A) is the actor of every row
    deputy: Person         # a second manager of A
    resident_a: Person
    b: Community
    stranger: Person       # a resident of B only
    ids: dict

    @property
    def m(self) -> dict:
        return self.a.manager.headers


async def _ok(client, person, method, path, **kw) -> dict:
    r = await client.request(method, path, headers=person.headers, **kw)
    assert r.status_code in (200, 201, 202), (method, path, r.status_code, r.text)
    return r.json()


@pytest.fixture(scope="module")
async def env(app) -> Env:
    clock.freeze(T0)  # seeded at T0; every test here runs there (at_t0)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.61", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://linli.test") as client:
        world = World(app.state.pool)
        a = await world.community("边界甲")
        b = await world.community("边界乙", street_id=a.street_id)
        admin = await world.actor(await world.admin())
        deputy = await world.person("甲副主任")
        async with world.pool.acquire() as conn:
            await orgs.appoint_manager(conn, admin, a.id, deputy.id)
            await orgs.add_member(conn, admin, a.id, a.manager.id, "volunteer")   # the manager lives here too
            await orgs.add_member(conn, admin, a.grid_id, a.manager.id, "courier")
        resident_a = await world.member(a, "甲居民")
        stranger = await world.member(b, "乙居民")
        for person, community in ((a.manager, a), (resident_a, a), (stranger, b)):
            await world.fund(person, community, "points", 1000)
            await world.fund(person, community, "minutes", 1000)
        e = Env(client, world, a, deputy, resident_a, b, stranger, {})
        now = T0
        for side, who in (("a", a), ("b", b)):
            act = await _ok(client, who.manager, "POST", "/api/activities", json={
                "community_id": who.id, "title": "边界活动", "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(), "points": 10_000})
            await _ok(client, who.manager, "POST", f"/api/activities/{act['id']}/publish")
            e.ids[f"activity_{side}"] = act["id"]
            e.ids[f"team_{side}"] = (await _ok(client, who.manager, "POST", "/api/teams",
                                               json={"name": "边界队", "community_id": who.id}))["id"]
            e.ids[f"household_{side}"] = (await _ok(client, who.manager, "POST", "/api/households",
                                                    json={"community_id": who.id, "name": "边界家"}))["id"]
            e.ids[f"reward_{side}"] = (await _ok(client, who.manager, "POST", "/api/rewards", json={
                "community_id": who.id, "name": "边界米", "cost_points": 1, "stock": 100}))["id"]
        async with world.pool.acquire() as conn:
            e.ids["card_self"] = (await codes.member_card(conn, a.manager.id)).code
            e.ids["card_stranger"] = (await codes.member_card(conn, stranger.id)).code
        # The manager's own report, redemption, pool service, and adjustments made for them by the deputy.
        e.ids["report_self"] = (await _ok(client, a.manager, "POST", "/api/reports", files={
            "kind": (None, "civility"), "text": (None, "劝导乱停车")}))["id"]
        e.ids["redemption_self"] = (await _ok(client, a.manager, "POST", "/api/redemptions",
                                              json={"reward_id": e.ids["reward_a"], "quantity": 1}))["id"]
        await _ok(client, deputy, "POST", "/api/timebank/pool/credits",
                  json={"community_id": a.id, "minutes": 600, "reason": "拨付"})
        req = await _ok(client, deputy, "POST", "/api/timebank/requests", json={
            "title": "陪同复诊", "minutes_estimate": 60, "for_user_id": resident_a.id, "use_pool": True,
            "community_id": a.id})
        for step in ("accept", "complete"):
            await _ok(client, a.manager, "POST", f"/api/timebank/requests/{req['id']}/{step}")
        e.ids["service_self"] = req["id"]
        e.ids["adjustment_request_self"] = (await _ok(client, deputy, "POST", "/api/adjustments", json={
            "user_id": a.manager.id, "unit": "points", "amount": 5000, "reason": "表彰"}))["id"]
        e.ids["deduction_self"] = (await _ok(client, deputy, "POST", "/api/adjustments", json={
            "user_id": a.manager.id, "unit": "points", "amount": -50, "reason": "扣回"}))["id"]
        # B's side: a report, an adjustment request and a transfer of B's stranger.
        await world.member(b, "乙骑手", role="courier")
        b_courier = b.members[-1]
        e.ids["report_b"] = (await _ok(client, b_courier, "POST", "/api/reports", files={
            "kind": (None, "civility"), "text": (None, "乙社区劝导")}))["id"]
        b_deputy = await world.person("乙副主任")
        async with world.pool.acquire() as conn:
            await orgs.appoint_manager(conn, admin, b.id, b_deputy.id)
        e.ids["adjustment_request_b"] = (await _ok(client, b_deputy, "POST", "/api/adjustments", json={
            "user_id": stranger.id, "unit": "points", "amount": 5000, "reason": "表彰"}))["id"]
        e.ids["transfer_b"] = (await _ok(client, b.manager, "POST", "/api/adjustments", json={
            "user_id": stranger.id, "unit": "points", "amount": -5, "reason": "扣"}))["id"]
        yield e


async def snapshot(e: Env) -> tuple:
    pool = e.world.pool
    people = [e.a.manager.id, e.resident_a.id, e.stranger.id, e.deputy.id]
    return (
        [tuple(r) for r in await pool.fetch(
            "select user_id, unit, balance, held from accounts where user_id = any($1::bigint[]) order by 1, 2",
            people)],
        [tuple(r) for r in await pool.fetch(
            "select org_id, user_id, role from org_members where user_id = any($1::bigint[]) order by 1, 2", people)],
        await pool.fetchval("select count(*) from team_members where user_id = any($1::bigint[])", people),
        await pool.fetchval("select count(*) from household_members where user_id = any($1::bigint[])", people),
        await pool.fetchval("select count(*) from attendances where user_id = any($1::bigint[])", people),
        await pool.fetchval("select count(*) from transfers"),
        await pool.fetchval("select count(*) from audit_log"),
        await pool.fetchval("select count(*) from invitations"),
    )


Call = Callable[[Env], Awaitable[httpx.Response]]


def call(method: str, path: str, **kw) -> Call:
    """A request by manager A; `{name}` in the path, and JSON or query values written "{name}", are
    filled from env.ids."""
    async def send(e: Env) -> httpx.Response:
        ids = {**e.ids, "stranger": e.stranger.id, "self": e.a.manager.id, "a": e.a.id, "b": e.b.id,
               "grid_a": e.a.grid_id}

        def fill(value):
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
                return ids[value[1:-1]]
            return value

        body = {k: fill(v) for k, v in kw["json"].items()} if "json" in kw else None
        params = {k: fill(v) for k, v in kw["params"].items()} if "params" in kw else None
        return await e.client.request(method, path.format(**ids), headers=e.m, json=body, params=params)
    return send


# (row, operation, call, statuses that count as the refusal)
UNKNOWN = {404}          # a person out of reach answers as an unknown id
REFUSED = {403, 404}     # another community's resource (403), or one that answers 404 to outsiders
SELF = {403}

OUTSIDE = [
    # reads of a person
    ("GET /api/members/{id}", call("GET", "/api/members/{stranger}"), UNKNOWN),
    ("GET /api/users/{id}/statement", call("GET", "/api/users/{stranger}/statement"), UNKNOWN),
    ("GET /api/timebank/certificate", call("GET", "/api/timebank/certificate", params={"user_id": "{stranger}"}), UNKNOWN),
    # acts on a person
    ("POST /api/orgs/{id}/members", call("POST", "/api/orgs/{a}/members",
                                         json={"user_id": "{stranger}", "role": "volunteer"}), UNKNOWN),
    ("POST /api/teams/{id}/members", call("POST", "/api/teams/{team_a}/members", json={"user_id": "{stranger}"}),
     UNKNOWN),
    ("POST /api/households/{id}/members", call("POST", "/api/households/{household_a}/members",
                                               json={"user_id": "{stranger}"}), UNKNOWN),
    ("POST /api/members/{id}/deactivate", call("POST", "/api/members/{stranger}/deactivate",
                                               json={"reason": "搬走"}), UNKNOWN),
    ("POST /api/members/{id}/reactivate", call("POST", "/api/members/{stranger}/reactivate",
                                               json={"reason": "回来"}), UNKNOWN),
    ("POST /api/members/{id}/grid", call("POST", "/api/members/{stranger}/grid", json={"grid_id": "{grid_a}"}),
     {422}),  # a grid move names the grid's community: the person is no courier of it
    ("POST /api/timebank/requests (for_user_id)", call("POST", "/api/timebank/requests", json={
        "title": "代发", "minutes_estimate": 30, "for_user_id": "{stranger}", "community_id": "{a}"}), UNKNOWN),
    # acts that pay a person
    ("POST /api/adjustments", call("POST", "/api/adjustments", json={
        "user_id": "{stranger}", "unit": "points", "amount": -100, "reason": "扣"}), UNKNOWN),
    ("POST /api/adjustments (community_id)", call("POST", "/api/adjustments", json={
        "user_id": "{stranger}", "unit": "points", "amount": 100, "reason": "加", "community_id": "{a}"}), UNKNOWN),
    ("POST /api/adjustment-requests/{id}/approve", call("POST", "/api/adjustment-requests/{adjustment_request_b}/approve"),
     UNKNOWN),
    ("POST /api/transfers/{id}/reverse", call("POST", "/api/transfers/{transfer_b}/reverse", json={"reason": "错"}),
     REFUSED),
    ("POST /api/activities/{id}/attendance/mark", call("POST", "/api/activities/{activity_a}/attendance/mark", json={
        "user_ids": ["{stranger}"], "reason": "补签", "minutes": 60}), None),  # answered: skipped as not_member
    ("POST /api/activities/{id}/station-scans", call("POST", "/api/activities/{activity_a}/station-scans",
                                                     json={"code": "{card_stranger}"}), {403}),  # not_member
    ("POST /api/redemptions/on-the-spot", call("POST", "/api/redemptions/on-the-spot", json={
        "member_code": "{card_stranger}", "reward_id": "{reward_a}", "quantity": 1}), REFUSED | {409, 422}),
    ("POST /api/reports/{id}/verify", call("POST", "/api/reports/{report_b}/verify"), REFUSED),
]

SELF_PAY = [
    ("POST /api/adjustments", call("POST", "/api/adjustments", json={
        "user_id": "{self}", "unit": "points", "amount": 100, "reason": "自己加"}), SELF),
    ("POST /api/adjustments (debit)", call("POST", "/api/adjustments", json={
        "user_id": "{self}", "unit": "points", "amount": -1, "reason": "自己扣"}), SELF),
    ("POST /api/adjustment-requests/{id}/approve", call("POST", "/api/adjustment-requests/{adjustment_request_self}/approve"),
     SELF),
    ("POST /api/transfers/{id}/reverse", call("POST", "/api/transfers/{deduction_self}/reverse", json={"reason": "撤销"}),
     SELF),
    ("POST /api/activities/{id}/attendance/mark", call("POST", "/api/activities/{activity_a}/attendance/mark", json={
        "user_ids": ["{self}"], "reason": "补签", "minutes": 60}), SELF),
    ("POST /api/activities/{id}/station-scans", call("POST", "/api/activities/{activity_a}/station-scans",
                                                     json={"code": "{card_self}"}), SELF),
    ("POST /api/reports/{id}/verify", call("POST", "/api/reports/{report_self}/verify"), SELF),
    ("POST /api/timebank/requests/{id}/confirm", call("POST", "/api/timebank/requests/{service_self}/confirm",
                                                      json={"minutes": 60}), SELF),
    ("POST /api/redemptions/{id}/approve", call("POST", "/api/redemptions/{redemption_self}/approve"), SELF),
    ("POST /api/redemptions/on-the-spot", call("POST", "/api/redemptions/on-the-spot", json={
        "member_code": "{card_self}", "reward_id": "{reward_a}", "quantity": 1}), SELF),
]


@pytest.mark.parametrize("row", OUTSIDE, ids=[r[0] for r in OUTSIDE])
async def test_manager_acting_on_a_person_outside_their_communities(env, row):
    name, send, refused = row
    before = await snapshot(env)
    r = await send(env)
    if refused is None:  # a batch act answers, and skips the stranger
        assert r.status_code == 200 and r.json()["marked"] == [], r.text
        assert [s["reason"] for s in r.json()["skipped"]] == ["not_member"]
        after = await snapshot(env)
        assert after[:-2] == before[:-2]  # its one audit row records the (empty) mark
        return
    assert r.status_code in refused, (name, r.status_code, r.text)
    assert "乙居民" not in r.text and env.stranger.phone not in r.text
    assert await snapshot(env) == before, name


async def test_an_unknown_id_answers_like_a_stranger(env):
    """The 404s above are the answers for an id nobody has: ids cannot be enumerated."""
    for path in ("/api/members/{}", "/api/users/{}/statement"):
        stranger = await env.client.get(path.format(env.stranger.id), headers=env.m)
        nobody = await env.client.get(path.format(10**12), headers=env.m)
        assert (stranger.status_code, stranger.json()) == (nobody.status_code, nobody.json())


@pytest.mark.parametrize("row", SELF_PAY, ids=[r[0] for r in SELF_PAY])
async def test_actor_is_the_beneficiary(env, row):
    name, send, refused = row
    before = await snapshot(env)
    r = await send(env)
    assert r.status_code in refused, (name, r.status_code, r.text)
    assert r.json()["error"] == "forbidden"
    assert await snapshot(env) == before, name


async def test_the_same_acts_by_another_manager_go_through(env):
    """The refusals above are about who acts: the deputy may pay the manager (within the rules). On a
    report and a service of the manager's made here, not the module's: the refusals above, run in any
    order, still find theirs unverified and unconfirmed."""
    client, manager, deputy = env.client, env.a.manager, env.deputy
    report = await _ok(client, manager, "POST", "/api/reports", files={
        "kind": (None, "civility"), "text": (None, "劝导乱扔垃圾")})
    r = await client.post(f"/api/reports/{report['id']}/verify", headers=deputy.headers)
    assert r.status_code == 200, r.text
    service = await _ok(client, deputy, "POST", "/api/timebank/requests", json={
        "title": "陪同买菜", "minutes_estimate": 60, "for_user_id": env.resident_a.id, "use_pool": True,
        "community_id": env.a.id})
    for step in ("accept", "complete"):
        await _ok(client, manager, "POST", f"/api/timebank/requests/{service['id']}/{step}")
    r = await client.post(f"/api/timebank/requests/{service['id']}/confirm", headers=deputy.headers,
                          json={"minutes": 60})
    assert r.status_code == 200, r.text

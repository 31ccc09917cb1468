"""A community's policy lives with the community in the database; the environment gives only defaults
(domain/people/community_policy.py). Each rule reads the community's own value where it decides: a
late scan's acceptance, the fraud review, a rotating code's grace, kiosk pairing, a redemption
request's lapse and a voucher's validity. The clock stands at T0."""

import uuid
from datetime import datetime, timedelta

import pytest

from domain.checkin import fraud, offline
from domain.core import clock
from domain.core.errors import DomainError
from domain.people import community_policy
from tests.checkin.test_activities import new_activity, poster_code
from tests.conftest import T0
from tests.snapshot import snapshot
from tests.supermarket.test_supermarket import ask, new_reward, shop

pytestmark = [pytest.mark.usefixtures("at_t0"), pytest.mark.sql]

WINDOW = {"title": "清洁家园", "starts_at": "2027-03-01T09:00:00+08:00", "ends_at": "2027-03-01T11:00:00+08:00"}


def url(community) -> str:
    return f"/api/communities/{community.id}/policy"


async def put(client, community, **values):
    r = await client.put(url(community), headers=community.manager.headers, json=values)
    assert r.status_code == 200, r.text
    return r.json()


async def draft(client, community, **fields):
    r = await client.post("/api/activities", headers=community.manager.headers,
                          json={"community_id": community.id, **WINDOW, **fields})
    assert r.status_code == 201, r.text
    return r.json()


# ---- the policy itself ----------------------------------------------------------------------

async def test_the_environment_is_the_default_and_the_community_decides(client, world, setenv):
    setenv("LINLI_DAILY_CHECKIN_POINTS_CAP", "120")
    setenv("LINLI_ROTATION_SECONDS", "20")
    setenv("LINLI_OFFLINE_MAX_DELAY_SECONDS", "7200")
    community = await world.community()
    r = await client.get(url(community), headers=community.manager.headers)
    assert r.status_code == 200, r.text
    policy = r.json()
    assert (policy["daily_points_cap"], policy["rotation_seconds"], policy["offline_max_delay_seconds"],
            policy["redemption_voucher_days"], policy["own"]) == (120, 20, 7200, 30, [])
    assert policy["defaults"]["daily_points_cap"] == 120 and policy["limits"]["rotation_seconds"] == [2, 300]
    assert ((a := await draft(client, community))["daily_points_cap"], a["rotation_seconds"]) == (120, 20)

    policy = await put(client, community, daily_points_cap=300, rotation_seconds=45, offline_max_delay_seconds=600)
    assert (policy["daily_points_cap"], policy["offline_max_delay_seconds"]) == (300, 600)
    assert sorted(policy["own"]) == ["daily_points_cap", "offline_max_delay_seconds", "rotation_seconds"]
    assert ((a := await draft(client, community))["daily_points_cap"], a["rotation_seconds"]) == (300, 45)
    # An activity's own value still wins.
    assert (await draft(client, community, daily_points_cap=50))["daily_points_cap"] == 50
    # A value left out stays; null gives it back to the default.
    policy = await put(client, community, daily_points_cap=None)
    assert (policy["daily_points_cap"], policy["rotation_seconds"], policy["offline_max_delay_seconds"]) == (
        120, 45, 600)
    assert sorted(policy["own"]) == ["offline_max_delay_seconds", "rotation_seconds"]


async def test_each_change_is_audited_with_what_it_changed(client, world, pool):
    community = await world.community()
    await put(client, community, fraud_burst_per_device=2)
    await put(client, community, fraud_burst_per_device=None, kiosk_pairing_minutes=5)
    rows = await pool.fetch("select actor_id, target_id, before, after from audit_log where act = 'community_policy'"
                            " and community_id = $1 order by id", community.id)
    assert [(r["actor_id"], r["target_id"], r["before"], r["after"]) for r in rows] == [
        (community.manager.id, community.id, {"fraud_burst_per_device": None}, {"fraud_burst_per_device": 2}),
        (community.manager.id, community.id, {"fraud_burst_per_device": 2, "kiosk_pairing_minutes": None},
         {"fraud_burst_per_device": None, "kiosk_pairing_minutes": 5})]


async def test_only_its_managers_set_it_and_a_refusal_changes_nothing(client, world, pool):
    community, other = await world.community(), await world.community()
    member = await world.member(community)

    async def state():
        return (await snapshot(pool, people=[community.manager.id, other.manager.id, member.id],
                               communities=[community.id]),
                await pool.fetchrow("select * from community_policies where community_id = $1", community.id),
                await pool.fetchval("select count(*) from audit_log where community_id = $1", community.id))
    before = await state()
    assert (await client.get(url(community), headers=other.manager.headers)).status_code == 403
    assert (await client.get(url(community), headers=member.headers)).status_code == 403
    for person in (other.manager, member):
        r = await client.put(url(community), headers=person.headers, json={"daily_points_cap": 999})
        assert r.status_code == 403, r.text
    for field, value in (("daily_points_cap", -1), ("offline_max_delay_seconds", 8 * 86400),
                         ("fraud_burst_per_device", 0), ("kiosk_pairing_minutes", 61),
                         ("redemption_voucher_days", 366), ("rotation_grace_seconds", 301)):
        r = await client.put(url(community), headers=community.manager.headers,
                             json={"redemption_request_days": 3, field: value})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_failed" and r.json()["details"]["field"] == field
    r = await client.put(url(community), headers=community.manager.headers, json={"clock_skew_seconds": 10})
    assert r.status_code in (400, 422) and r.json()["details"]["field"] == "clock_skew_seconds"
    assert await state() == before


# ---- each rule reads the community's value --------------------------------------------------

async def station(client, community, activity_id, person, **extra):
    card = (await client.get("/api/me/card", headers=person.headers)).json()["code"]
    return await client.post(f"/api/activities/{activity_id}/station-scans",
                             json={"code": card, "nonce": uuid.uuid4().hex, **extra},
                             headers=community.manager.headers)


async def test_a_one_hour_offline_window_refuses_a_two_hour_old_scan_the_default_accepts(client, world, pool):
    strict, lenient = await world.community(), await world.community()
    await put(client, strict, offline_max_delay_seconds=3600)
    two_hours_ago = (T0 - timedelta(hours=2)).isoformat()
    for community, answer in ((strict, "late_scan_expired"), (lenient, "checked_in")):
        elder = await world.member(community)
        activity = await new_activity(client, community, starts=T0 - timedelta(hours=3), ends=T0 + timedelta(hours=1))
        r = await station(client, community, activity["id"], elder, scanned_at=two_hours_ago)
        assert (r.json().get("error") or r.json()["action"]) == answer, r.text
    assert r.json()["details"]["late"] is True
    # The same window bounds a resident's own queued scan.
    person = await world.member(strict)
    activity = await new_activity(client, strict, starts=T0 - timedelta(hours=3), ends=T0 + timedelta(hours=1))
    r = await client.post("/api/scans", headers=person.headers, json={
        "code": await poster_code(pool, activity["id"]), "nonce": uuid.uuid4().hex, "scanned_at": two_hours_ago})
    assert r.status_code == 409 and r.json()["error"] == "late_scan_expired"
    assert r.json()["details"]["max_delay_seconds"] == 3600


async def test_a_community_that_allows_one_person_a_phone_flags_the_second(client, world, pool):
    strict, lenient = await world.community(), await world.community()
    await put(client, strict, fraud_burst_per_device=1, fraud_burst_minutes=30)
    flagged = {}
    for community in (strict, lenient):
        activity = await new_activity(client, community)
        poster = await poster_code(pool, activity["id"])
        answers = []
        for _ in range(2):
            person = await world.member(community)
            answers.append((await client.post("/api/scans", headers=person.headers, json={
                "code": poster, "nonce": uuid.uuid4().hex, "device": f"phone-{community.id}"})).json())
        assert [a["action"] for a in answers] == ["checked_in"] * 2
        flagged[community.id] = [a["details"].get("flagged") for a in answers]
    assert flagged == {strict.id: [None, ["device_burst"]], lenient.id: [None, None]}
    details = await pool.fetchval("select details from scan_flags f join activities a on a.id = f.activity_id "
                                  "where a.community_id = $1", strict.id)
    assert (details["limit"], details["minutes"]) == (1, 30)


async def test_a_rotating_code_grace_of_zero_refuses_a_code_the_default_grace_accepts(client, world):
    strict, lenient = await world.community(), await world.community()
    await put(client, strict, rotation_grace_seconds=0)
    codes = {}
    for community in (strict, lenient):
        activity = await new_activity(client, community, rotation_seconds=30)
        r = await client.get(f"/api/activities/{activity['id']}/rotating-code", headers=community.manager.headers)
        codes[community.id] = r.json()
    assert (codes[strict.id]["grace_seconds"], codes[lenient.id]["grace_seconds"]) == (0, 30)
    clock.advance(timedelta(seconds=40))  # expired 10 s ago
    answers = {}
    for community in (strict, lenient):
        person = await world.member(community)
        r = await client.post("/api/scans", headers=person.headers,
                              json={"code": codes[community.id]["code"], "nonce": uuid.uuid4().hex})
        answers[community.id] = r.json().get("error") or r.json()["action"]
    assert answers == {strict.id: "code_expired", lenient.id: "checked_in"}


async def test_a_kiosk_pairing_code_lives_as_long_as_the_community_says(client, world):
    quick, usual = await world.community(), await world.community()
    await put(client, quick, kiosk_pairing_minutes=2)
    pairings = {}
    for community in (quick, usual):
        activity = await new_activity(client, community)
        r = await client.post(f"/api/activities/{activity['id']}/kiosks", headers=community.manager.headers)
        pairings[community.id] = r.json()
    assert [datetime.fromisoformat(pairings[c.id]["expires_at"]) for c in (quick, usual)] == [
        T0 + timedelta(minutes=2), T0 + timedelta(minutes=10)]
    clock.advance(timedelta(minutes=3))
    statuses = [(await client.post("/api/kiosk/pair", json={"code": pairings[c.id]["pairing_code"]})).status_code
                for c in (quick, usual)]
    assert statuses == [404, 200]


async def test_redemption_requests_and_vouchers_last_as_long_as_the_community_says(client, world):
    results = {}
    for days in ((2, 5), None):
        community, volunteer = await shop(world, 200)
        if days:
            await put(client, community, redemption_request_days=days[0], redemption_voucher_days=days[1])
        reward = await new_reward(client, community)
        asked = (await ask(client, volunteer, reward["id"])).json()
        r = await client.post(f"/api/redemptions/{asked['id']}/approve", headers=community.manager.headers)
        assert r.status_code == 200, r.text
        results[days] = (datetime.fromisoformat(asked["expires_at"]), datetime.fromisoformat(r.json()["expires_at"]))
    assert results == {(2, 5): (T0 + timedelta(days=2), T0 + timedelta(days=5)),
                       None: (T0 + timedelta(days=7), T0 + timedelta(days=30))}


async def test_scan_nonces_are_kept_for_their_community_s_window(client, world, pool):
    nonces = {}
    for window in (3 * 86400, None):
        community = await world.community()
        if window:
            await put(client, community, offline_max_delay_seconds=window)
        person = await world.member(community)
        activity = await new_activity(client, community)
        nonces[window] = uuid.uuid4().hex
        r = await client.post("/api/scans", headers=person.headers,
                              json={"code": await poster_code(pool, activity["id"]), "nonce": nonces[window]})
        assert r.json()["action"] == "checked_in"
    await offline.prune_scan_nonces(pool, T0 + timedelta(days=3))  # the default (1 day) + 1 day has passed
    kept = await pool.fetch("select nonce from scan_nonces where nonce = any($1::text[])", list(nonces.values()))
    assert [r["nonce"] for r in kept] == [nonces[3 * 86400]]


# ---- the pure rules take the community's values ---------------------------------------------

def test_the_pure_rules_decide_by_the_values_they_are_given():
    policy = community_policy.defaults()
    strict = community_policy.PolicyValues(**{**{f: getattr(policy, f) for f in community_policy.FIELDS},
                                              "fraud_max_speed_kmh": 20, "fraud_burst_per_address": 3})
    assert offline.scan_time(T0 - timedelta(hours=2), T0, 3 * 3600) == T0 - timedelta(hours=2)
    with pytest.raises(DomainError, match="late_scan_expired"):
        offline.scan_time(T0 - timedelta(hours=2), T0, 3600)
    seen = fraud.Seen(device_people=0, address_people=4, other_activity=1, other_at=T0 - timedelta(hours=1),
                      other_lat=30.0, other_lng=104.0)
    at = {"at": T0, "lat": 30.3, "lng": 104.0, "seen": seen}  # 33 km in an hour
    assert fraud.self_scan_signals(**at, policy=policy) == []
    assert [s[0] for s in fraud.self_scan_signals(**at, policy=strict)] == ["impossible_travel", "address_burst"]

"""Scanning everywhere (issue 21) through the API: late scans from offline queues (the device's time,
both times kept, a nonce credited once even from two tabs at once, capacity and caps decided on
upload), check-out on purpose, rotating-only activities, fraud flags and their review, paired kiosk
screens; and issue 16 finding 5 (geofence without coordinates, automatic check-out)."""

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from domain import checkin
from domain.core import clock
from tests.checkin.test_activities import balances, new_activity, poster_code
from tests.conftest import T0
from tests.snapshot import unchanged

# sql: the result can depend on the PostgreSQL server (CI runs it on both); the clock stands at T0 unless a test moves it
pytestmark = [pytest.mark.usefixtures("at_t0"), pytest.mark.sql]



def iso(t: datetime) -> str:
    return t.isoformat()


async def card_of(client, person) -> str:
    return (await client.get("/api/me/card", headers=person.headers)).json()["code"]


async def station(client, community, activity_id, code, **extra):
    return await client.post(f"/api/activities/{activity_id}/station-scans",
                             json={"code": code, "nonce": uuid.uuid4().hex, **extra},
                             headers=community.manager.headers)


async def scan(client, person, code, **extra):
    return await client.post("/api/scans", json={"code": code, "nonce": uuid.uuid4().hex, **extra},
                             headers=person.headers)


async def attendance_of(pool, activity_id, user_id):
    return await pool.fetchrow("select * from attendances where activity_id = $1 and user_id = $2",
                               activity_id, user_id)


# ---- late (offline) scans -------------------------------------------------------------------

async def test_a_late_station_scan_counts_at_the_device_time_and_keeps_both_times(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    elder = await world.member(c, "周秀英")
    activity = await new_activity(client, c, points=10, points_per_hour=6, starts=T0 - timedelta(hours=1),
                                  ends=T0 + timedelta(hours=2))
    card = await card_of(client, elder)
    scanned_in, scanned_out = T0 - timedelta(minutes=50), T0 - timedelta(minutes=20)
    # The station was offline: both scans arrive now, in order, with the device's times.
    r = await station(client, c, activity["id"], card, scanned_at=iso(scanned_in))
    assert r.status_code == 200 and r.json()["action"] == "checked_in" and r.json()["details"]["late"] is True
    r = await station(client, c, activity["id"], card, scanned_at=iso(scanned_out), intent="check_out")
    assert r.json()["action"] == "checked_out" and r.json()["minutes"] == 30  # 50 − 20 minutes, not "now"
    row = await attendance_of(pool, activity["id"], elder.id)
    assert row["checked_in_at"] == scanned_in and row["in_received_at"] == T0
    assert row["checked_out_at"] == scanned_out and row["out_received_at"] == T0
    assert await balances(client, elder) == {"points": 13, "minutes": 30}  # 10 + 3 for half an hour


async def test_an_empty_nonce_is_bad_input_naming_the_field(client, world, pool):
    """The nonces table takes 1 to 64 characters: an empty one reached its CHECK and answered 409
    "conflict", and a join request carrying one could never be approved (its check-in hit the same
    CHECK)."""
    c = await world.community()
    member, stranger = await world.member(c), await world.person("陈静")
    activity = await new_activity(client, c)
    code = await poster_code(pool, activity["id"])
    for r in (await client.post("/api/scans", json={"code": code, "nonce": ""}, headers=member.headers),
              await station(client, c, activity["id"], await card_of(client, member), nonce=""),
              await client.post("/api/join-requests", json={"scan_code": code, "nonce": ""}, headers=stranger.headers)):
        assert r.status_code == 422, (r.request.url, r.status_code, r.text)
        assert r.json()["details"]["field"] == "nonce"
    assert await pool.fetchval("select count(*) from attendances where activity_id = $1", activity["id"]) == 0


async def test_late_scans_are_bounded_by_the_window_the_delay_and_the_clock_skew(client, world, pool, setenv):
    setenv("LINLI_OFFLINE_MAX_DELAY_SECONDS", "3600")
    setenv("LINLI_OFFLINE_CLOCK_SKEW_SECONDS", "120")
    clock.freeze(T0)
    c = await world.community()
    a, b, d, e = [await world.member(c) for _ in range(4)]
    activity = await new_activity(client, c, starts=T0 - timedelta(minutes=30), ends=T0 + timedelta(hours=1))
    # before the window opened: refused with the window's reason
    r = await station(client, c, activity["id"], await card_of(client, a), scanned_at=iso(T0 - timedelta(minutes=40)))
    assert r.status_code == 409 and r.json()["error"] == "outside_window"
    # older than the bounded delay
    r = await station(client, c, activity["id"], await card_of(client, b), scanned_at=iso(T0 - timedelta(hours=2)))
    assert r.status_code == 409 and r.json()["error"] == "late_scan_expired"
    # a device clock far ahead of the server
    r = await station(client, c, activity["id"], await card_of(client, d), scanned_at=iso(T0 + timedelta(minutes=5)))
    assert r.status_code == 422 and r.json()["details"]["field"] == "scanned_at"
    # a little ahead (within the skew) counts as now
    r = await station(client, c, activity["id"], await card_of(client, e), scanned_at=iso(T0 + timedelta(seconds=90)))
    assert r.json()["action"] == "checked_in"
    assert (await attendance_of(pool, activity["id"], e.id))["checked_in_at"] == T0
    reasons = await pool.fetch("select reason from failed_scans where activity_id = $1 order by id", activity["id"])
    assert [r["reason"] for r in reasons] == ["outside_window", "late_scan_expired", "validation_failed"]


async def test_a_late_rotating_code_scan_needs_the_code_valid_when_scanned(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    phone, other = await world.member(c), await world.member(c)
    activity = await new_activity(client, c, rotation_seconds=30, starts=T0 - timedelta(minutes=5))
    code = (await client.get(f"/api/activities/{activity['id']}/rotating-code", headers=c.manager.headers)).json()
    scanned = T0 + timedelta(seconds=10)
    clock.advance(timedelta(minutes=20))  # the phone was offline; the code expired long ago
    r = await scan(client, phone, code["code"], scanned_at=iso(scanned))
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text
    assert (await attendance_of(pool, activity["id"], phone.id))["checked_in_at"] == scanned
    # issue 30: recorded, but its points wait for review (uploaded late, with a code long expired)
    assert r.json()["points"] == 0 and r.json()["details"]["held"] == ["delayed", "rotating_expired"]
    # the same code claimed at a time it was no longer valid (30 s + 30 s grace): refused
    r = await scan(client, other, code["code"], scanned_at=iso(T0 + timedelta(minutes=5)))
    assert r.status_code == 410 and r.json()["error"] == "code_expired"


async def test_the_same_queue_uploaded_from_two_tabs_at_once_credits_once(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    people = [await world.member(c, f"居民{i}") for i in range(3)]
    activity = await new_activity(client, c, points=10, starts=T0 - timedelta(hours=1))
    queue = [{"code": await card_of(client, p), "nonce": uuid.uuid4().hex,
              "scanned_at": iso(T0 - timedelta(minutes=10 - i))} for i, p in enumerate(people)]
    url = f"/api/activities/{activity['id']}/station-scans"

    async def upload():
        return [await client.post(url, json=item, headers=c.manager.headers) for item in queue]

    first, second = await asyncio.gather(upload(), upload())
    actions = sorted(r.json()["action"] for r in first + second)
    assert actions == ["already_checked_in"] * 3 + ["checked_in"] * 3
    for p in people:
        assert await balances(client, p) == {"points": 10, "minutes": 0}
    # and many more copies of one scan at the same moment
    results = await asyncio.gather(*[client.post(url, json=queue[0], headers=c.manager.headers) for _ in range(8)])
    assert {r.json()["action"] for r in results} == {"already_checked_in"}
    assert await pool.fetchval("select count(*) from scan_nonces where activity_id = $1", activity["id"]) == 3
    assert await balances(client, people[0]) == {"points": 10, "minutes": 0}
    assert await world.ledger_problems() == {}


async def test_a_late_check_in_beyond_the_capacity_is_accepted_and_flagged(client, world, pool):
    """Offline, the station could not see the count: the person was let in, so the check-in counts,
    and the manager sees the overflow in the review list. A live scan is still refused."""
    clock.freeze(T0)
    c = await world.community()
    a, b, d = await world.member(c), await world.member(c), await world.member(c)
    activity = await new_activity(client, c, capacity=1, points=10, starts=T0 - timedelta(hours=1))
    assert (await station(client, c, activity["id"], await card_of(client, a))).json()["action"] == "checked_in"
    r = await station(client, c, activity["id"], await card_of(client, d))
    assert r.status_code == 409 and r.json()["error"] == "capacity_full"
    r = await station(client, c, activity["id"], await card_of(client, b), scanned_at=iso(T0 - timedelta(minutes=5)))
    assert r.json()["action"] == "checked_in" and r.json()["details"]["flagged"] == ["late_over_capacity"]
    assert await balances(client, b) == {"points": 10, "minutes": 0}
    flags = (await client.get(f"/api/activities/{activity['id']}/flags", headers=c.manager.headers)).json()
    assert [(f["reason"], f["user_id"], f["late"]) for f in flags["items"]] == [("late_over_capacity", b.id, True)]
    assert "超出" in flags["items"][0]["message"]


async def test_a_late_check_in_keeps_the_daily_cap(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    elder = await world.member(c)
    first = await new_activity(client, c, points=15, daily_points_cap=20, starts=T0 - timedelta(hours=2))
    second = await new_activity(client, c, points=15, daily_points_cap=20, starts=T0 - timedelta(hours=2))
    card = await card_of(client, elder)
    assert (await station(client, c, first["id"], card)).json()["points"] == 15
    r = await station(client, c, second["id"], card, scanned_at=iso(T0 - timedelta(minutes=30)))
    assert r.json()["action"] == "checked_in" and r.json()["points"] == 5 and r.json()["details"]["capped"] is True
    assert await balances(client, elder) == {"points": 20, "minutes": 0}


# ---- check-out on purpose -------------------------------------------------------------------

async def test_a_second_scan_asks_before_checking_out(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c)
    activity = await new_activity(client, c, points=0, points_per_hour=6)
    code = await poster_code(pool, activity["id"])
    assert (await scan(client, volunteer, code)).json()["action"] == "checked_in"
    clock.advance(timedelta(seconds=90))
    assert (await scan(client, volunteer, code)).json()["action"] == "already_checked_in"  # "to make sure"
    clock.advance(timedelta(minutes=8, seconds=30))
    r = await scan(client, volunteer, code)
    assert r.json()["action"] == "confirm_check_out" and r.json()["details"]["served_minutes"] == 10
    assert (await attendance_of(pool, activity["id"], volunteer.id))["state"] == "inside"
    assert await balances(client, volunteer) == {"points": 0, "minutes": 0}
    clock.advance(timedelta(minutes=20))
    r = await scan(client, volunteer, code, intent="check_out")
    assert r.json()["action"] == "checked_out" and r.json()["minutes"] == 30 and r.json()["points"] == 3
    assert await balances(client, volunteer) == {"points": 3, "minutes": 30}
    r = await scan(client, volunteer, code, intent="check_out")
    assert r.json()["action"] == "already_checked_out"
    assert await balances(client, volunteer) == {"points": 3, "minutes": 30}


async def test_one_step_check_out_for_station_and_kiosk_when_the_manager_chooses(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    elder, phone = await world.member(c), await world.member(c)
    activity = await new_activity(client, c, points=0, one_step_checkout=True)
    assert activity["one_step_checkout"] is True
    card = await card_of(client, elder)
    await station(client, c, activity["id"], card)
    rotating = lambda: client.get(f"/api/activities/{activity['id']}/rotating-code",  # noqa: E731
                                  headers=c.manager.headers)
    await scan(client, phone, (await rotating()).json()["code"])
    clock.advance(timedelta(minutes=1))
    assert (await station(client, c, activity["id"], card)).json()["action"] == "already_checked_in"
    clock.advance(timedelta(minutes=24))
    r = await station(client, c, activity["id"], card)
    assert r.json()["action"] == "checked_out" and r.json()["minutes"] == 25
    r = await scan(client, phone, (await rotating()).json()["code"])
    assert r.json()["action"] == "checked_out" and r.json()["minutes"] == 25
    # the printed poster still asks, even here
    other = await world.member(c)
    poster = await poster_code(pool, activity["id"])
    await scan(client, other, poster)
    clock.advance(timedelta(minutes=10))
    assert (await scan(client, other, poster)).json()["action"] == "confirm_check_out"


# ---- fraud signals --------------------------------------------------------------------------

async def test_a_rotating_only_activity_refuses_poster_codes(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c)
    activity = await new_activity(client, c, rotating_only=True)
    poster = await poster_code(pool, activity["id"])
    async with unchanged(pool, people=[volunteer.id], communities=[c.id]):  # no attendance, no credit
        r = await scan(client, volunteer, poster)
        assert r.status_code == 409 and r.json()["error"] == "poster_not_accepted"
    assert "大屏" in r.json()["message"]
    code = (await client.get(f"/api/activities/{activity['id']}/rotating-code", headers=c.manager.headers)).json()
    assert (await scan(client, volunteer, code["code"])).json()["action"] == "checked_in"
    failed = (await client.get(f"/api/activities/{activity['id']}/failed-scans", headers=c.manager.headers)).json()
    assert [f["reason"] for f in failed["items"]] == ["poster_not_accepted"]


async def test_impossible_travel_and_device_bursts_are_flagged_not_blocked(client, world, pool, setenv):
    setenv("LINLI_FRAUD_BURST_PER_DEVICE", "2")
    clock.freeze(T0)
    c = await world.community()
    traveller = await world.member(c, "王磊")
    here = await new_activity(client, c, lat=30.0, lng=104.0, radius_m=500)
    there = await new_activity(client, c, lat=31.0, lng=104.0, radius_m=500)  # 111 km north
    r = await scan(client, traveller, await poster_code(pool, here["id"]), lat=30.0, lng=104.0)
    assert r.json()["action"] == "checked_in" and "flagged" not in r.json()["details"]
    clock.advance(timedelta(minutes=20))  # 111 km in 20 minutes: 333 km/h
    r = await scan(client, traveller, await poster_code(pool, there["id"]), lat=31.0, lng=104.0)
    assert r.json()["action"] == "checked_in" and r.json()["details"]["flagged"] == ["impossible_travel"]

    people = [await world.member(c, f"同机{i}") for i in range(3)]
    poster = await poster_code(pool, here["id"])
    answers = [await scan(client, p, poster, lat=30.0, lng=104.0, device="phone-1") for p in people]
    assert [a.json()["action"] for a in answers] == ["checked_in"] * 3
    assert [a.json()["details"].get("flagged") for a in answers] == [None, None, ["device_burst"]]
    flags = (await client.get(f"/api/activities/{here['id']}/flags", headers=c.manager.headers)).json()
    assert [f["reason"] for f in flags["items"]] == ["device_burst"] and flags["open"] == 1


async def test_managers_annul_or_dismiss_from_the_review_list_audited(client, world, pool, setenv):
    setenv("LINLI_FRAUD_BURST_PER_DEVICE", "1")
    clock.freeze(T0)
    c = await world.community()
    a, b, d = await world.member(c), await world.member(c), await world.member(c)
    activity = await new_activity(client, c, points=10)
    poster = await poster_code(pool, activity["id"])
    for p in (a, b, d):
        await scan(client, p, poster, device="one-phone")
    flags = (await client.get(f"/api/activities/{activity['id']}/flags", headers=c.manager.headers)).json()["items"]
    assert sorted(f["user_id"] for f in flags) == [b.id, d.id]
    by_user = {f["user_id"]: f for f in flags}
    outsider = await world.community("别处")
    r = await client.post(f"/api/scan-flags/{by_user[b.id]['id']}/resolve", json={"action": "annul", "reason": "代签"},
                          headers=outsider.manager.headers)
    assert r.status_code == 403
    r = await client.post(f"/api/scan-flags/{by_user[b.id]['id']}/resolve", json={"action": "annul", "reason": "代签"},
                          headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["resolution"] == "annulled" and r.json()["attendance_state"] == "annulled"
    assert await balances(client, b) == {"points": 0, "minutes": 0}
    r = await client.post(f"/api/scan-flags/{by_user[d.id]['id']}/resolve",
                          json={"action": "dismiss", "reason": "一家人共用手机"}, headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["resolution"] == "dismissed"
    assert await balances(client, d) == {"points": 10, "minutes": 0}
    again = await client.post(f"/api/scan-flags/{by_user[d.id]['id']}/resolve",
                              json={"action": "dismiss", "reason": "x"}, headers=c.manager.headers)
    assert again.status_code == 409
    acts = await pool.fetch("select act, target_id, reason from audit_log where actor_id = $1 and act in "
                            "('checkin_annul', 'scan_flag_dismiss') order by id", c.manager.id)
    assert [(r["act"], r["target_id"], r["reason"]) for r in acts] == [
        ("checkin_annul", b.id, "代签"), ("scan_flag_dismiss", d.id, "一家人共用手机")]
    listed = (await client.get(f"/api/activities/{activity['id']}/flags?open_only=true",
                               headers=c.manager.headers)).json()
    assert listed["items"] == [] and listed["open"] == 0


# ---- kiosk pairing --------------------------------------------------------------------------

async def test_a_paired_kiosk_sees_only_its_code_and_count_until_revoked(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c)
    activity = await new_activity(client, c)
    r = await client.post(f"/api/activities/{activity['id']}/kiosks", headers=volunteer.headers)
    assert r.status_code == 403
    r = await client.post(f"/api/activities/{activity['id']}/kiosks", headers=c.manager.headers)
    assert r.status_code == 201, r.text
    pairing = r.json()
    assert len(pairing["pairing_code"]) == 8 and pairing["pairing_code"].isdigit()

    r = await client.post("/api/kiosk/pair", json={"code": "00000000" if pairing["pairing_code"] != "00000000"
                                                   else "11111111"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    paired = (await client.post("/api/kiosk/pair", json={"code": pairing["pairing_code"]})).json()
    assert paired["activity_id"] == activity["id"]
    again = await client.post("/api/kiosk/pair", json={"code": pairing["pairing_code"]})
    assert again.status_code == 404  # one time only
    screen = {"X-Kiosk-Token": paired["token"]}
    shown = (await client.get("/api/kiosk/code", headers=screen)).json()
    assert shown["activity_id"] == activity["id"] and shown["inside"] == 0
    assert (await scan(client, volunteer, shown["code"])).json()["action"] == "checked_in"
    assert (await client.get("/api/kiosk/code", headers=screen)).json()["inside"] == 1
    # the token is not a session: nothing else opens with it
    for path in (f"/api/activities/{activity['id']}/rotating-code", f"/api/activities/{activity['id']}/attendance",
                 "/api/me"):
        assert (await client.get(path, headers=screen)).status_code == 401
        assert (await client.get(path, headers={"Authorization": f"Bearer {paired['token']}"})).status_code == 401

    kiosks = (await client.get(f"/api/activities/{activity['id']}/kiosks", headers=c.manager.headers)).json()
    assert [k["state"] for k in kiosks["items"]] == ["paired"]
    r = await client.post(f"/api/kiosks/{pairing['id']}/revoke", headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert (await client.get("/api/kiosk/code", headers=screen)).status_code == 401
    assert [r["act"] for r in await pool.fetch(
        "select act from audit_log where actor_id = $1 and act like 'kiosk%' order by id", c.manager.id)] == [
        "kiosk_pair", "kiosk_revoke"]


async def test_only_a_published_activity_pairs_screens(client, world):
    clock.freeze(T0)
    c = await world.community()
    draft = await new_activity(client, c, publish=False)
    r = await client.post(f"/api/activities/{draft['id']}/kiosks", headers=c.manager.headers)
    assert r.status_code == 409 and r.json()["details"]["state"] == "draft"
    assert (await client.delete(f"/api/activities/{draft['id']}", headers=c.manager.headers)).status_code == 204


async def test_a_pairing_code_expires(client, world, setenv):
    setenv("LINLI_KIOSK_PAIRING_MINUTES", "10")
    clock.freeze(T0)
    c = await world.community()
    activity = await new_activity(client, c)
    pairing = (await client.post(f"/api/activities/{activity['id']}/kiosks", headers=c.manager.headers)).json()
    clock.advance(timedelta(minutes=11))
    assert (await client.post("/api/kiosk/pair", json={"code": pairing["pairing_code"]})).status_code == 404


# ---- issue 16, finding 5 --------------------------------------------------------------------

async def test_finding_5_a_geofenced_activity_requires_a_location(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer, elder = await world.member(c), await world.member(c)
    activity = await new_activity(client, c, lat=30.0, lng=104.0, radius_m=300)
    poster = await poster_code(pool, activity["id"])
    async with unchanged(pool, people=[volunteer.id], communities=[c.id]):  # no attendance, no credit
        r = await scan(client, volunteer, poster)  # no coordinates: used to check in
        assert r.status_code == 422 and r.json()["error"] == "location_required"
        assert "定位" in r.json()["message"]
        r = await scan(client, volunteer, poster, lat=30.1, lng=104.0)
        assert r.status_code == 409 and r.json()["error"] == "too_far"
    r = await scan(client, volunteer, poster, lat=30.0005, lng=104.0)
    assert r.json()["action"] == "checked_in"
    # the manager's station vouches for presence: no location needed
    assert (await station(client, c, activity["id"], await card_of(client, elder))).json()["action"] == "checked_in"
    failed = (await client.get(f"/api/activities/{activity['id']}/failed-scans", headers=c.manager.headers)).json()
    assert [f["reason"] for f in failed["items"]] == ["too_far", "location_required"]


async def test_finding_5_automatic_check_out_credits_to_the_last_proof_of_presence(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    left, stayed = await world.member(c, "早走"), await world.member(c, "留下")
    activity = await new_activity(client, c, points=0, points_per_hour=6, starts=T0, ends=T0 + timedelta(hours=3))
    poster = await poster_code(pool, activity["id"])
    for p in (left, stayed):
        await scan(client, p, poster)
    clock.advance(timedelta(minutes=40))  # the one who stays scans again, and cancels the check-out
    assert (await scan(client, stayed, poster)).json()["action"] == "confirm_check_out"
    clock.advance(timedelta(hours=3))
    assert await checkin.check_out_at_window_end(pool, clock.now()) >= 2  # (other tests' too)
    assert await balances(client, left) == {"points": 0, "minutes": 0}    # not 180 minutes
    assert await balances(client, stayed) == {"points": 4, "minutes": 40}  # up to the last scan
    row = await attendance_of(pool, activity["id"], stayed.id)
    assert row["auto_checkout"] and row["checked_out_at"] == T0 + timedelta(minutes=40)

    flags = (await client.get(f"/api/activities/{activity['id']}/flags", headers=c.manager.headers)).json()["items"]
    assert sorted((f["user_id"], f["reason"], f["details"]["credited_minutes"], f["details"]["window_minutes"])
                  for f in flags) == sorted([(left.id, "auto_checkout", 0, 180), (stayed.id, "auto_checkout", 40, 180)])
    # The manager knows the one who stayed was there to the end: credits the rest, audited.
    flag = next(f for f in flags if f["user_id"] == stayed.id)
    r = await client.post(f"/api/scan-flags/{flag['id']}/resolve", json={"action": "credit", "reason": "在场到结束"},
                          headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["resolution"] == "credited" and r.json()["minutes"] == 180
    assert await balances(client, stayed) == {"points": 18, "minutes": 180}
    r = await client.post(f"/api/scan-flags/{flag['id']}/resolve", json={"action": "credit", "reason": "again"},
                          headers=c.manager.headers)
    assert r.status_code == 409
    assert await balances(client, stayed) == {"points": 18, "minutes": 180}
    assert await pool.fetchval("select count(*) from audit_log where act = 'scan_flag_credit' and target_id = $1",
                               stayed.id) == 1
    assert await world.ledger_problems() == {}


async def test_old_nonces_are_pruned_after_the_longest_accepted_delay(client, world, pool, setenv):
    setenv("LINLI_OFFLINE_MAX_DELAY_SECONDS", "3600")
    from domain.checkin import offline
    clock.freeze(T0)
    c = await world.community()
    elder = await world.member(c)
    activity = await new_activity(client, c, starts=T0 - timedelta(minutes=30))
    await station(client, c, activity["id"], await card_of(client, elder), scanned_at=iso(T0 - timedelta(minutes=5)))
    count = "select count(*) from scan_nonces where activity_id = $1"
    assert await pool.fetchval(count, activity["id"]) == 1
    await offline.prune_scan_nonces(pool, T0 + timedelta(hours=24))  # 1 h + 1 day not yet passed
    assert await pool.fetchval(count, activity["id"]) == 1
    await offline.prune_scan_nonces(pool, T0 + timedelta(hours=25, minutes=1))
    assert await pool.fetchval(count, activity["id"]) == 0


async def test_a_check_out_confirmed_from_two_tabs_at_once_banks_once(client, world, pool):
    clock.freeze(T0)
    c = await world.community()
    volunteer = await world.member(c)
    activity = await new_activity(client, c, points=0, points_per_hour=6)
    code = await poster_code(pool, activity["id"])
    await scan(client, volunteer, code)
    clock.advance(timedelta(minutes=40))
    answers = await asyncio.gather(*[scan(client, volunteer, code, intent="check_out") for _ in range(6)])
    assert sorted(a.json()["action"] for a in answers) == ["already_checked_out"] * 5 + ["checked_out"]
    assert await balances(client, volunteer) == {"points": 4, "minutes": 40}
    assert await world.ledger_problems() == {}


async def test_a_late_check_out_after_the_automatic_one_waits_for_review(client, world, pool):
    """An offline station uploads after the window-end sweep: its check-out scans are not lost, but
    (issue 30, finding 3a) the time they claim is credited only when a manager says so."""
    clock.freeze(T0)
    c = await world.community()
    elder = await world.member(c, "周秀英")
    activity = await new_activity(client, c, points=0, points_per_hour=6, starts=T0, ends=T0 + timedelta(hours=1))
    card = await card_of(client, elder)
    clock.advance(timedelta(minutes=10))
    assert (await station(client, c, activity["id"], card)).json()["action"] == "checked_in"
    clock.advance(timedelta(hours=1))  # the sweep ran before the station was back online
    assert await checkin.check_out_at_window_end(pool, clock.now()) >= 1
    assert await balances(client, elder) == {"points": 0, "minutes": 0}
    body = {"code": card, "nonce": uuid.uuid4().hex, "scanned_at": iso(T0 + timedelta(minutes=55))}
    url = f"/api/activities/{activity['id']}/station-scans"
    r = await client.post(url, json=body, headers=c.manager.headers)
    assert r.json()["action"] == "checked_out" and r.json()["minutes"] == 0, r.text
    assert r.json()["details"]["held"] == ["after_window", "after_auto_checkout"]
    assert await balances(client, elder) == {"points": 0, "minutes": 0}
    again = await client.post(url, json=body, headers=c.manager.headers)  # the same queue, uploaded again
    assert again.json()["action"] == "already_checked_out"
    flags = (await client.get(f"/api/activities/{activity['id']}/flags", headers=c.manager.headers)).json()["items"]
    assert sorted(f["reason"] for f in flags) == ["auto_checkout", "late_scan"]
    late = next(f for f in flags if f["reason"] == "late_scan")
    assert "系统已自动签退之后才上传" in late["message"]
    # the manager credits the late check-out (to its scan time), then the rest of the window, once each
    r = await client.post(f"/api/scan-flags/{late['id']}/resolve", json={"action": "credit", "reason": "签退记录属实"},
                          headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["minutes"] == 45
    assert await balances(client, elder) == {"points": 4, "minutes": 45}
    auto = next(f for f in flags if f["reason"] == "auto_checkout")
    r = await client.post(f"/api/scan-flags/{auto['id']}/resolve", json={"action": "credit", "reason": "在场到结束"},
                          headers=c.manager.headers)
    assert r.status_code == 200 and r.json()["minutes"] == 50
    assert await balances(client, elder) == {"points": 5, "minutes": 50}
    assert await world.ledger_problems() == {}


async def test_a_scan_nonce_is_claimed_once_even_from_two_connections_at_once(client, world, pool):
    """Issue 30 item 8: the nonce claim answering "new" every time survived the suite (the attendance's
    own state hid it). The claim itself: new once, then taken, also when two uploads race."""
    from domain.checkin import offline
    clock.freeze(T0)
    c = await world.community()
    elder = await world.member(c)
    activity = await new_activity(client, c)
    claimed = T0 - timedelta(minutes=3)
    async with pool.acquire() as one, pool.acquire() as two:
        assert await offline.claim_nonce(one, activity["id"], elder.id, "n-1", claimed, T0) is True
        assert await offline.claim_nonce(two, activity["id"], elder.id, "n-1", claimed, T0) is False
        assert await offline.claim_nonce(two, activity["id"], elder.id, "n-2", None, T0) is True
        # two uploads of one scan at the same moment: the second waits for the first, then is told
        tx = one.transaction()
        await tx.start()
        assert await offline.claim_nonce(one, activity["id"], elder.id, "n-3", claimed, T0) is True
        racing = asyncio.ensure_future(offline.claim_nonce(two, activity["id"], elder.id, "n-3", claimed, T0))
        await asyncio.sleep(0)  # let it reach the key the first one holds
        await tx.commit()
        assert await racing is False
    assert await pool.fetchval("select count(*) from scan_nonces where activity_id = $1 and user_id = $2",
                               activity["id"], elder.id) == 3
    # and a scan replayed with its nonce writes and pays nothing again
    card = await card_of(client, elder)
    body = {"code": card, "nonce": "n-4", "scanned_at": iso(T0 - timedelta(minutes=2))}
    url = f"/api/activities/{activity['id']}/station-scans"
    assert (await client.post(url, json=body, headers=c.manager.headers)).json()["action"] == "checked_in"
    assert (await client.post(url, json=body, headers=c.manager.headers)).json()["action"] == "already_checked_in"

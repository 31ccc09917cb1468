"""Codes people type (issue 33, finding 6): every code is shown upper case in groups, where look-alikes
are told apart; typed, 1/l/I and 0/o/O are taken for one another, and every printed code stays valid;
an unknown typed code says "没有这个编号"."""

from domain.core import clock, codes
from tests.checkin.test_scanning import station
from tests.people.test_joining import activity as live_activity


def test_codes_show_upper_case_in_groups_and_fold_look_alikes():
    assert codes.display("2lsfqxa7io3bcdef") == "2LSF QXA7 IO3B CDEF"
    assert codes.fold_lookalikes("21SF") == codes.fold_lookalikes("2lsf") == codes.fold_lookalikes("2isf")
    assert codes.fold_lookalikes("0o") == "oo"


async def test_a_station_takes_a_card_code_typed_with_look_alikes(client, world, pool):
    c = await world.community()
    person = await world.member(c, "王大爷")
    made = await live_activity(client, c)
    printed = "lo2lsfqxa7i3bcde"  # as a card prints it: LO2L SFQX A7I3 BCDE
    await pool.execute("insert into codes (code, kind, target_id, created_at) values ($1, 'member', $2, $3)",
                       printed, person.id, clock.now())
    r = await station(client, c, made["id"], "10-21 SFQX A713 BCDE")  # what a volunteer typed off the card
    assert r.status_code == 200 and r.json()["action"] == "checked_in", r.text
    assert await pool.fetchval("select count(*) from attendances where activity_id = $1 and user_id = $2",
                               made["id"], person.id) == 1
    # The printed code itself still works (now it asks whether to check out).
    r = await station(client, c, made["id"], printed)
    assert r.status_code == 200, r.text


async def test_an_unknown_typed_code_says_there_is_no_such_code(client, world):
    person = await world.person()
    r = await client.post("/api/scans", headers=person.headers, json={"code": "ZZZZ ZZZZ ZZZZ ZZZZ", "nonce": "x1"})
    assert r.status_code == 404 and r.json()["error"] == "code_unknown"
    assert r.json()["message"] == "没有这个编号"

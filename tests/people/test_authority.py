"""Issue 16, the edges of authority: who may pull whom into a community, what a manager sees of a
person, name lookups by phone, and the small holes of finding 10 and the privacy of finding 14.
Each test performs the attack of the issue and asserts the refusal (or the safe outcome)."""

import pytest

from domain.people import privacy
from tests.conftest import new_phone, register


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    yield
    client.cookies.clear()


async def _counts(pool, user_id: int) -> tuple:
    """What an attack on a person could change: their memberships, balances, and the audit log."""
    return (await pool.fetchval("select count(*) from org_members where user_id = $1", user_id),
            await pool.fetchval("select coalesce(sum(balance), 0) from accounts where user_id = $1", user_id),
            await pool.fetchval("select count(*) from audit_log"))


# ---- finding 1: a manager can enrol anyone --------------------------------------------------------

async def test_finding_1_manager_cannot_enrol_a_stranger(client, world, pool):
    home = await world.community("三苏")
    liu = await world.member(home, "刘芳")
    await world.fund(liu, home, "points", 300)
    other = await world.community("诗书")
    m2 = other.manager.headers
    before = await _counts(pool, liu.id)
    r = await client.post(f"/api/orgs/{other.id}/members", headers=m2, json={"user_id": liu.id, "role": "volunteer"})
    assert r.status_code == 404 and r.json()["details"]["field"] == "user_id"
    # ... the same answer as for an id nobody has: ids cannot be enumerated.
    nobody = await client.post(f"/api/orgs/{other.id}/members", headers=m2,
                               json={"user_id": 10**12, "role": "volunteer"})
    assert (nobody.status_code, nobody.json()) == (r.status_code, r.json())
    # Neither her details, nor her statement, nor her points.
    for path in (f"/api/members/{liu.id}", f"/api/users/{liu.id}/statement"):
        seen, missing = await client.get(path, headers=m2), await client.get(path.replace(str(liu.id), "999999999"),
                                                                             headers=m2)
        assert seen.status_code == missing.status_code == 404
        assert seen.json()["error"] == missing.json()["error"] == "not_found"
        assert "刘芳" not in seen.text
    r = await client.post("/api/adjustments", headers=m2,
                          json={"user_id": liu.id, "unit": "points", "amount": -100, "reason": "扣"})
    assert r.status_code == 404
    assert await _counts(pool, liu.id) == before


async def test_finding_1_a_person_without_any_community_is_not_picked_either(client, world, pool):
    c = await world.community("新社区")
    loner = await world.person("独行者")
    r = await client.post(f"/api/orgs/{c.id}/members", headers=c.manager.headers,
                          json={"user_id": loner.id, "role": "volunteer"})
    assert r.status_code == 404
    assert await pool.fetchval("select count(*) from org_members where user_id = $1", loner.id) == 0
    # A member of the manager's own community may be given another role (a courier of its grid).
    v = await world.member(c, "本社区")
    r = await client.post(f"/api/orgs/{c.grid_id}/members", headers=c.manager.headers,
                          json={"user_id": v.id, "role": "courier"})
    assert r.status_code == 201


async def test_finding_1_invitation_by_phone_reveals_no_name_and_waits_for_consent(client, world, pool):
    home = await world.community("三苏")
    liu = await world.member(home, "刘芳")
    other = await world.community("诗书")
    r = await client.post(f"/api/communities/{other.id}/invitations", headers=other.manager.headers,
                          json={"phone": liu.phone, "name": "随便写", "role": "volunteer"})
    assert r.status_code == 201
    assert "刘芳" not in r.text and liu.phone not in r.text
    assert r.json()["pending"] is True and r.json()["member"] is None
    # Not a member until she accepts.
    assert other.id not in [m["community_id"] for m in (await client.get("/api/me", headers=liu.headers)).json()
                            ["memberships"]]
    assert (await client.get(f"/api/members/{liu.id}", headers=other.manager.headers)).status_code == 404
    invitations = (await client.get("/api/me/invitations", headers=liu.headers)).json()["items"]
    assert [(i["community_id"], i["role"]) for i in invitations] == [(other.id, "volunteer")]
    start = await pool.fetchval("select max(id) from audit_log")
    r = await client.post(f"/api/me/invitations/{invitations[0]['id']}/accept", headers=liu.headers)
    assert r.status_code == 200
    rows = await pool.fetch("select act, actor_id, community_id, after from audit_log where id > $1", start)
    assert [(x["act"], x["actor_id"], x["community_id"], x["after"]["joined"]) for x in rows] == \
        [("invitation_answer", liu.id, other.id, True)]
    me = (await client.get("/api/me", headers=liu.headers)).json()
    assert other.id in [m["community_id"] for m in me["memberships"]]
    assert (await client.get(f"/api/members/{liu.id}", headers=other.manager.headers)).status_code == 200
    # Someone else cannot accept it, and a declined invitation enrols nobody.
    chen = await world.member(home, "陈伟")
    r = await client.post(f"/api/communities/{other.id}/invitations", headers=other.manager.headers,
                          json={"phone": chen.phone, "name": "陈", "role": "volunteer"})
    invitation = (await client.get("/api/me/invitations", headers=chen.headers)).json()["items"][0]
    r = await client.post(f"/api/me/invitations/{invitation['id']}/accept", headers=liu.headers)
    assert r.status_code == 404
    r = await client.post(f"/api/me/invitations/{invitation['id']}/decline", headers=chen.headers)
    assert r.status_code == 200
    assert await pool.fetchval("select count(*) from org_members where user_id = $1", chen.id) == 1


async def test_finding_1_every_look_at_a_full_phone_is_audited(client, world, pool):
    c = await world.community("审计社区")
    v = await world.member(c, "王五")
    m = c.manager.headers
    start = await pool.fetchval("select coalesce(max(id), 0) from audit_log")
    d = (await client.get(f"/api/members/{v.id}", headers=m)).json()
    assert d["phone"] == v.phone
    rows = await pool.fetch("select actor_id, community_id, target_type, target_id, after from audit_log "
                            "where id > $1 and act = 'phone_view'", start)
    assert [(r["actor_id"], r["community_id"], r["target_type"], r["target_id"]) for r in rows] == \
        [(c.manager.id, c.id, "user", v.id)]
    start = await pool.fetchval("select max(id) from audit_log")
    listing = (await client.get(f"/api/communities/{c.id}/members", headers=m)).json()
    assert v.phone in [i["phone"] for i in listing["items"]]
    row = await pool.fetchrow("select * from audit_log where id > $1 and act = 'phone_view'", start)
    assert row["target_type"] == "community" and row["target_id"] == c.id and v.id in row["after"]["user_ids"]
    start = await pool.fetchval("select max(id) from audit_log")
    await client.get(f"/api/communities/{c.id}/members.csv", headers=m)
    assert await pool.fetchval("select count(*) from audit_log where id > $1 and act = 'phone_view'", start) == 1
    # Masked numbers are no look at a phone: a member's list writes nothing.
    start = await pool.fetchval("select max(id) from audit_log")
    await client.get(f"/api/communities/{c.id}/members", headers=v.headers)
    await client.get(f"/api/members/{v.id}", headers=v.headers)  # refused: not a manager
    assert await pool.fetchval("select count(*) from audit_log where id > $1", start) == 0


# ---- finding 8: name lookup by phone --------------------------------------------------------------

async def test_finding_8_family_link_by_phone_reveals_nothing(client, world):
    asker = await world.person("好奇者")
    known = await world.person("周秀英")
    r_known = await client.post("/api/family-links", headers=asker.headers, json={"phone": known.phone})
    r_unknown = await client.post("/api/family-links", headers=asker.headers, json={"phone": new_phone()})
    assert r_known.status_code == r_unknown.status_code == 201
    assert r_known.json().keys() == r_unknown.json().keys()
    assert "周秀英" not in r_known.text
    # Asking again answers the same, too (no "already asked" for a known phone only).
    again = await client.post("/api/family-links", headers=asker.headers, json={"phone": known.phone})
    assert again.status_code == 201 and "周秀英" not in again.text
    listing = (await client.get("/api/family-links", headers=asker.headers)).text
    assert "周秀英" not in listing
    # The asked side sees who asks, and once they approve, both see each other.
    incoming = (await client.get("/api/family-links", headers=known.headers)).json()["items"]
    assert incoming[0]["other"]["name"] == "好奇者"
    r = await client.post(f"/api/family-links/{incoming[0]['id']}/approve", headers=known.headers)
    assert r.status_code == 200
    assert "周秀英" in (await client.get("/api/family-links", headers=asker.headers)).text


# ---- finding 10 -----------------------------------------------------------------------------------

async def test_finding_10_team_takes_only_members_of_its_community(client, world, pool):
    a = await world.community("A社区")
    b = await world.community("B社区")
    stranger = await world.member(b, "外人")
    team = (await client.post("/api/teams", headers=a.manager.headers,
                              json={"name": "党员先锋队", "community_id": a.id})).json()
    for manager in (a.manager, await world.admin()):
        r = await client.post(f"/api/teams/{team['id']}/members", headers=manager.headers,
                              json={"user_id": stranger.id})
        assert r.status_code == 404, r.text
    assert await pool.fetchval("select count(*) from team_members where team_id = $1", team["id"]) == 0


async def test_finding_10_team_ranking_counts_only_members(client, world, pool):
    a = await world.community("排名社区")
    b = await world.community("邻社区")
    member = await world.member(a, "队员")
    stranger = await world.member(b, "外人")
    team = (await client.post("/api/teams", headers=a.manager.headers,
                              json={"name": "一队", "community_id": a.id})).json()
    await client.post(f"/api/teams/{team['id']}/members", headers=a.manager.headers, json={"user_id": member.id})
    # A row left from before the rule (inserted directly) must not count either.
    await pool.execute("insert into team_members (team_id, user_id) values ($1, $2)", team["id"], stranger.id)
    await world.fund(member, a, "points", 10)
    await world.fund(stranger, b, "points", 1000)
    from domain.core import clock
    from domain.rankings import rules
    quarter = str(rules.quarter_of(clock.now(), clock.zone()))
    r = await client.get("/api/rankings", headers=a.manager.headers,
                         params={"scope": "team", "org_id": team["id"], "quarter": quarter})
    if r.status_code == 422:  # team rankings are asked per community
        r = await client.get("/api/rankings", headers=a.manager.headers,
                             params={"scope": "community", "org_id": a.id, "by": "team", "quarter": quarter})
    assert r.status_code == 200, r.text
    assert "外人" not in r.text


@pytest.mark.parametrize("password", ["        ", " " * 20, "\t\t\t\t\t\t\t\t", "  a b c d  "])
async def test_finding_10_password_rule_refuses_blank_passwords(client, password):
    r = await register(client, new_phone(), password, "空白")
    assert r.status_code == 422
    body = r.json()
    assert (body["error"], body["details"]["field"]) == ("weak_password", "password")
    assert "8" in body["message"] and "密码" in body["message"]


async def test_finding_10_unauthenticated_card_preview_reveals_no_user_id(client, world, pool):
    from domain.core import codes
    p = await world.person("持卡人")
    async with pool.acquire() as conn:
        card = await codes.member_card(conn, p.id)
    r = await client.get(f"/api/scans/{card.code}")
    assert r.status_code == 200
    assert r.json()["kind"] == "member" and r.json()["target_id"] != p.id
    assert str(p.id) not in r.text.replace(card.code, "")
    mine = await client.get(f"/api/scans/{card.code}", headers=p.headers)
    assert mine.json()["details"]["mine"] is True


@pytest.mark.parametrize("phone", ["１３８００１３８０００", "13800١٣٨٠٠٠", "1380013800０"])
async def test_finding_10_unicode_digits_in_a_phone_are_422(client, phone):
    r = await register(client, phone, "long-enough-1", "数字")  # refused at the SMS step already
    assert r.status_code == 422 and r.json()["details"]["field"] == "phone"


# ---- finding 14: privacy after closing ------------------------------------------------------------

async def test_finding_14_gift_memo_names_no_one_after_closing(client, world, pool):
    c = await world.community("赠与社区")
    giver = await world.member(c, "刘芳")
    receiver = await world.member(c, "陈伟")
    await world.fund(giver, c, "minutes", 100)
    await pool.execute("update users set password_hash = $2 where id = $1", giver.id,
                       __import__("domain.people.auth", fromlist=["hash_password"]).hash_password("close-me-1"))
    await client.post("/api/family-links", headers=giver.headers, json={"phone": receiver.phone})
    link = (await client.get("/api/family-links", headers=receiver.headers)).json()["items"][0]
    await client.post(f"/api/family-links/{link['id']}/approve", headers=receiver.headers)
    gift = (await client.post("/api/gifts", headers=giver.headers, json={"to_user_id": receiver.id, "minutes": 30}))
    assert gift.status_code == 201 and "刘芳" in gift.json()["memo"]
    stored = await pool.fetchval("select memo from transfers where id = $1", gift.json()["transfer_id"])
    assert "刘芳" not in stored and "陈伟" not in stored
    r = await client.post("/api/me/close", headers=giver.headers, json={"password": "close-me-1"})
    assert r.status_code == 204, r.text
    line = (await client.get("/api/me/statement?unit=minutes", headers=receiver.headers)).json()["items"][0]
    assert "刘芳" not in str(line) and privacy.CLOSED_NAME in line["cause"]["label"]


async def test_finding_14_public_posting_shows_a_closed_account_as_closed(client, world, pool):
    from domain.core import clock
    from domain.people import auth
    from domain.rankings import rules
    c = await world.community("公示社区")
    top = await world.member(c, "欧阳娜娜")
    await world.fund(top, c, "points", 500)
    await pool.execute("update users set password_hash = $2 where id = $1", top.id, auth.hash_password("close-me-1"))
    quarter = str(rules.quarter_of(clock.now(), clock.zone()))
    posting = (await client.post("/api/postings", headers=c.manager.headers,
                                 json={"community_id": c.id, "quarter": quarter, "top_n": 3})).json()
    before = (await client.get(f"/api/public/postings/{posting['id']}")).json()
    assert before["items"][0]["name"] != privacy.CLOSED_NAME
    assert (await client.post("/api/me/close", headers=top.headers, json={"password": "close-me-1"})).status_code == 204
    after = (await client.get(f"/api/public/postings/{posting['id']}")).json()
    assert after["items"][0]["name"] == privacy.CLOSED_NAME and after["items"][0]["closed"] is True


async def test_a_manager_oversees_the_communities_below_their_street_or_district_only(world, pool):
    """Actor.oversees (read-only figures): a street's manager the street's communities, a district's
    the communities of its streets, a community's manager none; another street's never; manages is
    the communities managed, whatever else is managed."""
    east = await world.community("东社区")
    west = await world.community("西社区", street_id=east.street_id)
    elsewhere = await world.community("北社区")  # another street of another district
    admin = await world.actor(await world.admin())
    street_boss, district_boss = await world.person("街道主任"), await world.person("区主任")
    async with pool.acquire() as conn:
        from domain.people import orgs
        await orgs.appoint_manager(conn, admin, east.street_id, street_boss.id)
        await orgs.appoint_manager(conn, admin, east.district_id, district_boss.id)
        await orgs.appoint_manager(conn, admin, elsewhere.id, district_boss.id)
        street, district, community = [await orgs.load_actor(conn, p.id)
                                       for p in (street_boss, district_boss, east.manager)]
    assert street.oversees == {east.id, west.id} and street.manages == frozenset()
    assert district.oversees == {east.id, west.id} and district.manages == {elsewhere.id}
    assert community.oversees == frozenset() and community.manages == {east.id}

"""Members of a community for its managers, invitations by phone, grids, (de)activation, people
search, the org tree, org rename/move and the console summary (issue 12)."""

import csv
import io

import pytest

from domain.people import auth
from tests.conftest import appoint, new_phone, register
from tests.snapshot import unchanged


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    """Registering and logging in through the shared client leave cookies; later tests expect none."""
    yield
    client.cookies.clear()


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


async def test_phones_are_full_for_own_manager_and_masked_for_other_volunteers(client, world):
    c = await world.community("掩码社区")
    v1 = await world.member(c, "王一")
    v2 = await world.member(c, "王二")
    courier = await world.member(c, "骑手", role="courier")
    path = f"/api/communities/{c.id}/members"

    by_manager = {m["id"]: m for m in (await client.get(path, headers=c.manager.headers)).json()["items"]}
    assert set(by_manager) == {v1.id, v2.id, courier.id}
    assert by_manager[v2.id]["phone"] == v2.phone and by_manager[v2.id]["phone_masked"] is False
    assert by_manager[courier.id]["roles"] == ["courier"] and by_manager[courier.id]["grid_id"] == c.grid_id
    assert by_manager[v1.id]["points"] == 0 and by_manager[v1.id]["active"] is True

    by_volunteer = {m["id"]: m for m in (await client.get(path, headers=v1.headers)).json()["items"]}
    assert by_volunteer[v2.id]["phone"] == masked(v2.phone) and by_volunteer[v2.id]["phone_masked"] is True
    assert by_volunteer[v1.id]["phone"] == v1.phone  # their own number
    # Other members see only what they need: no balances, states or grids.
    assert by_volunteer[v2.id]["points"] is None and by_volunteer[v2.id]["active"] is None
    assert v2.phone not in (await client.get(path, headers=v1.headers)).text
    # ... and cannot find a member by phone number.
    r = await client.get(f"{path}?q={v2.phone[-6:]}", headers=v1.headers)
    assert r.json()["items"] == []
    r = await client.get(f"{path}?q={v2.phone[-6:]}", headers=c.manager.headers)
    assert [m["id"] for m in r.json()["items"]] == [v2.id]

    other = await world.community("别的社区")
    assert (await client.get(path, headers=other.manager.headers)).status_code == 403
    assert (await client.get(path, headers=(await world.person()).headers)).status_code == 403
    # A platform admin who does not manage the community sees masked numbers.
    by_admin = {m["id"]: m for m in (await client.get(path, headers=(await world.admin()).headers)).json()["items"]}
    assert by_admin[v2.id]["phone"] == masked(v2.phone) and by_admin[v2.id]["points"] == 0


async def test_pages_of_members_list_everyone_once_across_the_community_and_its_grids(client, world, pool):
    """The unfiltered page cuts each org's members to the page's size before it merges them: pages of
    two, walked by cursor, still give every member once and in order, whether they are in the
    community, in its grid (a courier) or in both."""
    c = await world.community("翻页社区")
    people = [await world.member(c, f"成员{i}", role="courier" if i % 3 == 0 else "volunteer") for i in range(7)]
    both = people[1]
    admin = await world.actor(await world.admin())
    async with pool.acquire() as conn:
        from domain.people import orgs
        await orgs.add_member(conn, admin, c.grid_id, both.id, "courier")
    seen, cursor = [], None
    for _ in range(10):
        r = await client.get(f"/api/communities/{c.id}/members?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                             headers=c.manager.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [m["id"] for m in page["items"]]
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(p.id for p in people)
    assert next(m for m in (await client.get(f"/api/communities/{c.id}/members?limit=50",
                                             headers=c.manager.headers)).json()["items"]
                if m["id"] == both.id)["roles"] == ["courier", "volunteer"]


async def test_members_csv_follows_the_same_rule(client, world):
    c = await world.community("表格社区")
    v1 = await world.member(c, "=SUM(1)")
    v2 = await world.member(c, "李四")
    path = f"/api/communities/{c.id}/members.csv"
    r = await client.get(path, headers=c.manager.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["编号", "姓名", "手机", "角色", "网格", "状态", "可用积分", "时间（分钟）", "加入时间"]
    by_id = {int(row[0]): row for row in rows[1:]}
    assert (by_id[v2.id][3], by_id[v2.id][5]) == ("志愿者", "正常")  # words, not field values (issue 22)
    assert by_id[v2.id][2] == v2.phone and by_id[v1.id][1] == "'=SUM(1)"  # no formula injection
    r = await client.get(path, headers=v1.headers)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows[0]) == 4
    assert {int(row[0]): row[2] for row in rows[1:]}[v2.id] == masked(v2.phone)
    assert v2.phone not in r.text


async def test_invite_a_new_phone_as_courier_who_then_claims_the_account(client, world, pool):
    """Invite a courier before they register: the invitation waits; they sign up with the number
    (claiming the password-less account made for it) and accept it like anyone invited."""
    c = await world.community("邀请社区")
    phone = new_phone()
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                          json={"phone": phone, "name": "吴磊", "role": "courier"})
    assert r.status_code == 201, r.text
    assert r.json() == {"member": None, "already_member": False, "pending": True}
    # Nobody can log in to an invited account before it is claimed, and it is nobody's member yet.
    r = await client.post("/api/auth/login", json={"phone": phone, "password": "anything-at-all"})
    assert r.status_code == 401
    user_id = await pool.fetchval("select id from users where phone = $1", phone)
    assert await pool.fetchval("select count(*) from org_members where user_id = $1", user_id) == 0

    r = await register(client, phone, "courier-pass-1", "吴磊磊")
    assert r.status_code == 201
    assert r.json()["user_id"] == user_id
    courier = {"Authorization": f"Bearer {r.json()['token']}"}
    invitations = (await client.get("/api/me/invitations", headers=courier)).json()["items"]
    assert [(i["community_id"], i["org_id"], i["role"]) for i in invitations] == [(c.id, c.grid_id, "courier")]
    # Told in the app: the message waited in the inbox of the account made for the phone.
    assert await pool.fetchval("select count(*) from notifications where user_id = $1 and kind = 'role_invited'",
                               user_id) == 1
    r = await client.post(f"/api/me/invitations/{invitations[0]['id']}/accept", headers=courier)
    assert r.status_code == 200
    me = (await client.get("/api/me", headers=courier)).json()
    assert me["name"] == "吴磊磊" and me["roles"] == ["courier"]
    # Claimed once: the phone is now simply taken.
    r = await register(client, phone, "other-pass-1", "冒名")
    assert r.status_code == 409
    r = await client.post("/api/auth/login", json={"phone": phone, "password": "courier-pass-1"})
    assert r.status_code == 200
    listed = (await client.get(f"/api/communities/{c.id}/members", headers=c.manager.headers)).json()["items"]
    assert [(m["claimed"], m["grid_id"]) for m in listed if m["id"] == user_id] == [(True, c.grid_id)]


async def test_finding_7_an_invitation_answers_the_same_for_a_registered_and_an_unregistered_phone(client, world,
                                                                                                    pool):
    """Issue 30 finding 7: an invitation answered `new_account` for an unknown number and `pending` for
    a registered one, so a manager could tell which numbers have accounts. Now the answer (status,
    headers that matter, body) is the same byte for byte, for a volunteer and for a courier, and for a
    deactivated account too; each phone's owner finds the invitation waiting."""
    c = await world.community("同答社区")
    registered = await world.person("已注册")
    closed = await world.member(await world.community("停用社区"), "已停用")
    await pool.execute("update users set active = false where id = $1", closed.id)
    for role in ("volunteer", "courier"):
        answers = []
        for phone in (registered.phone, new_phone(), closed.phone):
            r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                                  json={"phone": phone, "name": "某人", "role": role})
            answers.append((r.status_code, r.headers["content-type"], r.content))
        assert answers[0] == answers[1] == answers[2], answers
        assert answers[0][0] == 201
    # Nobody joined; the registered person has two invitations to answer.
    assert await pool.fetchval("select count(*) from org_members m join orgs o on o.id = m.org_id "
                               "where o.id = $1 or o.parent_id = $1", c.id) == 0
    mine = (await client.get("/api/me/invitations", headers=registered.headers)).json()["items"]
    assert sorted(i["role"] for i in mine) == ["courier", "volunteer"]


async def test_a_wrong_number_invited_joins_nobody(client, world, pool):
    """A number typed wrongly: its owner, signing up, finds the invitation and declines; until someone
    accepts, nobody is a member."""
    c = await world.community("停用邀请社区")
    phone = new_phone()
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                          json={"phone": phone, "name": "错号", "role": "volunteer"})
    assert r.status_code == 201 and r.json()["member"] is None
    r = await register(client, phone, "some-pass-123", "路人")
    assert r.status_code == 201
    owner = {"Authorization": f"Bearer {r.json()['token']}"}
    invitation = (await client.get("/api/me/invitations", headers=owner)).json()["items"][0]
    assert (await client.post(f"/api/me/invitations/{invitation['id']}/decline", headers=owner)).status_code == 200
    assert await pool.fetchval("select count(*) from org_members where user_id = $1", r.json()["user_id"]) == 0


async def test_invite_an_existing_person_and_twice_changes_nothing(client, world, pool):
    c = await world.community("老住户社区")
    p = await world.person("张三")
    body = {"phone": p.phone, "name": "随便写", "role": "volunteer"}
    first = (await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers, json=body)).json()
    # Someone outside the manager's communities is asked, not enrolled, and not named (issue 16).
    assert first == {"member": None, "already_member": False, "pending": True}
    invitation = (await client.get("/api/me/invitations", headers=p.headers)).json()["items"][0]
    assert (await client.post(f"/api/me/invitations/{invitation['id']}/accept", headers=p.headers)).status_code == 200
    start = await pool.fetchval("select max(id) from audit_log")
    again = (await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers, json=body)).json()
    assert again["already_member"] is True
    assert await pool.fetchval("select count(*) from audit_log where id > $1", start) == 0
    # Bad input names the field; another community's manager cannot invite here.
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                          json={"phone": "12345", "name": "x", "role": "volunteer"})
    assert r.status_code == 422 and r.json()["details"]["field"] == "phone"
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                          json={"phone": new_phone(), "name": "x", "role": "volunteer", "grid_id": c.grid_id})
    assert r.status_code == 422 and r.json()["details"]["field"] == "grid_id"
    other = await world.community("隔壁社区")
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=other.manager.headers, json=body)
    assert r.status_code == 403


async def test_courier_with_several_grids_needs_a_grid_and_can_be_moved(client, world):
    c = await world.community("两网格社区")
    admin = (await world.admin()).headers
    grid2 = (await client.post("/api/orgs", headers=admin, json={"kind": "grid", "name": "第二网格",
                                                                 "parent_id": c.id})).json()["id"]
    m = c.manager.headers
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=m,
                          json={"phone": new_phone(), "name": "骑手", "role": "courier"})
    assert r.status_code == 422 and r.json()["details"]["field"] == "grid_id"
    rider = await world.member(c, "骑手", role="courier")  # someone of mine joins grid 2 at once
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=m,
                          json={"phone": rider.phone, "name": "骑手", "role": "courier", "grid_id": grid2})
    assert r.status_code == 201 and r.json()["member"]["id"] == rider.id, r.text
    courier = rider.id
    r = await client.post(f"/api/members/{courier}/grid", headers=m, json={"grid_id": c.grid_id})
    assert r.status_code == 200 and r.json()["grid_id"] == c.grid_id and r.json()["grid_name"] == "第一网格"
    detail = (await client.get(f"/api/members/{courier}", headers=m)).json()
    assert [(x["org_id"], x["role"]) for x in detail["memberships"]] == [(c.grid_id, "courier")]
    volunteer = await world.member(c)
    r = await client.post(f"/api/members/{volunteer.id}/grid", headers=m, json={"grid_id": grid2})
    assert r.status_code == 422 and r.json()["details"]["field"] == "user_id"
    other = await world.community("外社区")
    r = await client.post(f"/api/members/{courier}/grid", headers=other.manager.headers, json={"grid_id": c.grid_id})
    assert r.status_code == 403


async def test_deactivation_ends_sessions_and_reactivation_lets_them_back(client, world, pool):
    c = await world.community("停用社区")
    async with pool.acquire() as conn:
        user_id = await auth.create_user(conn, phone=(phone := new_phone()), password="member-pass-1", name="小李")
    login = (await client.post("/api/auth/login", json={"phone": phone, "password": "member-pass-1"})).json()
    bearer = {"Authorization": f"Bearer {login['token']}"}
    m = c.manager.headers
    await client.post(f"/api/orgs/{c.id}/members", headers=(await world.admin()).headers,
                      json={"user_id": user_id, "role": "volunteer"})
    assert (await client.get("/api/me", headers=bearer)).status_code == 200

    r = await client.post(f"/api/members/{user_id}/deactivate", headers=m, json={"reason": "搬离社区"})
    assert r.status_code == 200
    assert (await client.get("/api/me", headers=bearer)).status_code == 401
    assert (await client.post("/api/auth/login", json={"phone": phone, "password": "member-pass-1"})).status_code == 401
    listed = (await client.get(f"/api/communities/{c.id}/members", headers=m)).json()["items"]
    assert [x["active"] for x in listed if x["id"] == user_id] == [False]
    # Other members no longer see a switched-off account.
    peer = await world.member(c)
    assert user_id not in [x["id"] for x in (await client.get(f"/api/communities/{c.id}/members",
                                                              headers=peer.headers)).json()["items"]]
    assert (await client.post(f"/api/members/{user_id}/deactivate", headers=m, json={"reason": "再来"})).status_code == 409

    r = await client.post(f"/api/members/{user_id}/reactivate", headers=m, json={"reason": "搬回来了"})
    assert r.status_code == 200
    assert (await client.get("/api/me", headers=bearer)).status_code == 401  # old sessions stay ended
    assert (await client.post("/api/auth/login", json={"phone": phone, "password": "member-pass-1"})).status_code == 200


async def test_who_a_manager_may_switch_off(client, world, pool):
    a = await world.community("甲社区")
    b = await world.community("乙社区")
    both = await world.member(a, "两边都在")
    admin = await world.admin()
    await client.post(f"/api/orgs/{b.id}/members", headers=admin.headers, json={"user_id": both.id, "role": "volunteer"})
    m = a.manager.headers
    reason = {"reason": "测试"}
    co_manager = await world.member(a, "副主任")
    await appoint(client, admin, a.id, co_manager)
    outsider = await world.member(b)
    people = [both.id, a.manager.id, co_manager.id, outsider.id]
    states = "select id, active, closed_at from users where id = any($1::bigint[]) order by id"
    before = [tuple(x) for x in await pool.fetch(states, people)]
    async with unchanged(pool, people=people, communities=[a.id, b.id]):  # nobody switched off, no row written
        r = await client.post(f"/api/members/{both.id}/deactivate", headers=m, json=reason)
        assert r.status_code == 403  # it would lock them out of community B too: an admin decides
        assert (await client.post(f"/api/members/{a.manager.id}/deactivate", headers=m, json=reason)).status_code == 403
        assert (await client.post(f"/api/members/{co_manager.id}/deactivate", headers=m,
                                  json=reason)).status_code == 403
        # Someone of another community is, to this manager, an unknown id (issue 16).
        assert (await client.post(f"/api/members/{outsider.id}/deactivate", headers=m, json=reason)).status_code == 404
        r = await client.post(f"/api/members/{both.id}/deactivate", headers=m, json={"reason": ""})
        assert r.status_code in (400, 422)
    assert [tuple(x) for x in await pool.fetch(states, people)] == before
    assert (await client.post(f"/api/members/{both.id}/deactivate", headers=admin.headers, json=reason)).status_code == 200


async def test_member_detail_and_statement_for_their_manager_only(client, world):
    c = await world.community("明细社区")
    v = await world.member(c, "赵六")
    await world.fund(v, c, "points", 40)
    m = c.manager.headers
    d = (await client.get(f"/api/members/{v.id}", headers=m)).json()
    assert d["name"] == "赵六" and d["phone"] == v.phone and d["balances"]["points"]["available"] == 40
    assert d["memberships"][0]["community_id"] == c.id and d["claimed"] is False
    lines = (await client.get(f"/api/users/{v.id}/statement?unit=points", headers=m)).json()["items"]
    assert [x["amount"] for x in lines] == [40]
    other = await world.community("外面社区")
    # To anyone else the person is an unknown id (issue 16: ids cannot be enumerated).
    assert (await client.get(f"/api/members/{v.id}", headers=other.manager.headers)).status_code == 404
    assert (await client.get(f"/api/members/{v.id}", headers=(await world.member(c)).headers)).status_code == 404


async def test_admin_searches_people_by_name_or_phone_digits(client, world):
    c = await world.community("搜索社区")
    v = await world.member(c, "欧阳娜娜")
    admin = (await world.admin()).headers
    hits = (await client.post("/api/people/search", headers=admin, json={"q": "欧阳"})).json()["items"]
    hit = next(x for x in hits if x["id"] == v.id)
    assert hit["phone"] == masked(v.phone) and hit["communities"] == ["搜索社区"]
    by_digits = (await client.post("/api/people/search", headers=admin, json={"q": v.phone[-8:]})).json()["items"]
    assert [x["id"] for x in by_digits] == [v.id]
    whole = (await client.post("/api/people/search", headers=admin, json={"q": v.phone})).json()["items"]
    assert [x["id"] for x in whole] == [v.id]
    r = await client.post("/api/people/search", headers=c.manager.headers, json={"q": "欧阳"})
    assert r.status_code == 403
    assert (await client.post("/api/people/search", headers=admin, json={"q": ""})).status_code in (400, 422)


async def test_org_rename_and_move_rules(client, world):
    a = await world.community("搬家社区")
    b = await world.community("目的社区")
    admin = (await world.admin()).headers
    r = await client.patch(f"/api/orgs/{a.id}", headers=admin, json={"name": "新名字社区", "parent_id": b.street_id})
    assert r.status_code == 200 and r.json()["name"] == "新名字社区" and r.json()["parent_id"] == b.street_id
    r = await client.patch(f"/api/orgs/{a.id}", headers=admin, json={"parent_id": b.district_id})
    assert r.status_code == 422 and r.json()["details"]["field"] == "parent_id"
    r = await client.patch(f"/api/orgs/{a.grid_id}", headers=admin, json={"parent_id": b.id})
    assert r.status_code == 422
    r = await client.patch(f"/api/orgs/{a.street_id}", headers=admin, json={"parent_id": b.district_id})
    assert r.status_code == 200
    assert (await client.patch(f"/api/orgs/{a.id}", headers=a.manager.headers, json={"name": "x"})).status_code == 403
    assert (await client.patch("/api/orgs/999999999", headers=admin, json={"name": "x"})).status_code == 404
    r = await client.patch(f"/api/orgs/{a.id}", headers=admin, json={"name": "新名字社区", "colour": "red"})
    assert r.status_code in (400, 422)


async def test_tree_and_summary_are_scoped(client, world):
    a = await world.community("树社区")
    await world.member(a)
    await world.member(a, role="courier")
    r = await client.post("/api/teams", headers=a.manager.headers, json={"name": "党员先锋队", "community_id": a.id})
    assert r.status_code == 201
    tree = (await client.get("/api/console/tree", headers=a.manager.headers)).json()
    assert tree["editable"] is False
    assert [(n["id"], n["members"]) for n in tree["roots"]] == [(a.id, 2)]
    node = tree["roots"][0]
    assert [g["id"] for g in node["children"]] == [a.grid_id] and node["children"][0]["members"] == 1
    assert node["teams"][0]["name"] == "党员先锋队"
    assert node["managers"] == [{"id": a.manager.id, "name": a.manager.name, "phone": a.manager.phone}]
    admin_tree = (await client.get("/api/console/tree", headers=(await world.admin()).headers)).json()
    assert admin_tree["editable"] is True and all(n["kind"] == "district" for n in admin_tree["roots"])

    def find(nodes, org_id):
        for n in nodes:
            if n["id"] == org_id:
                return n
            if (hit := find(n["children"], org_id)) is not None:
                return hit
        return None

    assert find(admin_tree["roots"], a.id)["managers"][0]["phone"] == masked(a.manager.phone)

    summary = (await client.get("/api/console/summary", headers=a.manager.headers)).json()
    assert [c["id"] for c in summary["communities"]] == [a.id] and summary["members"] == 2
    queues = {q["key"]: q for q in summary["queues"]}
    assert queues["redemptions"]["href"] == "/redemptions.html" and queues["appeals"]["href"] == "/rankings.html"
    assert all(q["pending"] is None or q["pending"] == 0 for q in summary["queues"])
    volunteer = await world.member(a)
    assert (await client.get("/api/console/summary", headers=volunteer.headers)).status_code == 403
    assert (await client.get("/api/console/tree", headers=volunteer.headers)).status_code == 403


async def test_summary_counts_pending_rows_of_installed_queues(client, world, pool):
    a = await world.community("队列社区")
    installed = await pool.fetchval("select to_regclass('reports') is not null")
    summary = (await client.get("/api/console/summary", headers=a.manager.headers)).json()
    reports = next(q for q in summary["queues"] if q["key"] == "reports")
    assert (reports["pending"] is not None) == installed
    if installed:
        courier = await world.member(a, role="courier")
        await pool.execute("insert into reports (courier_id, grid_id, community_id, kind, text, created_at) "
                           "values ($1, $2, $3, 'civility', '劝导不文明行为', now())", courier.id, a.grid_id, a.id)
        summary = (await client.get("/api/console/summary", headers=a.manager.headers)).json()
        assert next(q for q in summary["queues"] if q["key"] == "reports")["pending"] == 1
        other = await world.community("无关社区")
        summary = (await client.get("/api/console/summary", headers=other.manager.headers)).json()
        assert next(q for q in summary["queues"] if q["key"] == "reports")["pending"] == 0


async def test_seed_demo_fills_the_console_once(world, pool):
    from domain import demo
    from domain.demo import people as members
    sansu = await world.community("三苏社区")
    liu, chen = await world.member(sansu, "刘芳"), await world.member(sansu, "陈伟")
    city = demo.City(admin=(await world.admin()).id, managers={"李晓梅": sansu.manager.id},
                     volunteers={"刘芳": liu.id, "陈伟": chen.id}, couriers={}, communities={"三苏社区": sansu.id},
                     grids={"三苏社区第一网格": sansu.grid_id}, streets={}, team=0)
    start = await pool.fetchval("select max(id) from audit_log")
    async with pool.acquire() as conn:
        await members.seed_demo(conn, city)
        after_first = await pool.fetchval("select max(id) from audit_log")
        await members.seed_demo(conn, city)
    assert await pool.fetchval("select max(id) from audit_log") == after_first > start
    acts = [r["act"] for r in await pool.fetch("select act from audit_log where id > $1 order by id", start)]
    assert acts.count("member_deactivate") == 1 and acts.count("adjustment") == 2
    invited = await pool.fetchrow("select u.password_hash, i.role, i.state from users u join invitations i "
                                  "on i.user_id = u.id where u.phone = '13700000003'")
    assert (invited["password_hash"], invited["role"], invited["state"]) == (None, "courier", "pending")
    assert await pool.fetchval("select active from users where name = '刘芳（重复登记）' and phone is null "
                               "and exists (select 1 from org_members m where m.user_id = users.id "
                               "and m.org_id = $1)", sansu.id) is False
    assert await world.ledger_problems() == {}

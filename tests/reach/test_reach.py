"""Reach (issue 36): consent to the privacy notice, the ID number, WeChat sign-in at the API level.
The browser journey against the fake WeChat server is tests/browser/test_reach_browser.py."""

import base64
import logging
import os

import pytest

from domain.core import clock
from domain.core.actor import Actor
from domain.people import auth, consent, identity
from tests.conftest import new_phone, register, sms_code
from tests.reach.fake_wechat import APPID, SECRET, FakeWeChat

PASSWORD = "reach-pass-1"
ID_NUMBER = "11010519491231002X"   # GB 11643's own example: a valid check digit
KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _leave_no_session_cookie(client):
    yield
    client.cookies.clear()


async def _send(client, phone: str) -> None:
    r = await client.post("/api/auth/phone-codes", json={"phone": phone, "purpose": "register"})
    assert r.status_code == 202, r.text


async def _current(client, kind: str = "privacy") -> int:
    return (await client.get(f"/api/privacy/notices/{kind}")).json()["version"]


# ---- consent ---------------------------------------------------------------------------------------

async def test_registration_cannot_complete_without_consent(client, pool):
    phone = new_phone()
    await _send(client, phone)
    code = sms_code(phone)
    body = {"phone": phone, "password": PASSWORD, "name": "周敏", "code": code}
    for refused in (body, {**body, "consent": None}, {**body, "consent": await _current(client) + 1}):
        r = await client.post("/api/auth/register", json=refused)
        assert r.status_code == 422 and r.json()["error"] == "consent_required", r.text
        assert r.json()["details"]["field"] == "consent"
        assert r.json()["message"] == "请先阅读并勾选同意个人信息保护告知书"
    assert await pool.fetchval("select count(*) from users where phone = $1", phone) == 0
    # The refusals spent nothing: the same code registers once the box is ticked.
    version = await _current(client)
    r = await client.post("/api/auth/register", json={**body, "consent": version})
    assert r.status_code == 201, r.text
    rows = await pool.fetch("select kind, version, given_at, given_by from consents where user_id = $1",
                            r.json()["user_id"])
    assert [(x["kind"], x["version"], x["given_by"]) for x in rows] == [("privacy", version, None)]
    assert abs((rows[0]["given_at"] - clock.now()).total_seconds()) < 60


async def test_a_new_notice_version_asks_again_at_the_next_sign_in(fresh_conn):
    """Publishing a version changes what every sign-in asks, so it runs on a database of its own."""
    conn = fresh_conn
    admin_id = await auth.create_user(conn, phone=new_phone(), password=None, name="管理员", is_admin=True)
    admin = Actor(admin_id, "管理员", True, frozenset())
    phone = new_phone()
    user_id = await auth.create_user(conn, phone=phone, password=PASSWORD, name="钱芳")
    await consent.record(conn, user_id, "privacy", 1)
    login = await auth.login(conn, phone=phone, password=PASSWORD, ip="10.9.9.9")
    assert await consent.due(conn, login.user_id) is None
    with pytest.raises(Exception) as refused:
        await consent.publish(conn, Actor(user_id, "钱芳", False, frozenset()), "privacy", "新版告知书：" + "内容" * 20)
    assert getattr(refused.value, "code", None) == "forbidden"
    notice = await consent.publish(conn, admin, "privacy", "邻里个人信息保护告知书（第 2 版）" + "我们新增了保险信息。" * 3)
    assert notice.version == 2
    login = await auth.login(conn, phone=phone, password=PASSWORD, ip="10.9.9.9")
    assert await consent.due(conn, login.user_id) == 2          # the login answer's consent_due
    with pytest.raises(Exception) as stale:
        await consent.give(conn, user_id, "privacy", 1)       # agreeing to the old version is no answer
    assert getattr(stale.value, "code", None) == "consent_required"
    history = await consent.give(conn, user_id, "privacy", 2)
    assert [(c.kind, c.version) for c in history] == [("privacy", 1), ("privacy", 2)]
    assert await consent.due(conn, user_id) is None
    assert await conn.fetchval("select count(*) from audit_log where act = 'privacy_notice' and actor_id = $1",
                               admin_id) == 1


async def test_login_says_when_consent_is_due_and_consent_history_is_in_the_export(client, pool, setenv):
    setenv("LINLI_ID_KEY", KEY)
    phone = new_phone()
    r = await register(client, phone, PASSWORD, "孙丽")
    assert r.status_code == 201 and r.json()["consent_due"] is None
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    client.cookies.clear()
    r = await client.post("/api/auth/login", json={"phone": phone, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["consent_due"] is None
    client.cookies.clear()
    version = await _current(client, "id_number")
    r = await client.put("/api/me/identity", headers=headers,
                         json={"id_number": ID_NUMBER, "volunteer_number": "V2024-0001", "consent_version": version})
    assert r.status_code == 200, r.text
    r = await client.get("/api/me/export", headers=headers)
    consents = r.json()["consents"]
    assert [(c["kind"], c["version"]) for c in consents] == [("privacy", await _current(client)), ("id_number", version)]
    assert all(c["given_at"] for c in consents)
    assert r.json()["identity"]["id_number"] == ID_NUMBER   # the person's own data, in full


# ---- the ID number -------------------------------------------------------------------------------

def test_the_check_digit_is_gb_11643():
    assert identity.check_digit("11010519491231002") == "X"
    assert identity.normalise_id_number("110105 19491231 002x") == ID_NUMBER
    for bad, problem in (("110105194912310021", "check digit"), ("11010519491331002X", "birth date"),
                         ("1101051949123100", "18 characters: 17 digits and a digit or X")):
        with pytest.raises(Exception) as refused:
            identity.normalise_id_number(bad)
        assert refused.value.code == "id_number_invalid" and refused.value.details["problem"] == problem
    assert identity.mask(ID_NUMBER) == "110***********002X"


async def test_an_id_number_with_a_bad_check_digit_is_refused_and_nothing_is_stored(client, world, pool, setenv):
    setenv("LINLI_ID_KEY", KEY)
    person = await world.person("郑强")
    version = await _current(client, "id_number")
    before = (await pool.fetch("select * from identities where user_id = $1", person.id),
              await pool.fetch("select * from consents where user_id = $1", person.id))
    r = await client.put("/api/me/identity", headers=person.headers,
                         json={"id_number": "110105194912310021", "consent_version": version})
    assert r.status_code == 422 and r.json()["error"] == "id_number_invalid" and r.json()["details"]["field"] == "id_number"
    assert "110105194912310021" not in r.text
    # A good number without its own consent is refused too.
    r = await client.put("/api/me/identity", headers=person.headers, json={"id_number": ID_NUMBER})
    assert r.status_code == 422 and r.json()["error"] == "consent_required"
    assert r.json()["details"]["field"] == "consent_version"
    assert (await pool.fetch("select * from identities where user_id = $1", person.id),
            await pool.fetch("select * from consents where user_id = $1", person.id)) == before


async def test_the_full_id_number_shows_only_in_the_persons_own_view(client, world, pool, setenv, caplog):
    setenv("LINLI_ID_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    c = await world.community("身份证社区")
    v = await world.member(c, "冯婷")
    version = await _current(client, "id_number")
    r = await client.put("/api/me/identity", headers=v.headers,
                         json={"id_number": ID_NUMBER.lower(), "volunteer_number": f"V{v.id:08d}",
                               "consent_version": version})
    assert r.status_code == 200 and r.json()["id_number"] == ID_NUMBER, r.text
    assert (await client.get("/api/me/identity", headers=v.headers)).json()["id_number"] == ID_NUMBER
    # Stored encrypted: no column holds the number.
    row = await pool.fetchrow("select * from identities where user_id = $1", v.id)
    assert ID_NUMBER.encode() not in bytes(row["id_number_enc"]) and row["id_number_masked"] == "110***********002X"
    assert ID_NUMBER not in str(dict(row))
    # Managers, exports and audit see it masked or not at all.
    seen = []
    detail = await client.get(f"/api/members/{v.id}", headers=c.manager.headers)
    assert detail.status_code == 200 and detail.json()["id_number_masked"] == "110***********002X"
    seen.append(detail.text)
    for url in (f"/api/communities/{c.id}/members", f"/api/communities/{c.id}/members.csv",
                f"/api/orgs/{c.id}/records-export?format=csv&group=people",
                f"/api/orgs/{c.id}/records-export?format=xlsx", "/api/audit", "/api/audit.csv",
                f"/api/timebank/certificate?user_id={v.id}"):
        r = await client.get(url, headers=c.manager.headers)
        assert r.status_code == 200, (url, r.text)
        seen.append(r.text if "xlsx" not in url else _xlsx_text(r.content))
    assert "110***********002X" in seen[2 + 1]  # the CSV export of basic information
    own = await client.get("/api/timebank/certificate", headers=v.headers)  # certificates print it masked
    assert own.json()["id_number_masked"] == "110***********002X" and ID_NUMBER not in own.text
    assert all(ID_NUMBER not in text and ID_NUMBER.lower() not in text for text in seen)
    omitted = await client.get(f"/api/orgs/{c.id}/records-export?format=csv&group=people&id=omit",
                               headers=c.manager.headers)
    assert "110***" not in omitted.text and f"V{v.id:08d}" in omitted.text
    assert ID_NUMBER not in caplog.text and ID_NUMBER.lower() not in caplog.text


def _xlsx_text(data: bytes) -> str:
    import io

    import openpyxl
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for cell in row)


# ---- a guardian and a minor ----------------------------------------------------------------------

async def test_a_guardian_registers_a_minor_with_a_separate_consent(client, world, pool):
    guardian = await world.person("家长")
    born = clock.now().date().replace(year=clock.now().year - 12, month=3, day=1)
    body = {"name": "小明", "birth_date": born.isoformat(), "consent": await _current(client)}
    r = await client.post("/api/me/minors", headers=guardian.headers, json=body)
    assert r.status_code == 422 and r.json()["details"]["field"] == "guardian_consent"
    adult = {**body, "birth_date": born.replace(year=born.year - 10).isoformat(),
             "guardian_consent": await _current(client, "guardian")}
    r = await client.post("/api/me/minors", headers=guardian.headers, json=adult)
    assert r.status_code == 422 and r.json()["details"]["field"] == "birth_date"
    assert (await client.get("/api/me/minors", headers=guardian.headers)).json() == []
    for _ in range(2):  # other tests publish guardian notices (the authorisation matrix): read, then sign
        r = await client.post("/api/me/minors", headers=guardian.headers,
                              json={**body, "guardian_consent": await _current(client, "guardian")})
        if r.status_code != 422:
            break
    assert r.status_code == 201, r.text
    minor = r.json()["id"]
    rows = await pool.fetch("select kind, given_by from consents where user_id = $1 order by id", minor)
    assert [(x["kind"], x["given_by"]) for x in rows] == [("guardian", guardian.id), ("privacy", guardian.id)]
    r = await client.get(f"/api/me/minors/{minor}/export", headers=guardian.headers)
    assert r.status_code == 200 and [c["kind"] for c in r.json()["consents"]] == ["guardian", "privacy"]
    stranger = await world.person("路人")
    assert (await client.get(f"/api/me/minors/{minor}/export", headers=stranger.headers)).status_code == 404


# ---- WeChat sign-in ------------------------------------------------------------------------------

@pytest.fixture
def fake_wechat(setenv):
    with FakeWeChat() as fake:
        setenv("LINLI_WECHAT_APPID", APPID)
        setenv("LINLI_WECHAT_SECRET", SECRET)
        setenv("LINLI_WECHAT_API_URL", fake.url)
        setenv("LINLI_WECHAT_AUTHORIZE_URL", fake.url)
        yield fake


async def _start(client) -> str:
    r = await client.get("/api/auth/wechat/start")
    assert r.status_code == 302 and r.headers["location"].startswith(settings_url() + "/connect/oauth2/authorize?")
    from urllib.parse import parse_qs, urlparse
    return parse_qs(urlparse(r.headers["location"]).query)["state"][0]


def settings_url() -> str:
    from domain.core import settings
    return settings.get().wechat_authorize_url


async def test_wechat_is_offered_only_when_configured(client):
    assert (await client.get("/api/auth/wechat")).json() == {"enabled": False}
    r = await client.get("/api/auth/wechat/start")
    assert r.status_code == 404


async def test_finding_7_wechat_binds_only_an_openid_the_server_exchanged(client, world, pool, fake_wechat):
    assert (await client.get("/api/auth/wechat")).json() == {"enabled": True}
    person = await world.person("老用户")
    openid = f"o-forged-{person.id}"
    # The old way, binding any openid the client sends, is gone.
    r = await client.put("/api/me/messages/wechat", headers=person.headers, json={"openid": openid})
    assert r.status_code in (404, 405)
    # A forged openid without a code: refused at the callback and at the bind.
    state = await _start(client)
    for query in ({"state": state, "openid": openid}, {"state": state, "code": "made-up"},
                  {"state": "other", "code": fake_wechat.issue(openid)}):
        r = await client.get("/api/auth/wechat/callback", params=query)
        assert r.status_code in (401, 422) and "linli_session" not in r.headers.get("set-cookie", ""), (query, r.text)
    r = await client.post("/api/auth/wechat/bind", json={"phone": person.phone, "code": "123456", "openid": openid})
    assert r.status_code == 422
    r = await client.post("/api/auth/wechat/bind", json={"phone": person.phone, "code": "123456"})
    assert r.status_code == 401
    assert await pool.fetchval("select count(*) from wechat_bindings where openid = $1 or user_id = $2",
                               openid, person.id) == 0
    # The real flow: a code WeChat issued, exchanged by the server, then the phone proven once.
    real = f"o-real-{person.id}"
    r = await client.get("/api/auth/wechat/callback", params={"state": state, "code": fake_wechat.issue(real)})
    assert r.status_code == 302 and r.headers["location"] == "/login.html#wechat"
    assert fake_wechat.exchanges[-1]["secret"] == SECRET   # server to server, with the secret
    await _send(client, person.phone)
    r = await client.post("/api/auth/wechat/bind", json={"phone": person.phone, "code": sms_code(person.phone)})
    assert r.status_code == 200 and r.json()["user_id"] == person.id, r.text
    assert await pool.fetchval("select openid from wechat_bindings where user_id = $1", person.id) == real
    # Next time WeChat signs in directly.
    client.cookies.clear()
    state = await _start(client)
    r = await client.get("/api/auth/wechat/callback", params={"state": state, "code": fake_wechat.issue(real)})
    # (an account made for the person, not registered by them, is asked to consent on this first sign-in)
    assert r.status_code == 302 and r.headers["location"] == "/login.html#consent"
    assert "linli_session=" in r.headers["set-cookie"]
    assert (await client.get("/api/me")).json()["id"] == person.id


async def test_a_new_resident_needs_a_name_and_consent_to_sign_up_by_wechat(client, pool, fake_wechat):
    phone, openid = new_phone(), f"o-new-{new_phone()}"
    state = await _start(client)
    r = await client.get("/api/auth/wechat/callback", params={"state": state, "code": fake_wechat.issue(openid)})
    assert r.status_code == 302
    await _send(client, phone)
    code = sms_code(phone)
    r = await client.post("/api/auth/wechat/bind", json={"phone": phone, "code": code, "name": "新居民"})
    assert r.status_code == 422 and r.json()["error"] == "consent_required"
    assert await pool.fetchval("select count(*) from users where phone = $1", phone) == 0
    r = await client.post("/api/auth/wechat/bind", json={"phone": phone, "code": code, "name": "新居民",
                                                         "consent": await _current(client)})
    assert r.status_code == 200, r.text
    user_id = r.json()["user_id"]
    assert await pool.fetchval("select openid from wechat_bindings where user_id = $1", user_id) == openid
    assert await pool.fetchval("select count(*) from consents where user_id = $1 and kind = 'privacy'", user_id) == 1


async def test_closing_the_account_erases_the_id_number_and_the_wechat_binding(client, pool, setenv):
    setenv("LINLI_ID_KEY", KEY)
    phone = new_phone()
    r = await register(client, phone, PASSWORD, "吕萍")
    user_id, headers = r.json()["user_id"], {"Authorization": f"Bearer {r.json()['token']}"}
    client.cookies.clear()
    r = await client.put("/api/me/identity", headers=headers, json={
        "id_number": ID_NUMBER, "volunteer_number": f"VC{user_id}", "consent_version": await _current(client, "id_number")})
    assert r.status_code == 200
    from domain import notify
    async with pool.acquire() as conn:
        await notify.bind_wechat(conn, user_id, f"o-close-{user_id}")
    r = await client.post("/api/me/close", headers=headers, json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    row = await pool.fetchrow("select * from identities where user_id = $1", user_id)
    assert (row["id_number_enc"], row["id_number_masked"], row["volunteer_number"], row["birth_date"]) == \
        (None, None, None, None)
    assert await pool.fetchval("select count(*) from wechat_bindings where user_id = $1", user_id) == 0
    # The consent history stays: it is the record of what was agreed, and names no one but the id.
    assert await pool.fetchval("select count(*) from consents where user_id = $1", user_id) == 2


async def test_a_new_version_is_asked_at_password_and_wechat_sign_in_alike(admin_url, fake_wechat):
    """The whole path over HTTP, on an app and database of its own (a new privacy version must not
    reach the other tests' sign-ins)."""
    import asyncio

    import httpx

    from api.app import create_app
    from tests.conftest import _fresh_database, drop_database
    url = await _fresh_database(admin_url)
    app = create_app(url, run_sweeper=False, pool_size=2)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan():
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await started.wait()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.77.0.1", 5000)),
                                     base_url="http://linli.test") as c:
            phone = new_phone()
            r = await register(c, phone, PASSWORD, "韩梅")
            assert r.status_code == 201 and r.json()["consent_due"] is None
            user_id = r.json()["user_id"]
            async with app.state.pool.acquire() as conn:
                admin_id = await auth.create_user(conn, phone=new_phone(), password=None, name="管理员", is_admin=True)
                admin = await auth._new_session(conn, admin_id)
                await conn.execute("insert into wechat_bindings (user_id, openid, bound_at) values ($1, 'o-han', now())",
                                   user_id)
            c.cookies.clear()
            r = await c.post("/api/privacy/notices", headers={"Authorization": f"Bearer {admin.token}"},
                             json={"kind": "privacy", "body": "邻里个人信息保护告知书（第 2 版）：新增保险信息的收集与用途说明。"})
            assert r.status_code == 201 and r.json()["version"] == 2
            r = await c.post("/api/auth/login", json={"phone": phone, "password": PASSWORD})
            assert r.json()["consent_due"] == 2
            c.cookies.clear()
            state = await _start(c)
            r = await c.get("/api/auth/wechat/callback", params={"state": state, "code": fake_wechat.issue("o-han")})
            assert r.status_code == 302 and r.headers["location"] == "/login.html#consent"
            csrf = c.cookies.get("linli_csrf")
            r = await c.post("/api/me/consents", json={"kind": "privacy", "version": 2}, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200 and [x["version"] for x in r.json()] == [1, 2]
            c.cookies.clear()
            r = await c.post("/api/auth/login", json={"phone": phone, "password": PASSWORD})
            assert r.json()["consent_due"] is None
    finally:
        stop.set()
        await task
        await drop_database(admin_url, url)

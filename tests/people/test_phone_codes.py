"""Phone verification (issue 18): registration, claiming an invited account and password reset need
the 6-digit code sent to the phone; codes live 5 minutes, work once, are stored hashed, are limited
per phone and per address, and lock the phone after 5 wrong tries. Also issue 16 finding 4."""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domain.core import clock
from tests.conftest import T0, new_phone, register, sms_code

PASSWORD = "claim-pass-123"


async def send(client, phone, purpose="register", **kwargs):
    return await client.post("/api/auth/phone-codes", json={"phone": phone, "purpose": purpose}, **kwargs)


async def invited_phone(client, world) -> tuple[str, int]:
    """A phone a manager invited: an account with points and no password yet."""
    c = await world.community("三苏社区")
    phone = new_phone()
    r = await client.post(f"/api/communities/{c.id}/invitations", headers=c.manager.headers,
                          json={"phone": phone, "name": "吴磊", "role": "volunteer"})
    assert r.status_code == 201, r.text
    user_id = await world.pool.fetchval("select id from users where phone = $1", phone)
    return phone, user_id


async def test_finding_4_invited_account_cannot_be_claimed_without_the_code(client, world, pool):
    """Issue 16 finding 4: POST /api/auth/register with an invited phone and any password took the account."""
    phone, user_id = await invited_phone(client, world)
    attempts = [{"phone": phone, "consent": 1, "password": PASSWORD, "name": "冒名"},                      # no code at all
                {"phone": phone, "consent": 1, "password": PASSWORD, "name": "冒名", "code": "000000"},   # a guess, before any code
                {"phone": phone, "consent": 1, "password": PASSWORD, "name": "冒名", "code": ""}]
    for body in attempts:
        r = await client.post("/api/auth/register", json=body)
        assert r.status_code == 422, r.text
        client.cookies.clear()
    # The attacker asks for a code for their own phone and uses it on the invited one: refused.
    mine = new_phone()
    assert (await send(client, mine)).status_code == 202
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "冒名",
                                                      "code": sms_code(mine)})
    assert r.status_code == 422 and r.json()["error"] == "sms_code_invalid"
    # A code was sent to the invited phone (by the attacker), but they cannot read it: guesses fail.
    assert (await send(client, phone)).status_code == 202
    real = sms_code(phone)
    wrong = f"{(int(real) + 1) % 10**6:06d}"
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "冒名", "code": wrong})
    assert r.status_code == 422
    assert await pool.fetchval("select password_hash from users where id = $1", user_id) is None
    assert await pool.fetchval("select count(*) from sessions where user_id = $1", user_id) == 0
    # The owner, with the code from their phone, claims the account with its membership.
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "吴磊", "code": real})
    assert r.status_code == 201 and r.json()["user_id"] == user_id
    client.cookies.clear()


async def test_a_code_is_six_digits_works_once_and_for_five_minutes_and_is_stored_hashed(client, pool):
    phone = new_phone()
    clock.freeze(clock.now())
    r = await send(client, phone)
    assert r.status_code == 202 and r.json() == {"sent": True, "expires_in": 300, "demo_code": None}
    code = sms_code(phone)
    assert re.fullmatch(r"\d{6}", code)
    stored = await pool.fetch("select * from phone_codes where phone = $1", phone)
    assert len(stored) == 1 and code.encode() not in bytes(stored[0]["code_hash"]) and len(stored[0]["code_hash"]) == 32
    assert code not in json.dumps({k: str(v) for k, v in dict(stored[0]).items()})
    # 5 minutes and a second later the code is dead.
    clock.advance(timedelta(minutes=5, seconds=1))
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "刘芳", "code": code})
    assert r.status_code == 422 and r.json()["error"] == "sms_code_invalid"
    # A new code inside its 5 minutes works, once.
    assert (await send(client, phone)).status_code == 202
    code = sms_code(phone)
    clock.advance(timedelta(minutes=4, seconds=59))
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "刘芳", "code": code})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    r = await client.post("/api/auth/password-reset", json={"phone": phone, "code": code, "new_password": "other-pass-1"})
    assert r.status_code == 422 and r.json()["error"] == "sms_code_invalid"  # another purpose, and already spent
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "刘芳", "code": code})
    assert r.status_code == 422 and r.json()["error"] == "sms_code_invalid"


async def test_wrong_codes_lock_out_after_the_limit(client, pool):
    """5 wrong tries kill the code and lock the phone, from that address, for 15 minutes: even the
    right code, and new codes, are refused there until then."""
    phone = new_phone()
    clock.freeze(clock.now())
    assert (await send(client, phone)).status_code == 202
    right = sms_code(phone)
    wrong = f"{(int(right) + 500) % 10**6:06d}"
    body = {"phone": phone, "consent": 1, "password": PASSWORD, "name": "刘芳"}
    results = []
    for _ in range(5):
        r = await client.post("/api/auth/register", json={**body, "code": wrong})
        results.append((r.status_code, r.json()["error"], r.json()["details"].get("tries_left")))
    assert results == [(422, "sms_code_invalid", 4), (422, "sms_code_invalid", 3), (422, "sms_code_invalid", 2),
                       (422, "sms_code_invalid", 1), (429, "sms_code_locked", None)]
    r = await client.post("/api/auth/register", json={**body, "code": right})
    assert r.status_code == 429 and r.json()["error"] == "sms_code_locked"
    assert r.json()["message"] == "验证码错误次数过多，请 15 分钟后再试"
    assert (await send(client, phone)).status_code == 429
    assert await pool.fetchval("select count(*) from users where phone = $1", phone) == 0
    # After 15 minutes the phone gets a new code and registers.
    clock.advance(timedelta(minutes=15, seconds=1))
    assert (await send(client, phone)).status_code == 202
    r = await client.post("/api/auth/register", json={**body, "code": sms_code(phone)})
    assert r.status_code == 201
    client.cookies.clear()


async def test_finding_5_wrong_codes_from_another_address_do_not_lock_the_owner_out(client, app, pool):
    """Issue 30 finding 5: from any address, ask a code for the victim's phone and send 5 wrong ones.
    The owner, from their own address, used to get 429 sms_code_locked for 15 minutes, for both
    registration and password reset, again and again. Now the attacker's address is locked for that
    phone, and the owner's code and address are untouched."""
    import httpx
    clock.freeze(T0 + timedelta(minutes=1))
    victim = new_phone()
    assert (await register(client, victim, PASSWORD, "王芳")).status_code == 201  # the owner has an account
    client.cookies.clear()
    transport = httpx.ASGITransport(app=app, client=("198.51.100.66", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://linli.test") as attacker:
        # the owner asks for a reset code first; the attacker then asks and guesses, for both purposes
        assert (await send(client, victim, "reset")).status_code == 202
        owners_code = sms_code(victim)
        assert (await send(attacker, victim, "reset")).status_code == 202
        wrong = f"{(int(sms_code(victim)) + 1) % 10**6:06d}"
        answers = [await attacker.post("/api/auth/password-reset", json={"phone": victim, "code": wrong,
                                                                         "new_password": "x-pass-1234"})
                   for _ in range(5)]
        assert answers[-1].status_code == 429 and answers[-1].json()["error"] == "sms_code_locked"
        for purpose in ("reset", "register"):  # the attacker's address is locked for that phone
            assert (await send(attacker, victim, purpose)).status_code == 429
    # the owner's code still works, from the owner's address, with no wait
    r = await client.post("/api/auth/password-reset", json={"phone": victim, "code": owners_code,
                                                            "new_password": "owner-new-pass-1"})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    # and the owner gets new codes and uses them (register answers "already registered" to the right code)
    assert (await send(client, victim, "register")).status_code == 202
    r = await client.post("/api/auth/register", json={"phone": victim, "consent": 1, "password": PASSWORD,
                                                      "name": "王芳", "code": sms_code(victim)})
    assert r.status_code == 409, r.text
    assert (await send(client, victim, "reset")).status_code == 202
    client.cookies.clear()


async def test_sending_is_limited_per_phone_and_per_address(client, app):
    import httpx
    clock.freeze(T0 + timedelta(minutes=1))  # inside one hour window
    phone = new_phone()
    statuses = [(await send(client, phone)).status_code for _ in range(6)]
    assert statuses == [202] * 5 + [429]  # 5 codes a phone an hour from one address
    for n, host in enumerate(("203.0.113.61", "203.0.113.62")):  # 10 a phone an hour in all
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 50000)),
                                     base_url="http://linli.test") as another:
            statuses = [(await send(another, phone)).status_code for _ in range(5 - 2 * n)]
        assert statuses == ([202] * 5 if n == 0 else [429] * 3)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://linli.test") as other:
        statuses = [(await send(other, new_phone())).status_code for _ in range(21)]
    assert statuses == [202] * 20 + [429]  # 20 codes an address an hour, whatever the phones


async def test_answers_do_not_reveal_whether_a_phone_is_registered(client, world):
    known = (await world.person("刘芳")).phone
    unknown = new_phone()
    for purpose in ("register", "reset"):
        a, b = await send(client, known, purpose), await send(client, unknown, purpose)
        assert (a.status_code, a.json()) == (b.status_code, b.json()) == (202, {"sent": True, "expires_in": 300,
                                                                               "demo_code": None})
    a = await client.post("/api/auth/password-reset", json={"phone": known, "code": "123456", "new_password": PASSWORD})
    b = await client.post("/api/auth/password-reset", json={"phone": unknown, "code": "123456", "new_password": PASSWORD})
    assert (a.status_code, a.json()["error"], a.json()["message"]) == (b.status_code, b.json()["error"], b.json()["message"])


async def test_password_reset_with_the_code_sets_the_password_and_ends_other_sessions(client, world):
    phone = new_phone()
    r = await register(client, phone, "old-password-1", "刘芳")
    old_token = r.json()["token"]
    client.cookies.clear()
    assert (await send(client, phone, "reset")).status_code == 202
    r = await client.post("/api/auth/password-reset", json={"phone": phone, "code": sms_code(phone),
                                                            "new_password": "new-password-1"})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 401
    assert (await client.post("/api/auth/login", json={"phone": phone, "password": "old-password-1"})).status_code == 401
    assert (await client.post("/api/auth/login", json={"phone": phone, "password": "new-password-1"})).status_code == 200
    client.cookies.clear()


async def test_demo_mode_returns_the_code_so_a_demo_needs_no_phone(client, setenv):
    setenv("LINLI_SMS_SHOW_CODES", "1")
    phone = new_phone()
    r = await send(client, phone)
    assert r.status_code == 202 and r.json()["demo_code"] == sms_code(phone)


class _Gateway(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = 500 if b"13000000000" in body else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_the_http_sender_makes_the_exact_request_to_the_gateway(client, setenv, gateway):
    setenv("LINLI_SMS_API_URL", f"{gateway}/v1/sms/send")
    setenv("LINLI_SMS_API_KEY", "test-key-42")
    setenv("LINLI_SMS_TEMPLATE", "【邻里】验证码{code}，5分钟内有效")
    phone = new_phone()
    r = await send(client, phone)
    assert r.status_code == 202 and r.json()["demo_code"] is None
    assert len(_Gateway.seen) == 1
    request = _Gateway.seen[0]
    assert request["path"] == "/v1/sms/send"
    assert request["headers"]["Authorization"] == "Bearer test-key-42"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Idempotency-Key"].startswith("phone_code:")
    sent = json.loads(request["body"].decode("utf-8"))
    assert set(sent) == {"to", "text", "kind"} and sent["to"] == phone and sent["kind"] == "phone_code"
    code = re.fullmatch(r"【邻里】验证码(\d{6})，5分钟内有效", sent["text"]).group(1)
    # The code the gateway carried registers the phone.
    r = await client.post("/api/auth/register", json={"phone": phone, "consent": 1, "password": PASSWORD, "name": "刘芳", "code": code})
    assert r.status_code == 201
    client.cookies.clear()
    # A gateway failure is a 503, not a 500 and not a silent success.
    r = await send(client, "13000000000")
    assert r.status_code == 503 and r.json()["error"] == "unavailable"


async def test_wrong_guesses_from_one_address_are_limited_whatever_the_phones(app):
    """Spraying guesses over many phones from one address: 30 wrong an hour, then 429."""
    import httpx
    clock.freeze(T0 + timedelta(minutes=1))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.91", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://linli.test") as sprayer:
        statuses = []
        for _ in range(31):
            r = await sprayer.post("/api/auth/password-reset", json={"phone": new_phone(), "code": "123456",
                                                                     "new_password": PASSWORD})
            statuses.append(r.status_code)
    assert statuses == [422] * 30 + [429]


def test_sms_settings_are_checked_at_start():
    from domain.core.settings import SettingsError, from_environ
    assert from_environ({}).sms_api_url is None and from_environ({}).sms_show_codes is False
    for env, bad in (("LINLI_SMS_API_URL", "ftp://gateway"),
                     ("LINLI_SMS_TEMPLATE", "no placeholder"), ("LINLI_SMS_SHOW_CODES", "maybe")):
        with pytest.raises(SettingsError, match=env):
            from_environ({env: bad})

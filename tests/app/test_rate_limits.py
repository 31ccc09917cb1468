"""Rate limits hold across processes (issue 11): two `linli serve` processes on one database share
their counters, so hits on one count on the other. Login is throttled per (phone, address) and per address,
registration per address, QR scans per person and per address.

The servers trust X-Forwarded-For from 127.0.0.1 (uvicorn proxy headers, as behind a local reverse
proxy), which lets each test act from an address of its own. Counters are fixed windows, so both
servers run on a clock that stands still (LINLI_CLOCK_AT): a test's requests all fall in one window,
whatever the real time, and each test's own addresses, phones and people keep its counts its own.
"""

import asyncio
import itertools
import uuid
from datetime import datetime, timezone

import asyncpg
import httpx
import pytest

from domain.core import db
from domain.people import auth
from tests.app.security_support import Serve
from tests.conftest import _fresh_database, drop_database, new_phone, register_sync

pytestmark = pytest.mark.heavy

SCANS_PER_USER, SCANS_PER_IP = 5, 8
_addresses = (f"198.18.{i // 250}.{i % 250 + 1}" for i in itertools.count(uuid.uuid4().int % 10000))


@pytest.fixture(scope="module")
def servers(admin_url):
    url = asyncio.run(_fresh_database(admin_url))
    limits = {"LINLI_SCAN_RATE_PER_MINUTE": str(SCANS_PER_USER), "LINLI_SCAN_RATE_PER_IP_MINUTE": str(SCANS_PER_IP),
              "LINLI_SMS_SHOW_CODES": "1",  # registering needs the SMS code: these servers answer it
              "LINLI_TRUSTED_PROXIES": "127.0.0.1",  # each test request names its address in X-Forwarded-For
              "LINLI_CLOCK_AT": datetime.now(timezone.utc).isoformat()}  # no window can end mid-test
    procs = [Serve(url, **limits), Serve(url, **limits)]
    try:
        for proc in procs:
            proc.wait_healthy()
        yield url, [proc.base for proc in procs]
    finally:
        for proc in procs:
            proc.stop()
        asyncio.run(drop_database(admin_url, url))


async def _people(url: str, n: int, password: str | None = None) -> list[tuple[int, str, str]]:
    """(id, phone, bearer token) of n new people."""
    conn = await asyncpg.connect(url)
    await db._init_connection(conn)
    try:
        out = []
        for _ in range(n):
            user_id = await auth.create_user(conn, phone=new_phone(), password=password, name="限流测试")
            login = await auth._new_session(conn, user_id)
            out.append((user_id, await conn.fetchval("select phone from users where id = $1", user_id), login.token))
        return out
    finally:
        await conn.close()


def alternate(bases: list[str]):
    return itertools.cycle(bases)


def test_wrong_logins_for_one_phone_count_on_both_processes(servers):
    url, bases = servers
    [(_, phone, _)] = asyncio.run(_people(url, 1, password="right-password-1"))
    ip = {"X-Forwarded-For": next(_addresses)}
    where = alternate(bases)
    statuses = [httpx.post(f"{next(where)}/api/auth/login", json={"phone": phone, "password": "wrong-password"},
                           headers=ip, timeout=30).status_code for _ in range(auth.LOGIN_FREE_TRIES)]
    assert statuses == [401] * auth.LOGIN_FREE_TRIES
    for base in bases:  # either process now makes this address wait, even with the right password
        r = httpx.post(f"{base}/api/auth/login", json={"phone": phone, "password": "right-password-1"},
                       headers=ip, timeout=30)
        assert r.status_code == 429 and r.json()["error"] == "rate_limited" and r.headers["retry-after"]
    # The owner from another address is not locked out (issue 16 finding 9).
    r = httpx.post(f"{bases[1]}/api/auth/login", json={"phone": phone, "password": "right-password-1"},
                   headers={"X-Forwarded-For": next(_addresses)}, timeout=30)
    assert r.status_code == 200, r.text


def test_wrong_logins_from_one_address_count_on_both_processes(servers):
    url, bases = servers
    [(_, phone, _)] = asyncio.run(_people(url, 1, password="right-password-1"))
    ip = {"X-Forwarded-For": next(_addresses)}
    where = alternate(bases)
    for i in range(auth.LOGIN_FAILS_PER_IP):  # a different unknown phone each time: only the address adds up
        r = httpx.post(f"{next(where)}/api/auth/login", json={"phone": new_phone(), "password": "guess-123"},
                       headers=ip, timeout=30)
        assert r.status_code == 401, (i, r.text)
    for base in bases:
        r = httpx.post(f"{base}/api/auth/login", json={"phone": phone, "password": "right-password-1"},
                       headers=ip, timeout=30)
        assert r.status_code == 429, r.text
    # Another address is not affected.
    r = httpx.post(f"{bases[0]}/api/auth/login", json={"phone": phone, "password": "right-password-1"},
                   headers={"X-Forwarded-For": next(_addresses)}, timeout=30)
    assert r.status_code == 200, r.text


def test_registrations_from_one_address_count_on_both_processes(servers):
    _, bases = servers
    ip = {"X-Forwarded-For": next(_addresses)}
    where = alternate(bases)
    for i in range(auth.REGISTER_PER_IP):
        r = register_sync(next(where), new_phone(), "secret-pass-1", "新用户", headers=ip, timeout=30)
        assert r.status_code == 201, (i, r.text)
    for base in bases:
        r = register_sync(base, new_phone(), "secret-pass-1", "新用户", headers=ip, timeout=30)
        assert r.status_code == 429 and r.json()["error"] == "rate_limited", r.text


def _scan(base: str, token: str, ip: str) -> httpx.Response:
    return httpx.post(f"{base}/api/scans", json={"code": "nosuchcode" + uuid.uuid4().hex[:6]}, timeout=30,
                      headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": ip})


def test_scans_are_limited_per_person_and_per_address_across_processes(servers):
    url, bases = servers
    (_, _, first), (_, _, second), (_, _, third) = asyncio.run(_people(url, 3))
    ip = next(_addresses)
    where = alternate(bases)
    # Any scan counts, even of an unknown code: the limit is about the requests.
    assert [_scan(next(where), first, ip).status_code for _ in range(SCANS_PER_USER)] == [404] * SCANS_PER_USER
    r = _scan(next(where), first, ip)
    assert r.status_code == 429 and r.json()["error"] == "rate_limited" and r.headers["retry-after"] == "60"
    # A second person from the same address: refused once the address has had its SCANS_PER_IP.
    statuses = [_scan(next(where), second, ip).status_code for _ in range(SCANS_PER_IP - SCANS_PER_USER + 1)]
    assert statuses == [404] * (SCANS_PER_IP - SCANS_PER_USER) + [429]
    # Someone else elsewhere scans as usual; the first person stays throttled from anywhere.
    assert _scan(bases[0], third, next(_addresses)).status_code == 404
    assert _scan(bases[1], first, next(_addresses)).status_code == 429


def test_scan_previews_count_per_address(servers):
    _, bases = servers
    ip = {"X-Forwarded-For": next(_addresses)}
    where = alternate(bases)
    statuses = [httpx.get(f"{next(where)}/api/scans/nosuchcode", headers=ip, timeout=30).status_code
                for _ in range(SCANS_PER_IP + 1)]
    assert statuses == [404] * SCANS_PER_IP + [429]

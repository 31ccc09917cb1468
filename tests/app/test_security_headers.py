"""Security headers on every kind of answer and the cookie flags (issue 11): pages, the scan and
kiosk pages, static files, JSON and errors carry a CSP without inline scripts, nosniff, a referrer
policy and frame-ancestors 'none'; session cookies are HttpOnly, SameSite=Lax, and Secure when the
app is reached over HTTPS (directly, or behind a proxy that says so with X-Forwarded-Proto)."""

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.app.security_support import Serve
from tests.conftest import _fresh_database, drop_database, new_phone, register_sync

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PAGES = sorted(p.name for p in FRONTEND.glob("*.html"))


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_secure_headers(r: httpx.Response, where: str) -> None:
    csp = directives(r.headers.get("content-security-policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts, (where, r.headers)
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts, (where, scripts)
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("object-src") == ["'none'"] and csp.get("base-uri") == ["'none'"], where
    assert r.headers["x-content-type-options"] == "nosniff", where
    assert r.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"), where
    assert r.headers["x-frame-options"] == "DENY", where


@pytest.mark.parametrize("page", PAGES)
async def test_every_page_carries_the_security_headers(client, page):
    r = await client.get(f"/{page}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert_secure_headers(r, page)


@pytest.mark.parametrize("path", ["/", "/s/abcdefgh23456789", "/kiosk/1", "/js/api.js", "/css/app.css",
                                  "/i18n/zh-CN/common.js", "/favicon.svg", "/healthz", "/metrics", "/api/me",
                                  "/api/no-such-thing", "/no-such-page", "/schema/openapi.json", "/schema"])
async def test_other_answers_carry_them_too(client, path):
    r = await client.get(path)
    assert r.status_code < 500, r.text[:200]
    assert_secure_headers(r, path)


async def test_the_api_reference_may_load_only_its_cdn_script(client):
    """/schema is Litestar's Scalar page (script from jsDelivr, inline styles): its CSP names that
    CDN for scripts and nothing else; every other page keeps script-src 'self'."""
    r = await client.get("/schema")
    scripts = directives(r.headers["content-security-policy"])["script-src"]
    assert scripts == ["'self'", "https://cdn.jsdelivr.net"]
    for src in re.findall(r'<script[^>]*src="([^"]+)"', r.text):
        assert src.startswith(("/", "https://cdn.jsdelivr.net/")), src
    r = await client.get("/login.html")
    assert directives(r.headers["content-security-policy"])["script-src"] == ["'self'"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_need_no_inline_script_or_style(page):
    """What the CSP forbids, the pages must not need: no inline <script>, no on*= handlers, no
    javascript: URLs, no style attributes or <style> blocks."""
    html = (FRONTEND / page).read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html, re.I):
        assert "src=" in tag, (page, tag)
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html, re.I), page  # no body inside a script element
    assert not re.search(r"\son[a-z]+\s*=", html, re.I), page
    assert "javascript:" not in html.lower(), page
    assert not re.search(r"<style\b|\sstyle\s*=", html, re.I), page


def _cookies(r: httpx.Response) -> dict[str, str]:
    return {c.split("=", 1)[0].strip(): c.lower() for c in r.headers.get_list("set-cookie")}


async def _login(client: httpx.AsyncClient, world) -> httpx.Response:
    person = await world.person(password="cookie-pass-1")
    r = await client.post("/api/auth/login", json={"phone": person.phone, "password": "cookie-pass-1"})
    client.cookies.clear()
    assert r.status_code == 200, r.text
    return r


async def test_cookies_over_https_are_secure_httponly_and_samesite(app, world):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.80", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://linli.test") as https:
        cookies = _cookies(await _login(https, world))
    session, csrf = cookies["linli_session"], cookies["linli_csrf"]
    for flags in (session, csrf):
        assert "; secure" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "httponly" in session
    assert "httponly" not in csrf  # the pages read it to send X-CSRF-Token


async def test_cookies_over_plain_http_are_not_marked_secure(client, world):
    """Local development over http://: a Secure cookie would never come back."""
    cookies = _cookies(await _login(client, world))
    assert "secure" not in cookies["linli_session"] and "httponly" in cookies["linli_session"]


def test_behind_a_tls_proxy_x_forwarded_proto_makes_cookies_secure(admin_url):
    """Behind a local nginx terminating TLS, configured as a trusted proxy (issue 16: proxy headers are
    believed only from LINLI_TRUSTED_PROXIES, not from 127.0.0.1 by default)."""
    url = asyncio.run(_fresh_database(admin_url))
    server = Serve(url, LINLI_SMS_SHOW_CODES="1", LINLI_TRUSTED_PROXIES="127.0.0.1")
    try:
        server.wait_healthy()
        body = {"phone": new_phone(), "password": "proxy-pass-1", "name": "代理"}
        r = register_sync(server.base, **body, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 201, r.text
        assert all("; secure" in flags for flags in _cookies(r).values()), r.headers.get_list("set-cookie")
        r = httpx.post(f"{server.base}/api/auth/login", json={"phone": body["phone"], "password": "proxy-pass-1"})
        assert r.status_code == 200 and not any("secure" in f for f in _cookies(r).values())
        assert_secure_headers(httpx.get(f"{server.base}/login.html"), "served by linli serve")
    finally:
        server.stop()
        asyncio.run(drop_database(admin_url, url))


async def test_logout_clears_both_cookies(client, world):
    r = await _login(client, world)
    out = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {r.json()['token']}"})
    client.cookies.clear()
    assert out.status_code == 204
    cleared = _cookies(out)
    assert set(cleared) == {"linli_session", "linli_csrf"}
    assert all("max-age=0" in flags for flags in cleared.values())

"""Sign in with WeChat (网页授权, the OAuth web flow).

Inside WeChat's browser, "微信登录" sends the person to WeChat's authorize page (scope snsapi_base),
which comes back to /api/auth/wechat/callback with a code. The server exchanges the code for an
openid with its app secret (server to server); an openid reaches an account only this way, never
from what a client sends. A bound openid signs in at once. An unbound one becomes a ticket (an
HttpOnly cookie, 10 minutes): the person proves a phone once with its SMS code, and the openid is
bound to the account of that phone (a new account, with consent to the privacy notice, when
the phone has none).
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

import asyncpg
import httpx

from domain.core import clock, queries, settings
from domain.core.errors import DomainError, not_found
from domain.people import auth, consent, phones

Q = queries.load("people")

TICKET_MINUTES = 10
TIMEOUT = httpx.Timeout(10.0)


def enabled() -> bool:
    config = settings.get()
    return bool(config.wechat_appid and config.wechat_secret)


def _require_enabled() -> settings.Settings:
    if not enabled():
        raise not_found("wechat sign-in")
    return settings.get()


def authorize_url(state: str) -> str:
    """Where the browser goes first: WeChat asks nothing for snsapi_base and comes back with a code."""
    config = _require_enabled()
    query = urlencode({"appid": config.wechat_appid, "redirect_uri": f"{config.public_url}/api/auth/wechat/callback",
                       "response_type": "code", "scope": "snsapi_base", "state": state})
    return f"{config.wechat_authorize_url}/connect/oauth2/authorize?{query}#wechat_redirect"


async def exchange(code: str) -> str:
    """The openid WeChat gives for a code (once per code); a refused code is `bad_credentials`."""
    config = _require_enabled()
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            reply = await http.get(f"{config.wechat_api_url}/sns/oauth2/access_token", params={
                "appid": config.wechat_appid, "secret": config.wechat_secret, "code": code,
                "grant_type": "authorization_code"})
        body = reply.json()
    except (httpx.HTTPError, ValueError):
        raise DomainError("unavailable", details={"problem": "WeChat did not answer"}) from None
    openid = body.get("openid") if reply.status_code == 200 and isinstance(body, dict) else None
    if not isinstance(openid, str) or not 1 <= len(openid) <= 128:
        raise DomainError("bad_credentials", field="code", details={"problem": "WeChat refused the code"})
    return openid


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def sign_in_or_ticket(conn: asyncpg.Connection, openid: str) -> tuple[auth.Login | None, str | None]:
    """A session when the openid is bound to a live account, else a ticket for proving a phone."""
    user_id = await conn.fetchval("select w.user_id from wechat_bindings w join users u on u.id = w.user_id "
                                  "where w.openid = $1 and u.active and u.closed_at is null", openid)
    if user_id is not None:
        return await auth._new_session(conn, user_id), None
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await conn.execute("insert into wechat_tickets (token_hash, openid, created_at, expires_at) values ($1, $2, $3, $4)",
                       _hash(token), openid, now, now + timedelta(minutes=TICKET_MINUTES))
    return None, token


async def bind(conn: asyncpg.Connection, *, ticket: str | None, phone: str, code: str, ip: str,
               name: str | None, consent_version: int | None) -> auth.Login:
    """Prove the phone once and bind the ticket's openid to its account (creating it when new)."""
    _require_enabled()
    if not ticket:
        raise DomainError("unauthenticated", details={"problem": "no WeChat sign-in in progress"})
    now = clock.now()
    openid = await conn.fetchval("select openid from wechat_tickets where token_hash = $1 and used_at is null "
                                 "and expires_at > $2", _hash(ticket), now)
    if openid is None:
        raise DomainError("unauthenticated", details={"problem": "the WeChat sign-in expired; start again"})
    phone = phones.normalise_phone(phone)
    existing = await conn.fetchval("select id from users where phone = $1 and active and closed_at is null", phone)
    version: int | None = None
    if existing is None:  # a new account: a name and consent are needed, checked before the code is spent
        name = auth.check_name(name or "")
        version = await consent.require_current(conn, "privacy", consent_version, "consent")
    await phones.verify(conn, phone=phone, purpose="register", code=code, ip=ip)
    async with conn.transaction():
        used = await conn.fetchval("update wechat_tickets set used_at = $2 where token_hash = $1 and used_at is null "
                                   "returning openid", _hash(ticket), now)
        if used is None:
            raise DomainError("unauthenticated", details={"problem": "the WeChat sign-in was used"})
        user_id = await conn.fetchval(Q.active_user_by_phone_for_update, phone)
        if user_id is None:
            if version is None:  # the account closed between the check and now: a new one needs consent
                raise DomainError("consent_required", field="consent", details={"kind": "privacy"})
            user_id = await auth.create_user(conn, phone=phone, password=None, name=name or "")
            await consent.record(conn, user_id, "privacy", version)
        elif consent_version is not None and await consent.due(conn, user_id) == consent_version:
            await consent.record(conn, user_id, "privacy", consent_version)
        if await conn.fetchval("select 1 from wechat_bindings where openid = $1 and user_id <> $2", openid, user_id):
            raise DomainError("conflict", field="openid", details={"problem": "this WeChat is bound to another account"})
        await conn.execute(Q.bind_wechat,
                           user_id, openid, now)
        return await auth._new_session(conn, user_id)


async def forget_old_tickets(pool: asyncpg.Pool, now: datetime) -> int:
    """A sweep: used or expired tickets (an openid each) are kept a day for tracing, then removed."""
    async with pool.acquire() as conn:
        status = await conn.execute("delete from wechat_tickets where expires_at < $1", now - timedelta(days=1))
    return int(status.split()[-1])


SWEEPS = (forget_old_tickets,)  # listed in api/capabilities.py

"""Request-scoped dependencies: the pool, the acting person (with CSRF), the language, paging."""

import hmac

import asyncpg
from litestar import Request
from litestar.datastructures import State

from domain.core import settings
from domain.core.actor import Actor
from domain.core.errors import DomainError
from domain.people import auth

SESSION_COOKIE = "linli_session"
CSRF_COOKIE = "linli_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def pool_of(state: State) -> asyncpg.Pool:
    return state.pool


def token_of(request: Request) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie (which needs CSRF protection)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(SESSION_COOKIE), True


async def current_session(request: Request, pool: asyncpg.Pool | asyncpg.Connection) -> auth.Session:
    token, from_cookie = token_of(request)
    if not token:
        raise DomainError("unauthenticated")
    session = await auth.session_for(pool, token)
    if session is None:
        raise DomainError("unauthenticated")
    request.scope["linli_user_id"] = session.user_id  # type: ignore[typeddict-unknown-key]  # ASGI extension key: log line
    if from_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise DomainError("csrf_failed")
    return session


async def provide_actor(request: Request, pool: asyncpg.Pool) -> Actor:
    """Every handler that takes `actor` needs a live session; the rest are public.

    It takes `pool` (not `state`) so that Litestar resolves the two one after the other: two
    independent dependencies of one handler are resolved concurrently, in an anyio task group with
    a task each, which cost more CPU per request than the whole rest of the dependency injection."""
    return await actor_on(request, pool)


async def actor_on(request: Request, conn: asyncpg.Pool | asyncpg.Connection) -> Actor:
    """The acting person, read through `conn`: the pool, or the one connection a scan holds for its
    whole request (api/controllers/scans.py)."""
    session = await current_session(request, conn)
    request.scope["linli_session"] = session  # type: ignore[typeddict-unknown-key]  # for logout (ASGI extension key)
    return Actor(session.user_id, session.name, session.is_admin, frozenset(session.manages),
                      frozenset(session.oversees))


async def provide_pool(state: State) -> asyncpg.Pool:
    return state.pool


def client_ip(request: Request) -> str:
    """The caller's address: the connection's peer, unless that peer is one of the configured trusted
    proxies (LINLI_TRUSTED_PROXIES, default none), whose X-Forwarded-For is then believed: the
    right-most address in it that is not itself a trusted proxy. Anyone else's X-Forwarded-For is
    ignored, so a client cannot choose its address (rate limits and audit rows key on it). Under
    `linli serve` uvicorn applies the same trust first (api/cli.py), so the peer seen here is then
    already the client; in-process servers and tests reach this rule directly."""
    peer = request.client.host if request.client else "unknown"
    trusted = settings.get().trusted_proxies
    if peer not in trusted:
        return peer
    hops = [part.strip() for header in request.headers.getall("x-forwarded-for", [])
            for part in header.split(",") if part.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


def page_args(limit: int, cursor: str | None) -> tuple[int, int]:
    """Validate `limit` and decode the opaque cursor (the last id of the previous page)."""
    if not 1 <= limit <= 100:
        raise DomainError("validation_failed", field="limit", details={"problem": "1 to 100"})
    if cursor in (None, ""):
        return limit, 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:  # "²".isdigit() is True too
        raise DomainError("validation_failed", field="cursor")
    return limit, int(cursor)

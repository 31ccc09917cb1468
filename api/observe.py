"""Around every HTTP request: a request id, one log line, the request metrics.

It wraps the Litestar app's ASGI handler (not a Litestar middleware, which runs only for matched
routes), so 404s, 405s and static files are logged, counted and carry X-Request-ID too.
"""

import logging
import re
import time
import uuid

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.core import logs, metrics

log = logging.getLogger("linli.request")
REQUEST_ID = b"x-request-id"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID (a load balancer's), cut to safe characters and 64 long; else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID:
            cleaned = _UNSAFE.sub("", value.decode("latin-1"))[:64]
            if cleaned:
                return cleaned
    return uuid.uuid4().hex


def wrap(app: Litestar, handler: ASGIApp) -> ASGIApp:
    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # the enum (a str, equal to "http") lets mypy narrow to HTTPScope
            await handler(scope, receive, send)
            return
        rid = request_id(scope)
        scope["linli_request_id"] = rid  # type: ignore[typeddict-unknown-key]  # ASGI allows extension keys
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID]
                message["headers"] = [*headers, (REQUEST_ID, rid.encode())]
            await send(message)

        try:
            await handler(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - start
            # The route template (/api/scans/{code}), never the path itself: it may hold a code or id.
            route = scope.get("path_template") or ("static" if status < 400 else "unmatched")
            method = scope["method"]
            metrics.REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.LATENCY.labels(method=method, route=route).observe(elapsed)
            pool = getattr(app.state, "pool", None)
            if pool is not None:
                metrics.pool_usage(pool)
            logs.event(log, "request", method=method, path=route, status=status,
                       duration_ms=round(elapsed * 1000, 2), user_id=scope.get("linli_user_id"), request_id=rid)

    return observed

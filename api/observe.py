"""Around every HTTP request: a request id, the security headers, one log line, the request metrics.

It wraps the Litestar app's ASGI handler (not a Litestar middleware, which runs only for matched
routes), so 404s, 405s and static files are logged, counted and carry X-Request-ID and the security
headers too.

This runs on every request, so it does the least it can per request (a scan's whole HTTP layer is
a few hundred microseconds of CPU): the metric children of a route are looked up once, the pool
gauges are written only when they change, the headers are encoded once.
"""

import logging
import os
import re
import time
from collections.abc import Callable

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.core import logs, metrics

log = logging.getLogger("linli.request")
REQUEST_ID = b"x-request-id"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")

# (method, route template, status) -> the request counter's and the latency histogram's children.
# As many entries as prometheus_client keeps label sets for anyway.
_children: dict[tuple[str, str, int], tuple] = {}


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID (a load balancer's), cut to safe characters and 64 long; else a new
    one: 128 random bits as 32 hex digits (as uuid4().hex, without building a UUID)."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID:
            cleaned = _UNSAFE.sub("", value.decode("latin-1"))[:64]
            if cleaned:
                return cleaned
    return os.urandom(16).hex()


def _count(method: str, route: str, status: int, elapsed: float) -> None:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (metrics.REQUESTS.labels(method=method, route=route, status=str(status)),
                                     metrics.LATENCY.labels(method=method, route=route))
    children[0].inc()
    children[1].observe(elapsed)


Headers = list[tuple[bytes, bytes]]


def wrap(app: Litestar, handler: ASGIApp, extra_headers: Callable[[Scope], Headers] | None = None) -> ASGIApp:
    """`extra_headers(scope)`: headers every response of that request carries unless the response
    set them itself (the security headers)."""

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
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID]
                if extra_headers is not None:
                    wanted = extra_headers(scope)
                    present = {k.lower() for k, _ in headers}
                    headers += [h for h in wanted if h[0] not in present]
                headers.append((REQUEST_ID, rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await handler(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - start
            # The route template (/api/scans/{code}), never the path itself: it may hold a code or id.
            route = scope.get("path_template") or ("static" if status < 400 else "unmatched")
            method = scope["method"]
            _count(method, route, status, elapsed)
            pool = getattr(app.state, "pool", None)
            if pool is not None:
                metrics.pool_usage(pool)
            logs.event(log, "request", method=method, path=route, status=status,
                       duration_ms=round(elapsed * 1000, 2), user_id=scope.get("linli_user_id"), request_id=rid)

    return observed

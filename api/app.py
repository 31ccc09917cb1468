"""The Litestar application: wiring only. Rules live in domain/, one controller module per
capability; which capabilities there are is api/capabilities.py's list."""

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.response import File
from litestar.static_files import create_static_files_router

from api import capabilities, errors, observe, openapi_errors, strict_query
from api.deps import provide_actor, provide_pool
from domain.core import db, logs, metrics, settings, sweeper
from domain.core.errors import DomainError

FRONTEND = db.ROOT / "frontend"
log = logging.getLogger("linli")


SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(self), geolocation=(self), microphone=()",
}
# The API reference at /schema is Litestar's Scalar page: its script, stylesheet and icon come from
# the jsDelivr CDN and it styles itself inline. Still no inline or foreign script beyond that one CDN.
DOCS_CSP = ("default-src 'self'; script-src 'self' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "font-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def _is_docs_page(path: str) -> bool:
    return (path == "/schema" or path.startswith("/schema/")) and not path.endswith((".json", ".yaml", ".yml"))


@get("/healthz", include_in_schema=True, tags=["service"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. It reads no database, so a load balancer or orchestrator does
    not restart every worker while PostgreSQL is away (that is /readyz's business)."""
    return {"status": "ok"}


_DB_DOWN = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
            asyncpg.InternalClientError)


@get("/readyz", include_in_schema=True, tags=["service"],
     responses={503: ResponseSpec(dict[str, str | list[str]], generate_examples=False,
                                 description='{"status": "degraded", "database": "down"}, or "database": "ok" '
                                             'with "pending_migrations": [...]')})
async def readyz(state: State) -> Response[dict[str, str | list[str]]]:
    """Readiness: the database answers and every migration this code knows is applied."""
    try:
        async with state.pool.acquire(timeout=2) as conn:
            applied = set(await conn.fetchval("select coalesce(array_agg(name), '{}') from schema_migrations",
                                              timeout=2))
    except _DB_DOWN:
        return Response({"status": "degraded", "database": "down"}, status_code=503)
    pending = sorted(p.name for p in db.migration_files() if p.name not in applied)
    if pending:
        return Response({"status": "degraded", "database": "ok", "pending_migrations": pending}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


@get("/metrics", include_in_schema=False)
async def metrics_text(request: Request, state: State) -> Response[bytes]:
    """Prometheus metrics of every worker, for a scraper holding LINLI_METRICS_TOKEN; without a
    configured token the route does not exist (404)."""
    token = settings.get().metrics_token
    if not token:
        raise DomainError("not_found", details={"what": "route"})
    sent = request.headers.get("authorization", "")
    if not (sent[:7].lower() == "bearer " and hmac.compare_digest(sent[7:].strip().encode(), token.encode())):
        raise DomainError("unauthenticated")
    metrics.pool_usage(state.pool)
    from prometheus_client import CONTENT_TYPE_LATEST
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _page(name: str) -> File:
    return File(FRONTEND / name, content_disposition_type="inline", media_type=MediaType.HTML)


# The app shell the service worker keeps (frontend/sw.js): every page, script, style, catalogue and
# picture the pages load, so a page visited once opens with no network.
SHELL_SUFFIXES = (".html", ".css", ".js", ".svg")


def shell_files(root: Path = FRONTEND) -> list[str]:
    return sorted("/" + p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.suffix in SHELL_SUFFIXES and p.name != "sw.js")


def service_worker_text(root: Path = FRONTEND) -> str:
    """Frontend/sw.js with its version (a hash of the worker and of every shell file) and its file
    list filled in: a release that changes any of them is a new worker, whose activation drops the
    old version's caches, so nobody keeps running last release's scripts."""
    template = (root / "sw.js").read_text(encoding="utf-8")
    files = shell_files(root)
    digest = hashlib.sha256(template.encode())
    for name in files:
        digest.update(name.encode() + b"\0" + (root / name.lstrip("/")).read_bytes())
    return template.replace('"__VERSION__"', json.dumps(digest.hexdigest()[:16]), 1).replace(
        "__SHELL__", json.dumps(files), 1)


_served_worker = functools.cache(service_worker_text)  # a release is a restart: computed once


@get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    # no-cache: the browser asks every time whether the worker changed (it checks at most daily anyway).
    return Response(_served_worker(), media_type="text/javascript; charset=utf-8",
                    headers={"cache-control": "no-cache"})


@get("/s/{code:str}", include_in_schema=False)
async def scan_page(code: str) -> File:
    """What any phone camera opens: the page resolves the code through the JSON API."""
    return _page("scan.html")


@get("/v/{code:str}", include_in_schema=False)
async def verify_page(code: str) -> File:
    """Where a certificate's QR leads: the page checks the code through /api/verify/<code>."""
    return _page("verify.html")


@get("/j/{code:str}", include_in_schema=False)
async def join_page(code: str) -> File:
    """A community's join QR: the page asks to join through the JSON API."""
    return _page("join.html")


@get("/kiosk/{activity_id:str}", include_in_schema=False)
async def kiosk_page(activity_id: str) -> File:
    return _page("kiosk.html")


_SECURITY = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
_DOCS_SECURITY = [(k, DOCS_CSP.encode() if k == b"content-security-policy" else v) for k, v in _SECURITY]


def _security_headers(scope) -> list[tuple[bytes, bytes]]:
    """The security headers of every answer, added in api/observe.py around the whole app: Litestar
    runs middleware only for matched routes, so its own 404/405 answers (e.g. /api/no-such-thing)
    would go out bare. Encoded once."""
    return _DOCS_SECURITY if _is_docs_page(scope.get("path", "")) else _SECURITY


def create_app(database_url: str | None = None, *, run_sweeper: bool = True, pool_size: int | None = None) -> Litestar:
    capabilities.install()  # the scan resolver's and the sweeper's tables, from the one list
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or db.database_url()
        await db.migrate(url)
        size = pool_size or settings.get().pool_size
        app.state.pool = await db.create_pool(url, min_size=min(2, size), max_size=size)
        metrics.pool_usage(app.state.pool)
        task = asyncio.create_task(sweeper.run_forever(app.state.pool)) if run_sweeper else None
        try:
            yield
        finally:
            if task:
                task.cancel()
            await app.state.pool.close()
            metrics.process_exits()

    static = create_static_files_router(path="/", directories=[FRONTEND], html_mode=True, include_in_schema=False,
                                        name="frontend")
    app = Litestar(
        route_handlers=[healthz, readyz, metrics_text, scan_page, join_page, verify_page, kiosk_page, service_worker,
                        *capabilities.controllers(), static],
        dependencies={"pool": Provide(provide_pool), "actor": Provide(provide_actor)},
        exception_handlers=errors.HANDLERS,
        lifespan=[lifespan],
        middleware=[strict_query.middleware],
        request_max_body_size=1024 * 1024,
        # Pages on phone networks: brotli (a fifth smaller than gzip on our catalogues and scripts) for
        # browsers that take it, gzip for the rest.
        compression_config=CompressionConfig(backend="brotli", brotli_gzip_fallback=True, minimum_size=1024),
        openapi_config=OpenAPIConfig(title="Linli API", version="0.1.0", path="/schema",
                                     render_plugins=[ScalarRenderPlugin()]),
        debug=False,
        logging_config=None,  # logs are domain/core/logs.py's one format; Litestar's would print each line twice
    )
    openapi_errors.document(app)
    logs.configure()
    app.asgi_handler = observe.wrap(app, app.asgi_handler, _security_headers)
    return app

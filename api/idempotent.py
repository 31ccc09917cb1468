"""Handlers that move value call `respond` with their domain action; it applies the
Idempotency-Key header (see domain/idempotency.py) and renders the JSON answer."""

from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response

from domain.core import idempotency
from domain.core.actor import Actor


async def respond(request: Request, actor: Actor, action: idempotency.Action,
                  status: "int | Callable[[Any], int]" = 200) -> Response:
    key = request.headers.get("idempotency-key")
    fingerprint = idempotency.request_hash(request.method, request.url.path, await request.body()) if key else ""
    code, body = await idempotency.run(request.app.state.pool, action, user_id=actor.id, key=key,
                                       fingerprint=fingerprint, status=status)
    return Response(body, status_code=code, media_type=MediaType.JSON)

"""Replay protection for value-moving requests: the same key from the same person returns the
first answer and moves nothing again; the same key with a different request is a conflict.

The key row is inserted in the same transaction as the movement, so a concurrent replay waits on
the key's unique index until the first commits, and a failed first attempt leaves no key behind.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from domain.core.errors import DomainError

Action = Callable[[asyncpg.Connection], Awaitable[Any]]


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


async def run(pool: asyncpg.Pool, action: Action, *, user_id: int | None = None, key: str | None = None,
              fingerprint: str = "", status: "int | Callable[[Any], int]" = 200) -> tuple[int, Any]:
    """Run `action` in one transaction; with a key, at most once per (user, key). Returns (status, body).
    `status` may be a function of the action's result (an adjustment: 201 posted, 202 waiting for approval)."""
    decide = status if callable(status) else (lambda result: status)
    if key is not None and not 1 <= len(key) <= 200:
        raise DomainError("validation_failed", field="Idempotency-Key", details={"problem": "1 to 200 characters"})
    async with pool.acquire() as conn, conn.transaction():
        if key is None or user_id is None:
            result = await action(conn)
            return decide(result), msgspec.to_builtins(result)
        fresh = await conn.fetchval(
            "insert into idempotency_keys (user_id, key, request_hash) values ($1, $2, $3) "
            "on conflict do nothing returning true", user_id, key, fingerprint)
        if not fresh:
            first = await conn.fetchrow(
                "select request_hash, status, response from idempotency_keys where user_id = $1 and key = $2",
                user_id, key)
            if first["request_hash"] != fingerprint:
                raise DomainError("idempotency_conflict", details={"field": "Idempotency-Key"})
            return first["status"], first["response"]
        result = await action(conn)
        code, body = decide(result), msgspec.to_builtins(result)
        await conn.execute("update idempotency_keys set status = $3, response = $4 where user_id = $1 and key = $2",
                           user_id, key, code, body)
        return code, body

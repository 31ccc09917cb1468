"""Periodic clean-up every API process runs: each capability's sweeps (expired holds, lapsed
redemptions, check-outs at the window end, ...), installed from api/capabilities.py.

Each sweep must be safe when several processes run it at once (SKIP LOCKED or state checks).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from domain.core import clock

log = logging.getLogger("linli.sweeper")

Sweep = Callable[[asyncpg.Pool, datetime], Awaitable[int]]
SWEEPS: list[Sweep] = []  # set once by `install`; no capability registers itself on import


def install(sweeps: Sequence[Sweep]) -> None:
    SWEEPS[:] = sweeps


async def sweep_once(pool: asyncpg.Pool) -> int:
    done = 0
    for sweep in SWEEPS:
        try:
            done += await sweep(pool, clock.now())
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                asyncpg.InternalClientError) as exc:  # the database is away: next round
            log.warning("sweep %s failed: %s", sweep.__name__, exc)
        except Exception:  # a bug in one sweep must not stop the others, nor the next rounds
            log.exception("sweep %s crashed", sweep.__name__)
    return done


async def run_forever(pool: asyncpg.Pool, every_seconds: float = 30) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        await sweep_once(pool)

"""Periodic clean-up every API process runs: each capability's sweeps (expired holds, lapsed
redemptions, check-outs at the window end, ...), installed from api/capabilities.py.

Each sweep must be safe when several processes run it at once (SKIP LOCKED or state checks).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from domain.core import clock, logs, metrics

log = logging.getLogger("linli.sweeper")

Sweep = Callable[[asyncpg.Pool, datetime], Awaitable[int]]
SWEEPS: list[Sweep] = []  # set once by `install`; no capability registers itself on import


def install(sweeps: Sequence[Sweep]) -> None:
    SWEEPS[:] = sweeps


async def sweep_once(pool: asyncpg.Pool) -> int:
    """Run every sweep once; one log line for the run (what each did, which failed)."""
    done, results, failed = 0, {}, []
    start = time.perf_counter()
    for sweep in SWEEPS:
        name = sweep.__name__
        metrics.SWEEP_RUNS.labels(sweep=name).inc()
        try:
            results[name] = await sweep(pool, clock.now())
            done += results[name]
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                asyncpg.InternalClientError) as exc:  # the database is away: next round
            failed.append(name)
            metrics.SWEEP_FAILURES.labels(sweep=name).inc()
            log.warning("sweep %s failed: %s", name, type(exc).__name__)
        except Exception:  # a bug in one sweep must not stop the others, nor the next rounds
            failed.append(name)
            metrics.SWEEP_FAILURES.labels(sweep=name).inc()
            log.exception("sweep %s crashed", name)
    logs.event(log, "sweep", duration_ms=round((time.perf_counter() - start) * 1000, 2), done=done,
               results=results, failed=failed)
    return done


async def run_forever(pool: asyncpg.Pool, every_seconds: float = 30) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        await sweep_once(pool)

"""Periodic clean-up every API process runs: each capability's sweeps (expired holds, lapsed
redemptions, check-outs at the window end, ...), installed from api/capabilities.py.

Each sweep must be safe when several processes run it at once (SKIP LOCKED or state checks), and
must handle each row through `one_row`: a row that fails (a bug, or data left in a state the sweep
cannot handle) is logged, counted in `failures` and skipped, so it never stops the other rows nor
the rounds after it. `failures` is an in-process counter (per API process, reset at restart),
shown by GET /metrics as linli_sweep_row_failures_total{sweep="..."}; the row itself stays as it
was and is tried again next round, so a poisoned row shows as a steadily growing count.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg

from domain.core import clock, logs, metrics

log = logging.getLogger("linli.sweeper")

Sweep = Callable[[asyncpg.Pool, datetime], Awaitable[int]]
SWEEPS: list[Sweep] = []  # set once by `install`; no capability registers itself on import


failures: Counter[str] = Counter()  # sweep name -> rows that failed since this process started

T = TypeVar("T")

# The database itself is away: no row is to blame, so the whole round stops (sweep_once logs it).
_AWAY = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.InternalClientError,
         asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError)


async def one_row(pool: asyncpg.Pool, sweep: str, row_id: object,
                  handle: Callable[[asyncpg.Connection], Awaitable[T]]) -> T | None:
    """Run `handle` for one row in its own short transaction. If it fails, the transaction rolls
    back, the failure is logged and counted, and None is returned: the caller goes on."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            return await handle(conn)
    except _AWAY:
        raise
    except Exception:
        failures[sweep] += 1
        log.exception("sweep %s: row %s failed and was skipped", sweep, row_id)
        return None


async def one_call(sweep: str, row_id: object, call: Callable[[], Awaitable[T]]) -> T | None:
    """`one_row` for a row whose handling takes its own connections (an outbox delivery must not
    hold a transaction across its HTTP call): a failure is logged, counted and skipped alike."""
    try:
        return await call()
    except _AWAY:
        raise
    except Exception:
        failures[sweep] += 1
        log.exception("sweep %s: row %s failed and was skipped", sweep, row_id)
        return None


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

"""What an operator graphs, as Prometheus metrics (prometheus_client).

With several worker processes (`linli serve --workers N`) each worker writes its values to files in
PROMETHEUS_MULTIPROC_DIR and a scrape of any worker sums them all (multiprocess mode; the folder
must be set before prometheus_client is first imported, which `linli serve` does). Without it the
values live in this process (tests, a single process under another ASGI server).

Business counters count only what committed: they are bumped through `db.after_commit`.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from domain.core import db, settings

REQUESTS = Counter("linli_requests", "HTTP requests by method, route template and status",
                   ["method", "route", "status"])
LATENCY = Histogram("linli_request_seconds", "HTTP request duration by method and route template",
                    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf")))
POOL_SIZE = Gauge("linli_db_pool_connections", "database connections open in the pools of live processes",
                  multiprocess_mode="livesum")
POOL_IN_USE = Gauge("linli_db_pool_in_use", "database connections lent out (in use) in live processes",
                    multiprocess_mode="livesum")
SCANS = Counter("linli_scans", "QR scans by result (what the scan did, or refused) and refusal reason "
                "(empty when accepted)", ["result", "reason"])
POINTS_ISSUED = Counter("linli_points_issued", "points awarded to people (check-ins, reports, rankings)")
POINTS_REDEEMED = Counter("linli_points_redeemed", "points spent on rewards in the moral supermarket")
REDEMPTIONS = Counter("linli_redemptions", "redemptions entering each state (requested, approved, rejected, "
                      "cancelled, expired, fulfilled)", ["state"])
REPORTS = Counter("linli_reports", "courier reports entering each state (pending: filed; verified; rejected)", ["state"])
NOTIFICATIONS = Counter("linli_notifications", "notification messages by kind, channel (inbox, sms, wechat) and "
                        "state (queued: committed with its act; sent, retry, failed: a delivery attempt's outcome)",
                        ["kind", "channel", "state"])
SWEEP_RUNS = Counter("linli_sweep_runs", "background sweep runs by sweep", ["sweep"])
SWEEP_FAILURES = Counter("linli_sweep_failures", "background sweep runs that failed, by sweep", ["sweep"])


def counted(conn, counter, amount: int = 1) -> None:
    """Add `amount` to `counter` once `conn`'s transaction commits."""
    if amount:
        db.after_commit(conn, lambda: counter.inc(amount))


def scan(result: str, reason: str = "") -> None:
    SCANS.labels(result=result, reason=reason).inc()


def transfer_posted(conn, unit: str, kind: str, amount: int) -> None:
    """A ledger movement of `amount` was posted in `conn`'s transaction."""
    if unit != "points":
        return
    if kind == "award":
        counted(conn, POINTS_ISSUED, amount)
    elif kind == "redemption":
        counted(conn, POINTS_REDEEMED, amount)


def redemption(conn, state: str) -> None:
    counted(conn, REDEMPTIONS.labels(state=state))


def report(conn, state: str) -> None:
    counted(conn, REPORTS.labels(state=state))


def notification(conn, kind: str, channel: str, state: str) -> None:
    """A message queued in `conn`'s transaction (counted once it commits), or, with `conn` None, the
    outcome of a delivery attempt already written."""
    counter = NOTIFICATIONS.labels(kind=kind, channel=channel, state=state)
    if conn is None:
        counter.inc()
    else:
        counted(conn, counter)


# What this process last wrote to the pool gauges (with its pid: a forked child has files of its own).
_pool_written: tuple[int, int, int] | None = None


def pool_usage(pool) -> None:
    """Set the pool gauges (after every request): written only when they change, since in
    multiprocess mode each write goes to the worker's memory-mapped file."""
    global _pool_written
    size = pool.get_size()
    now = (os.getpid(), size, size - pool.get_idle_size())
    if now != _pool_written:
        POOL_SIZE.set(now[1])
        POOL_IN_USE.set(now[2])
        _pool_written = now


def process_exits() -> None:
    """A worker stops: its pool gauges leave the sums (its counters stay counted)."""
    folder = settings.get().metrics_dir
    if folder:
        multiprocess.mark_process_dead(os.getpid(), str(folder))


def render() -> bytes:
    """The Prometheus text of every process (multiprocess mode) or of this one."""
    folder = settings.get().metrics_dir
    if folder is None:
        from prometheus_client import REGISTRY
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    return generate_latest(registry)

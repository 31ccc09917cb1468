"""Prometheus text metrics of this process: requests and latency by route, pool usage."""

import time
from collections import defaultdict

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from domain.core import sweeper

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
_counts: dict[tuple[str, str, int], int] = defaultdict(int)
_hist: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
_sums: dict[tuple[str, str], float] = defaultdict(float)


def middleware(app: ASGIApp) -> ASGIApp:
    async def measure(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            route = scope.get("path_template") or ("static" if status < 400 else "unmatched")
            key = (scope["method"], route)
            elapsed = time.perf_counter() - start
            _counts[(*key, status)] += 1
            _sums[key] += elapsed
            for i, bound in enumerate(BUCKETS):
                if elapsed <= bound:
                    _hist[key][i] += 1

    return measure


def render(pool_size: int, pool_idle: int) -> str:
    lines = ["# TYPE linli_requests_total counter"]
    for (method, route, status), n in sorted(_counts.items()):
        lines.append(f'linli_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
    lines.append("# TYPE linli_request_seconds histogram")
    for (method, route), counts in sorted(_hist.items()):
        labels = f'method="{method}",route="{route}"'
        for bound, n in zip(BUCKETS, counts):
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'linli_request_seconds_bucket{{{labels},le="{le}"}} {n}')
        lines.append(f"linli_request_seconds_sum{{{labels}}} {_sums[(method, route)]:.6f}")
        lines.append(f"linli_request_seconds_count{{{labels}}} {counts[-1]}")
    lines.append("# TYPE linli_sweep_row_failures_total counter")  # rows a sweep skipped (domain/core/sweeper.py)
    for sweep, n in sorted(sweeper.failures.items()):
        lines.append(f'linli_sweep_row_failures_total{{sweep="{sweep}"}} {n}')
    lines += ["# TYPE linli_db_pool_connections gauge", f"linli_db_pool_connections {pool_size}",
              "# TYPE linli_db_pool_idle gauge", f"linli_db_pool_idle {pool_idle}"]
    return "\n".join(lines) + "\n"

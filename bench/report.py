"""Pure helpers: percentiles, medians, ratios and the plain-text tables the run prints."""

import math
import platform
import subprocess
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max and the mean of latencies given in seconds, reported in milliseconds (the mean
    is the fair-tail target's reference: p99 at most twice the mean means no convoys)."""
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)
    return {"p50_ms": ms(percentile(seconds, 50)), "p95_ms": ms(percentile(seconds, 95)),
            "p99_ms": ms(percentile(seconds, 99)), "max_ms": ms(max(seconds) if seconds else None),
            "mean_ms": ms(sum(seconds) / len(seconds) if seconds else None)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.01 else f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """Columns separated by two spaces: numbers right-aligned, text (and the first column) left-aligned."""
    rows = [list(row) for row in rows]
    numeric = [i > 0 and all(isinstance(r[i], (int, float, type(None))) for r in rows) for i in range(len(headers))]
    text = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(text[0]), rule] + [line(r) for r in text[1:]])


def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
    """'ok' or 'MISS' against a target (or '-' when not measured)."""
    if value is None:
        return "-"
    return "ok" if (value <= limit if at_most else value >= limit) else "MISS"


def machine() -> dict:
    """What the figures were measured on, for the README and the JSON."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in __import__("os").getloadavg()]
    except OSError:
        load = []
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    cores = __import__("os").cpu_count()
    kernel = platform.release()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu, "cores": cores, "memory_gb": round(mem_kb / 1024 / 1024, 1), "kernel": kernel,
            "python": platform.python_version(), "load_average_at_start": load, "git_commit": commit}

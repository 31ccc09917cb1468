"""Every status an operation answers is one its OpenAPI entry lists.

The app counts every request by method, route template and status (domain/core/metrics.REQUESTS).
After a test session, whatever the tests sent (the API tests, the authorisation matrix, the
fuzzing, the browser's pages), each (operation, status) seen must be documented. Fuzzing alone finds
an undocumented status only when its seed happens to send the request that answers it; the whole
suite sends far more. conftest.py runs the check when a test process ends.
"""

from collections.abc import Iterable

from domain.core import metrics

Seen = tuple[str, str, int]  # (method, route template, status)


def seen_in_this_process() -> set[Seen]:
    found = set()
    for family in metrics.REQUESTS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.value > 0:
                labels = sample.labels
                found.add((labels["method"], labels["route"], int(labels["status"])))
    return found


def undocumented(seen: Iterable[Seen], openapi: dict) -> list[str]:
    """The (operation, status) pairs that were answered but are not in the OpenAPI document.
    Routes the document leaves out on purpose (pages, /healthz, /metrics) are not operations."""
    problems = []
    paths = openapi.get("paths", {})
    for method, route, status in sorted(seen):
        operation = paths.get(route, {}).get(method.lower())
        if operation is None:
            continue
        if str(status) not in operation.get("responses", {}):
            problems.append(f"{method} {route} answered {status}, which its OpenAPI entry does not list")
    return problems

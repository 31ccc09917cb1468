"""Every operation of the OpenAPI is reachable from some page, or docs/pageless-operations.md says
why it has none (integrations, kiosks, the HTTP contract's own endpoints). Issue 31: a city run
from pages, not from API calls. A page "reaches" an operation when its scripts name the path (a
template literal's `${...}` stands for a path parameter, and for the last word of the path)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "pageless-operations.md"
LISTED = re.compile(r"^- `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`", re.M)


def _segments(parts: list[str], first: int = 0) -> list[str]:
    out = []
    for index, part in enumerate(parts, start=first):
        if part.startswith("{"):
            out.append(r"(?:\$\{[^}]+\}|[0-9A-Za-z_.-]+)")
        elif index == len(parts) - 1 and index >= 2:
            out.append(f"(?:{re.escape(part)}|\\$\\{{[^}}]+\\}})")
        else:
            out.append(re.escape(part))
    return out


def _pattern(path: str) -> re.Pattern:
    """The path in a string or template literal; or, after its first parameter, behind a `${base()}`
    that stands for the part up to it (joining.js: `${base()}/join-code`)."""
    parts = path.strip("/").split("/")
    whole = "/" + "/".join(_segments(parts))
    alternatives = [whole]
    params = [i for i, p in enumerate(parts) if p.startswith("{")]
    if params and params[0] < len(parts) - 1:
        alternatives.append(r"\$\{[^}]+\}/" + "/".join(_segments(parts[params[0] + 1:], params[0] + 1)))
    return re.compile(r"[`'\"](?:" + "|".join(alternatives) + r")(?:[`'\"?]|\$\{)")


def _frontend() -> str:
    files = list((ROOT / "frontend" / "js").glob("*.js")) + list((ROOT / "frontend").glob("*.html"))
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def _spec(app) -> set[tuple[str, str]]:
    spec = app.openapi_schema.to_schema()
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item
            if m in ("get", "post", "put", "patch", "delete")}


def test_every_operation_has_a_page_or_a_reason(app):
    text = _frontend()
    listed = {(m, p) for m, p in LISTED.findall(DOC.read_text(encoding="utf-8"))}
    operations = _spec(app)
    # the method is not checked against the page: a page naming the path is taken to offer what it does with it
    reached = {(m, p) for m, p in operations if _pattern(p).search(text)}
    missing = operations - reached - listed
    assert not missing, "no page reaches these and docs/pageless-operations.md gives no reason: " + \
        "\n".join(f"{m} {p}" for m, p in sorted(missing, key=lambda x: (x[1], x[0])))
    stale = listed - operations
    assert not stale, f"docs/pageless-operations.md lists operations the API no longer has: {sorted(stale)}"


def test_the_pattern_reads_template_literals():
    assert _pattern("/api/units/{unit_id}/view").search("api(\"GET\", `/api/units/${state.unit}/view?q=1`)")
    assert _pattern("/api/me/role-invites/{invite_id}/accept").search("`/api/me/role-invites/${i.id}/${action}`")
    assert not _pattern("/api/units/{unit_id}/view").search("`/api/units/${id}/views`")

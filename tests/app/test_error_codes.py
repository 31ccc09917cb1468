"""The closed list of error codes (domain/core/reasons.py) and its mirrors (issue 15): every code
has a Chinese and an English text and an HTTP status, and every code the domain raises is one of
them. There is no database table of error codes; the scan-refusal subset is pinned to the
database in test_code_lists.py."""

import ast
from pathlib import Path

from api.errors import STATUS
from domain.checkin.scans import LOGGED_REASONS
from domain.core.reasons import REASONS, explain

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_has_chinese_and_english_text():
    for code, (zh, en) in REASONS.items():
        assert zh.strip() and en.strip(), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), f"{code}: the zh text is not Chinese"
        assert en.isascii() and en != zh, f"{code}: the en text is not English"
        assert explain(code, "zh") == zh and explain(code, "en") == en


def test_every_code_has_a_status_and_every_status_a_code():
    assert set(STATUS) == set(REASONS)
    assert all(400 <= status <= 599 for status in STATUS.values())
    # The statuses the API contract names for the codes people meet most.
    assert {code: STATUS[code] for code in ("validation_failed", "unauthenticated", "forbidden", "not_found",
                                            "insufficient_balance", "code_unknown", "code_expired",
                                            "rate_limited", "internal")} == {
        "validation_failed": 422, "unauthenticated": 401, "forbidden": 403, "not_found": 404,
        "insufficient_balance": 409, "code_unknown": 404, "code_expired": 410, "rate_limited": 429,
        "internal": 500}


def test_logged_scan_reasons_are_error_codes():
    assert LOGGED_REASONS <= set(REASONS)


def _raised_codes() -> set[str]:
    """Every literal code passed to DomainError(...) in api/ and domain/."""
    found = set()
    for top in ("api", "domain"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                        == "DomainError" and node.args and isinstance(node.args[0], ast.Constant)):
                    found.add(node.args[0].value)
    return found


def test_every_code_the_domain_raises_is_in_the_table():
    raised = _raised_codes()
    assert {"code_unknown", "limit_reached", "invalid_state"} <= raised  # the search finds them
    assert raised <= set(REASONS)

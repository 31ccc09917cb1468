"""Pure rules of recognition: the rulebook's items, a deduction's due process and what it
takes, medals and selections. No database.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

# How long the person has to appeal a proposed deduction before a second manager may post it.
APPEAL_DAYS = 7
ITEM_KINDS = ("earn", "deduct")
MAX_ITEMS = 50
CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
# What an earning item may pay for besides activities: a verified courier report of each kind
# (domain/reports) and the reporter's bonus for a case closed in time (domain/cases). Where the
# rulebook in force has no item for one, the report settings' amounts apply.
APPLIES_TO = ("report_civility", "report_hazard", "report_service", "case_in_time")


def report_purpose(kind: str) -> str:
    """The `applies_to` of the item that pays for a verified report of this kind."""
    return f"report_{kind}"


CASE_IN_TIME = "case_in_time"


class RuleProblem(ValueError):
    """An item of a proposed rulebook breaks a rule: `field` names it (items[2].clause)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def check_items(items: Sequence[Mapping[str, Any]], taken_codes: Iterable[str] = ()) -> None:
    """A version's own items: 1..MAX_ITEMS, codes unique (also against the base it extends), every
    deduction names the compact clause it enforces, a cap only on what earns, at most one earning
    item per purpose (applies_to) besides activities."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise RuleProblem("items", f"1 to {MAX_ITEMS} items")
    seen = set(taken_codes)
    purposes: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not CODE.match(item.get("code") or ""):
            raise RuleProblem(f"{where}.code", "1 to 20 letters, digits, - or _")
        if item["code"] in seen:
            raise RuleProblem(f"{where}.code", "already used in this rulebook or its base")
        seen.add(item["code"])
        if item.get("kind") not in ITEM_KINDS:
            raise RuleProblem(f"{where}.kind", "earn or deduct")
        if not (item.get("title") or "").strip():
            raise RuleProblem(f"{where}.title", "required")
        if item["kind"] == "deduct" and not (item.get("clause") or "").strip():
            raise RuleProblem(f"{where}.clause", "a deduction names the compact clause it enforces")
        if item["kind"] == "deduct" and item.get("daily_cap") is not None:
            raise RuleProblem(f"{where}.daily_cap", "only what earns has a daily cap")
        purpose = item.get("applies_to")
        if purpose is not None:
            if purpose not in APPLIES_TO:
                raise RuleProblem(f"{where}.applies_to", f"one of {', '.join(APPLIES_TO)}")
            if item["kind"] != "earn":
                raise RuleProblem(f"{where}.applies_to", "only what earns pays for reports or cases")
            if purpose in purposes:
                raise RuleProblem(f"{where}.applies_to", "one item per purpose in a version")
            purposes.add(purpose)


def appeal_until(proposed_at: datetime) -> datetime:
    return proposed_at + timedelta(days=APPEAL_DAYS)


def decidable(now: datetime, until: datetime, appealed: bool) -> bool:
    """A second manager decides once the person has appealed (the appeal is what they weigh) or the
    appeal window has passed without one: never while the person may still object."""
    return appealed or now >= until


def may_appeal(now: datetime, until: datetime, appealed: bool) -> bool:
    return not appealed and now < until


def take(amount: int, available: int) -> tuple[int, int]:
    """(taken, unrecovered): a deduction takes what the person has, never below zero; the rest is
    recorded, not owed."""
    taken = max(0, min(amount, available))
    return taken, amount - taken


def rule_label(org_name: str, version: int, code: str, title: str) -> str:
    """How a statement line and a page name the rule applied: 《XX社区积分细则》第2版 B1 扣分项名."""
    return f"《{org_name}积分细则》第{version}版 {code} {title}"


# ---- medals (勋章) ----------------------------------------------------------------------------------

MEDAL_KINDS = ("hours", "communities", "quarters", "hazards")
# Where no street or community defines its own, these apply (10/50/100/300 hours, first
# service in a second community, four quarters in a row, 10 hazards confirmed).
DEFAULT_MEDALS: tuple[tuple[str, int, str], ...] = (
    ("hours", 10, "志愿服务10小时"), ("hours", 50, "志愿服务50小时"), ("hours", 100, "志愿服务100小时"),
    ("hours", 300, "志愿服务300小时"), ("communities", 2, "跨社区服务"), ("quarters", 4, "连续四个季度"),
    ("hazards", 10, "隐患哨兵"),
)


def medal_code(kind: str, threshold: int) -> str:
    return f"{kind}:{threshold}"


def longest_quarter_run(quarters: Iterable[tuple[int, int]]) -> int:
    """The longest run of consecutive quarters (year, 1..4) in which the person earned."""
    index = sorted({year * 4 + (q - 1) for year, q in quarters})
    best = run = 0
    for i, value in enumerate(index):
        run = run + 1 if i and value == index[i - 1] + 1 else 1
        best = max(best, run)
    return best


def earned_medals(metrics: Mapping[str, int], medal_rules: Iterable[tuple[str, int, str]]) -> list[tuple[str, str]]:
    """(code, name) of every rule the person's figures reach: hours served, communities served in,
    the longest run of quarters, hazards confirmed."""
    return [(medal_code(kind, threshold), name) for kind, threshold, name in medal_rules
            if metrics.get(kind, 0) >= threshold]


# ---- selections (评选) ------------------------------------------------------------------------------

SELECTION_TITLES = {"person": "道德模范", "household": "最美家庭"}


def check_ballot(candidate_ids: list[int], allowed: set[int], max_votes: int) -> None:
    if not candidate_ids:
        raise RuleProblem("candidate_ids", "choose at least one candidate")
    if len(set(candidate_ids)) != len(candidate_ids):
        raise RuleProblem("candidate_ids", "each candidate once")
    if len(candidate_ids) > max_votes:
        raise RuleProblem("candidate_ids", f"at most {max_votes} candidates")
    if not set(candidate_ids) <= allowed:
        raise RuleProblem("candidate_ids", "candidates of this selection")


def committee_may_decide(decider: int, subjects: set[int]) -> bool:
    """Nobody decides a selection they are the subject of (a candidate, or in a candidate household)."""
    return decider not in subjects

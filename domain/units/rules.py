"""Pure rules of 双报到: unit kinds, roster rows, rates and the ranking of units. No database."""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

KINDS = ("government", "enterprise", "school", "institution", "social", "other")
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
MAX_ROSTER_ROWS = 5000


@dataclass(frozen=True)
class RosterRow:
    line: int
    phone: str
    name: str


@dataclass(frozen=True)
class RosterProblem:
    line: int
    problem: str  # bad_phone | missing_name | duplicate


def parse_roster(data: bytes) -> tuple[list[RosterRow], list[RosterProblem]]:
    """A CSV of phone,name (a header row is optional; Excel's BOM and GBK are accepted). Every bad
    row is reported with its line number; good rows are returned once each."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    rows, problems, seen = [], [], set()
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise ValueError("not a CSV file of phone,name lines") from None
    for line, fields in enumerate(lines, start=1):
        if not any(f.strip() for f in fields):
            continue
        phone = unicodedata.normalize("NFKC", fields[0]).replace(" ", "").replace("-", "") if fields else ""
        name = " ".join(fields[1].split()) if len(fields) > 1 else ""
        if line == 1 and not PHONE.match(phone) and not phone.isdigit():
            continue  # a header row such as 手机号,姓名
        if not (phone.isascii() and PHONE.match(phone)):
            problems.append(RosterProblem(line, "bad_phone"))
        elif not name or len(name) > 100:
            problems.append(RosterProblem(line, "missing_name"))
        elif phone in seen:
            problems.append(RosterProblem(line, "duplicate"))
        else:
            seen.add(phone)
            rows.append(RosterRow(line, phone, name))
        if len(rows) + len(problems) > MAX_ROSTER_ROWS:
            raise ValueError(f"at most {MAX_ROSTER_ROWS} rows")
    return rows, problems


def rate(part: int, whole: int) -> float:
    """A share in percent with one decimal, 0 when there is nobody to count."""
    return round(100 * part / whole, 1) if whole else 0.0


def met_target(minutes: int, target_minutes: int | None) -> bool:
    return target_minutes is not None and minutes >= target_minutes

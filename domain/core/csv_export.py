"""The one CSV writer of every export (audit log, ledger, rankings, settlements, statements): UTF-8
with a byte-order mark (Excel opens the Chinese header correctly), CRLF line ends, and cells that
would start a formula in Excel quoted as text."""

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # numbers stay numbers, even negative ones
    text = str(value)
    # A cell starting like a formula would run in Excel: quote it as text.
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode()

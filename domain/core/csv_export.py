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
    return page(rows, header=header)


def page(rows: Iterable[Sequence[object]], *, header: Sequence[str] | None = None) -> bytes:
    """One page of a streamed export: the first (with its header) starts with the byte-order mark,
    the next ones are lines only; the pages joined are `to_csv` of all the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        buffer.write("\ufeff")
        writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return buffer.getvalue().encode()

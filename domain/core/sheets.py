"""Reading an uploaded spreadsheet (.xlsx or .csv) into rows of cells, safely: one reader for every
import (residents, the city's lists).

An .xlsx is a zip of XML, and a hostile one can declare a sheet of a million rows by 16,384 columns
(openpyxl's read-only reader pads every row up to the declared width and fills every missing row),
or compress gigabytes into a few kilobytes. So, before openpyxl parses anything:
- the zip's members are summed as declared and each member's compression ratio is bounded;
- rows are streamed (read_only) with an explicit column bound, and counted as they come, blank
  rows included, so a declared dimension never decides how much work is done.
It is CPU work: callers run it off the event loop (`await asyncio.to_thread(read_table, ...)`).
An old binary .xls (OLE2) is refused with its own reason: the person saves it as .xlsx.
"""

import csv
import io
import zipfile
from typing import Any

from domain.core.errors import DomainError, invalid

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Excel (.xls) and other OLE2 files
MAX_UNZIPPED = 200 * 1024 * 1024   # sum of the declared uncompressed sizes of an .xlsx's members
MAX_RATIO = 200                    # a member expanding more than this (and by over 1 MB) is a bomb
MAX_COLUMNS = 40                   # columns read per row; nobody's list is wider
MAX_BLANK_RUN = 1000               # consecutive blank rows after which the sheet is taken to have ended


def _refuse_bomb(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for member in archive.infolist():
                total += member.file_size
                if member.file_size > 1024 * 1024 and member.file_size > MAX_RATIO * max(member.compress_size, 1):
                    raise DomainError("too_large", field="file", details={"problem": "compressed too far"})
            if total > MAX_UNZIPPED:
                raise DomainError("too_large", field="file", details={"max_unzipped_bytes": MAX_UNZIPPED})
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DomainError("unsupported_media", field="file", details={"problem": "not a readable .xlsx file"}) \
            from None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves "CSV" as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("unsupported_media", field="file", details={"problem": "a .csv in UTF-8 or GBK, or an .xlsx"})
    if "\x00" in text:
        raise DomainError("unsupported_media", field="file", details={"problem": "a .csv in UTF-8 or GBK, or an .xlsx"})
    return text


def read_table(data: bytes, filename: str = "", *, max_rows: int, max_bytes: int) -> list[list[Any]]:
    """The first worksheet of an .xlsx, or a CSV (UTF-8 or GB18030), as rows of cell values (the header
    row first). At most `max_rows` rows after the header that are not blank, else `too_large`."""
    if not data:
        raise invalid("file", "the file is empty")
    if len(data) > max_bytes:
        raise DomainError("too_large", field="file", details={"max_bytes": max_bytes})
    if data[:8] == OLE2_MAGIC or filename.lower().endswith(".xls"):
        raise DomainError("old_spreadsheet", field="file")
    limit = max_rows + 1
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        _refuse_bomb(data)
        import openpyxl
        # Anything openpyxl raises on a broken file (bad XML, a missing part, a cell it cannot convert)
        # is the file's fault: 415 naming the file, never a 500. Our own refusals pass through.
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise DomainError("unsupported_media", field="file",
                              details={"problem": "not a readable .xlsx file"}) from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # read the rows that are there, not the size the file declares
            source = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            return _bounded(source, limit)
        except DomainError:
            raise
        except Exception as exc:  # a broken cell deep in the XML
            raise DomainError("unsupported_media", field="file",
                              details={"problem": type(exc).__name__}) from None
        finally:
            book.close()
    reader = csv.reader(io.StringIO(_decode(data)))
    return _bounded(([c for c in row[:MAX_COLUMNS]] for row in reader), limit)


def _bounded(source: Any, limit: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    filled = blank_run = 0
    for raw in source:
        row = list(raw)
        if any(c not in (None, "") for c in row):
            filled += 1
            blank_run = 0
            if filled > limit:
                raise DomainError("too_large", field="file", details={"max_rows": limit - 1})
        else:
            blank_run += 1
            if blank_run > MAX_BLANK_RUN:
                break  # the rest is padding a declared dimension asked for
        rows.append(row)
    while rows and not any(c not in (None, "") for c in rows[-1]):
        rows.pop()
    return rows


def cell(value: Any) -> str:
    """A cell as the text a person typed: numbers Excel kept as floats back to integers, spaces folded."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # Excel keeps 13912345678 as a number
        value = int(value)
    return " ".join(str(value).split())


def template_xlsx(title: str, header: list[str], examples: list[list[str]], text_columns: str = "") -> bytes:
    """A one-sheet template: the header, example rows, and the given columns (letters) kept as text."""
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(header)
    for row in examples:
        sheet.append(row)
    for index in range(len(header)):
        sheet.column_dimensions[chr(ord("A") + index)].width = 18
    for column in text_columns:
        for number in range(2, len(examples) + 2):
            sheet[f"{column}{number}"].number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv(header: list[str], examples: list[list[str]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM as Chinese, not mojibake
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(examples)
    return out.getvalue().encode()

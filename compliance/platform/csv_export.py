"""CSV downloads: rows written one at a time (a streamed response never holds the
whole file), each text cell guarded against formula injection."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# a spreadsheet reads a cell starting with one of these as a formula (OWASP: CSV
# injection); a leading apostrophe makes it text
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None as empty, text that a spreadsheet would take
    for a formula prefixed with ``'``; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A file-like sink that hands back what ``csv.writer`` wrote for one row."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header, then each row, as CSV lines (guarded cells)."""
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])

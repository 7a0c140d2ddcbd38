"""Whole numbers from query strings: any length, never a 500.

Python refuses to convert more than 4300 digits to an int, and ids and page numbers are
never that long, so magnitudes past a cap come back as ``cap + 1`` without converting.
"""

from __future__ import annotations

import re

# the largest id a filter compares with the database (bigint holds up to 2**63 - 1)
MAX_ID = 2**62
_WHOLE_NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<digits>[0-9]+)", re.ASCII)


def whole_number(text: str, *, cap: int, signed: bool = False) -> int | None:
    """ASCII digits (after a ``+`` or ``-`` when ``signed``) as an int, else None.

    Leading zeros are dropped; a magnitude over ``cap`` is ``cap + 1`` with its sign.
    """
    match = _WHOLE_NUMBER.fullmatch(text)
    if match is None or (match["sign"] and not signed):
        return None
    digits = match["digits"].lstrip("0") or "0"
    value = cap + 1 if len(digits) > len(str(cap)) else min(int(digits), cap + 1)
    return -value if match["sign"] == "-" else value

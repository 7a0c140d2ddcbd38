"""Every string a dossier prints has a length bound, applied before rendering: text
written within today's caps prints whole; anything longer (rows written before the
caps, texts entered where no cap applies) prints cut, with a visible marker."""

from __future__ import annotations

import re
from typing import Any

from compliance.platform import text_limits

# what the dossier prints at most, per kind of text (characters)
JUSTIFICATION = text_limits.REVIEW_JUSTIFICATION
SUPERSEDE_REASON = text_limits.SUPERSEDE_REASON
REISSUE_REASON = text_limits.REISSUE_REASON
PURPOSE = 5000  # the AI system's intended purpose (the API's cap)
LONG_TEXT = 20000  # instructions for use, known limitations, training data (API caps)
NAME = 200  # names, references, categories, feature labels
SHORT = 100  # class labels, versions, method ids, manifest values
REASON = 300  # a principal reason's text, a counterfactual step
NOTE = 1000  # notes the engine writes (no counterfactual found, ...)
HYPERPARAMETERS = 2000  # the model's hyperparameters, printed as JSON
METRICS = 20  # performance metrics printed (name and value each NAME / SHORT)
LIST_ITEMS = 50  # items of any other list printed (warnings, review reasons)
# WeasyPrint lays out an unbroken run of characters in quadratic time (20,000 of them
# in a table cell: over a minute): longer runs print with a space every RUN characters
RUN = 60
_LONG_RUN = re.compile(rf"(\S{{{RUN}}})(?=\S)")


def clip(value: Any, limit: int) -> str:
    """``value`` as text, at most about ``limit`` characters: longer text is cut and
    ends with a marker saying how long it was and where the whole of it is."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return _LONG_RUN.sub(r"\1 ", text)
    return (
        _LONG_RUN.sub(r"\1 ", text[:limit].rstrip())
        + f"… (truncated, {len(text):,} characters; full text in the audit trail/API)"
    )


def clip_list(values: Any, limit: int, items: int = LIST_ITEMS) -> list[str]:
    """At most ``items`` texts of at most ``limit`` characters each, plus a line
    saying how many more there were."""
    values = list(values or [])
    shown = [clip(v, limit) for v in values[:items]]
    if len(values) > items:
        shown.append(f"… and {len(values) - items:,} more")
    return shown

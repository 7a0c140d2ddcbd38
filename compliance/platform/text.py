"""Hostile text: the one check for identifiers, free text and JSON documents.

Refused everywhere a client's text is stored:

* NUL (PostgreSQL cannot store it in text or jsonb, so it would be a 500);
* lone surrogates (not encodable as UTF-8, so they fail when hashed or stored);
* bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C),
  with which a reference can be made to read differently in a dossier than it is
  stored ("Trojan Source" spoofing).

``text_problem`` says what is wrong with one string (or ``None``);
``json_problem`` walks a JSON value, keys and values, and names the path of the
first offender; ``hostile_text_refuse`` is what services call: a
``ValidationFailed`` (400) naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from compliance.errors import ValidationFailed

BIDI_CONTROLS = (
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
    "\u200e\u200f"  # left-to-right / right-to-left marks
    "\u061c"  # Arabic letter mark
)

_HOSTILE = re.compile(f"[\x00\ud800-\udfff{BIDI_CONTROLS}]")


def text_problem(value: str) -> str | None:
    """What makes ``value`` unacceptable as stored text, or ``None`` if nothing."""
    found = _HOSTILE.search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "Must not contain NUL characters."
    if "\ud800" <= char <= "\udfff":
        return "Must not contain unpaired surrogate characters."
    return f"Must not contain bidirectional control characters (U+{ord(char):04X})."


def text_check(value: Any) -> str | None:
    """``text_problem`` for a string; ``None`` for anything else."""
    return text_problem(value) if isinstance(value, str) else None


def json_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first hostile string in a JSON value (keys included), depth first.

    Returns ``(path, message)``: the path is dotted from ``path`` (list items by
    index, e.g. ``features.2.name``); ``None`` when the value is clean.
    """
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return where, problem
        elif isinstance(item, dict):
            children: list[tuple[str, Any]] = []
            for key, child in item.items():
                key_text = str(key)
                below = f"{where}.{key_text}" if where else key_text
                problem = text_problem(key_text)
                if problem:
                    return (
                        f"{where}.<key>" if where else "<key>",
                        f"A key {problem[0].lower()}{problem[1:]}",
                    )
                children.append((below, child))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(
                reversed(
                    [
                        (f"{where}.{i}" if where else str(i), child)
                        for i, child in enumerate(item)
                    ]
                )
            )
    return None


def hostile_text_refuse(
    text: Mapping[str, Any] | None = None, json: Mapping[str, Any] | None = None
) -> None:
    """Raise ``ValidationFailed`` naming every field whose text is hostile.

    ``text``: {field: string} (identifiers and free text; non-strings are skipped,
    their own checks judge them); ``json``: {field: JSON value}, walked keys and all.
    """
    errors: dict[str, list[str]] = {}
    for field, value in (text or {}).items():
        problem = text_check(value)
        if problem:
            errors[field] = [problem]
    for field, value in (json or {}).items():
        found = json_problem(value)
        if found is not None:
            path, problem = found
            errors[field] = [f"{path}: {problem}" if path else problem]
    if errors:
        raise ValidationFailed(
            "Text with NUL, unpaired surrogate or bidirectional control characters "
            "is refused; see errors.",
            errors,
        )

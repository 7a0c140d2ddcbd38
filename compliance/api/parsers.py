"""JSON parsing that lets non-finite numbers reach validation, where they are rejected
with their field path (a parse-level error could not name the field)."""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_NESTING = 32


class RequestTooLarge(ParseError):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.REQUEST_BODY_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding}.") from exc
        try:
            data = json.loads(text, parse_constant=float)
        except RecursionError:
            raise ParseError("JSON nesting is too deep.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
        if _depth(data, MAX_NESTING) > MAX_NESTING:
            raise ParseError(f"JSON nesting is deeper than {MAX_NESTING} levels.")
        return data

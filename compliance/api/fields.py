"""Strict serializer fields: no silent coercion of client input."""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework import serializers

from compliance.platform.text import json_problem, text_problem


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of stringifying them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        problem = text_problem(data)
        if problem:  # NUL, lone surrogates, bidirectional controls
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


MAX_JSON_INTEGER = 2**53  # beyond it, JSON numbers lose precision in most clients


class FiniteFloatField(serializers.FloatField):
    """A JSON number that is finite; strings, booleans, NaN and infinities are refused."""

    default_error_messages = {
        **serializers.FloatField.default_error_messages,
        "invalid": "A finite JSON number is required.",
        "non_finite": "Non-finite numbers (NaN, Infinity) are not allowed.",
    }

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, str) and data.strip().lower().lstrip("+-") in {
            "nan",
            "inf",
            "infinity",
        }:
            self.fail("non_finite")
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        if isinstance(data, int) and abs(data) > MAX_JSON_INTEGER:
            self.fail("invalid")  # a 400-digit integer is no probability
        if not math.isfinite(data):
            self.fail("non_finite")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: strings, booleans and numbers with a fraction are refused."""

    default_error_messages = {
        **serializers.IntegerField.default_error_messages,
        "invalid": "A whole JSON number is required.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class JSONValueField(serializers.JSONField):
    """JSON in a JSON body, or a JSON-encoded string in a multipart form."""

    def __init__(self, *, expected: type | tuple[type, ...], **kwargs: Any):
        self.expected = expected
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(data, self.expected):
            names = (
                self.expected if isinstance(self.expected, tuple) else (self.expected,)
            )
            kinds = " or ".join("an object" if t is dict else "a list" for t in names)
            raise serializers.ValidationError(f"Must be {kinds}.")
        try:
            json.dumps(data, allow_nan=False)
        except ValueError:
            raise serializers.ValidationError(
                "Non-finite numbers (NaN, Infinity) are not allowed."
            ) from None
        json_text_validate(data)
        return data


def json_text_validate(data: Any) -> None:
    """Refuse a JSON value with a hostile string or key, naming where it is."""
    found = json_problem(data)
    if found is not None:
        path, problem = found
        raise serializers.ValidationError(f"{path}: {problem}" if path else problem)


class CleanJSONDictField(serializers.DictField):
    """A JSON object whose keys and values (at any depth) are clean text."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        json_text_validate(value)
        return value


class RejectUnknownFieldsMixin:
    """Unknown top-level fields are an error, not silently dropped."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = getattr(self, "initial_data", None)
        if initial is not None and hasattr(initial, "keys"):
            unknown = sorted(set(initial.keys()) - set(self.fields))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}
                )
        return super().validate(attrs)  # type: ignore[misc]

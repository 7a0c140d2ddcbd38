"""A feature schema's texts for people, in a language: labels, reason texts, units,
category names and outcome words (the schema's ``translations`` and
``outcome_labels``). English is the base language: its texts are the schema's own,
unless an ``en`` translation gives plainer ones. Any other language without a variant
gets the base text, marked ``fallback`` so the caller can record it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from explain.schema import FeatureSchema, FeatureSpec

BASE_LANGUAGE = "en"
# "Other: length of the credit term" -> "Length of the credit term": Reg B's
# catch-all prefix means nothing to the person reading it
_OTHER = re.compile(r"^\s*other\s*[:\-–]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Text:
    text: str
    fallback: bool  # the language had no variant: the base text was used


def _variant(spec: FeatureSpec, language: str, key: str) -> str | None:
    value = (spec.translations.get(language) or {}).get(key)
    return value if isinstance(value, str) and value.strip() else None


def _base(text: str, language: str) -> Text:
    return Text(text, fallback=language != BASE_LANGUAGE and bool(text))


def feature_label(spec: FeatureSpec, language: str) -> Text:
    found = _variant(spec, language, "label")
    return Text(found, False) if found else _base(spec.label, language)


def plain_reason(text: str) -> str:
    """A reason text without Reg B's "Other:" prefix, its first letter capitalised."""
    stripped = _OTHER.sub("", text).strip()
    return stripped[:1].upper() + stripped[1:]


def feature_reason(spec: FeatureSpec, language: str) -> Text:
    found = _variant(spec, language, "reason")
    if found:
        return Text(plain_reason(found), False)
    return _base(plain_reason(spec.reason or spec.label), language)


def feature_unit(spec: FeatureSpec, language: str) -> Text:
    found = _variant(spec, language, "unit")
    return Text(found, False) if found else _base(spec.unit, language)


def category_label(spec: FeatureSpec, category: str, language: str) -> Text:
    names = (spec.translations.get(language) or {}).get("categories") or {}
    found = names.get(category)
    if isinstance(found, str) and found.strip():
        return Text(found, False)
    return _base(category, language)


def outcome_label(schema: FeatureSchema, class_label: str, language: str) -> Text:
    found = (schema.outcome_labels.get(language) or {}).get(class_label)
    if isinstance(found, str) and found.strip():
        return Text(found, False)
    return _base(class_label, language)

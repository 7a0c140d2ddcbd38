"""TEMPORARY stand-in for h1's module (same API); replaced at merge."""

from __future__ import annotations

import re
from dataclasses import dataclass

from explain.schema import FeatureSchema, FeatureSpec

_OTHER = re.compile(r"^\s*other\s*[:\-]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Text:
    text: str
    fallback: bool


def _tr(spec: FeatureSpec, language: str) -> dict:  # type: ignore[type-arg]
    return dict(getattr(spec, "translations", {}) or {}).get(language) or {}


def _pick(spec: FeatureSpec, language: str, key: str, base: str) -> Text:
    value = _tr(spec, language).get(key)
    if value:
        return Text(value, False)
    return Text(base, language != "en" and bool(base))


def feature_label(spec: FeatureSpec, language: str) -> Text:
    return _pick(spec, language, "label", spec.label)


def feature_reason(spec: FeatureSpec, language: str) -> Text:
    base = _OTHER.sub("", spec.reason or spec.label)
    base = base[:1].upper() + base[1:]
    return _pick(spec, language, "reason", base)


def feature_unit(spec: FeatureSpec, language: str) -> Text:
    return _pick(spec, language, "unit", spec.unit)


def category_label(spec: FeatureSpec, category: str, language: str) -> Text:
    value = (_tr(spec, language).get("categories") or {}).get(category)
    if value:
        return Text(value, False)
    return Text(category, language != "en")


def outcome_label(schema: FeatureSchema, class_label: str, language: str) -> Text:
    labels = (getattr(schema, "outcome_labels", {}) or {}).get(language) or {}
    if class_label in labels:
        return Text(labels[class_label], False)
    return Text(class_label, language != "en")

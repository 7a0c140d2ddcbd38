"""Feature schemas: validation of the schema itself and encoding of feature rows.

A schema lists the model's features in the user's terms and carries the
preprocessing (standardisation statistics and the one-hot layout), so the engine
can report attributions per original feature.
"""

from __future__ import annotations

import math
import operator
import re
import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy
import torch
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from explain.errors import SchemaError

FEATURE_KINDS = ("numeric", "categorical", "binary")
ACTIONABLE_DIRECTIONS = ("increase", "decrease", "any", "none")
MAX_FEATURES = 500
MAX_CATEGORIES = 200
MAX_BACKGROUND_ROWS = 200
MAX_INTEGER = 2**53  # larger JSON integers cannot be floats without overflow or loss
MAX_OBSERVED_VALUES = 1000  # distinct training values a numeric feature may list
# counterfactuals clear the threshold by this much probability unless a schema says
DEFAULT_RECOURSE_MARGIN = 0.05


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    label: str
    kind: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    integer: bool = False
    categories: tuple[str, ...] = ()
    immutable: bool = False
    protected: bool = False
    actionable_direction: str = "any"
    reason: str = ""
    description: str = ""
    # recourse (all optional; see "observed" and "category_changes" in the JSON Schema)
    observed_min: float | None = None
    observed_max: float | None = None
    mad: float | None = None
    observed_values: tuple[float, ...] = ()
    # (from category, to category, cost): the only category changes a counterfactual
    # may propose, when declared
    category_changes: tuple[tuple[str, str, float], ...] | None = None
    # texts for people per language: {"de": {"label", "reason", "unit", "categories":
    # {category: text}}}; "en" may give plain-English ones (explain.texts reads them)
    translations: dict[str, dict[str, Any]] = field(
        default_factory=dict, compare=False, hash=False
    )

    @property
    def width(self) -> int:
        """Number of model input columns this feature occupies."""
        return len(self.categories) if self.kind == "categorical" else 1


@dataclass(frozen=True)
class FeatureSchema:
    """A model version's features, preprocessing and reference rows.

    ``baseline`` is the default attribution baseline (training medians for numeric
    features, modes for the others); ``background`` a small sample of training rows
    for the SHAP-family methods. Both are optional in the JSON.
    """

    features: tuple[FeatureSpec, ...]
    preprocessing: dict[str, dict[str, float]] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    background: tuple[dict[str, Any], ...] = ()
    recourse_margin: float = DEFAULT_RECOURSE_MARGIN
    # {feature: protected attributes it is a flagged proxy of}: not in the JSON; set
    # from the model version's proxy analysis (explain.proxies) with
    # dataclasses.replace, so that the protected-attribute warning watches them too
    proxies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # plain words for the model's class labels per language: {"de": {"bad": "..."}}
    outcome_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # what an ONNX model's input is: "encoded" (input_width columns, one-hot
    # categories) or "raw" (one column per feature, a category as its index)
    model_input: str = "encoded"

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def input_width(self) -> int:
        return sum(f.width for f in self.features)

    def by_name(self) -> dict[str, FeatureSpec]:
        return {f.name: f for f in self.features}

    @property
    def model_width(self) -> int:
        """The width of an ONNX model's input: encoded columns, or one per feature."""
        return len(self.features) if self.model_input == "raw" else self.input_width

    def column_groups(self) -> dict[str, list[int]]:
        """Map each original feature to the model input columns it occupies."""
        groups: dict[str, list[int]] = {}
        start = 0
        for spec in self.features:
            groups[spec.name] = list(range(start, start + spec.width))
            start += spec.width
        return groups

    def column_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-column mean and std: numeric columns are standardised, others pass."""
        means: list[float] = []
        stds: list[float] = []
        for spec in self.features:
            if spec.kind == "numeric":
                stats = self.preprocessing.get(spec.name, {})
                means.append(float(stats.get("mean", 0.0)))
                stds.append(float(stats.get("std", 1.0)) or 1.0)
            else:
                means.extend([0.0] * spec.width)
                stds.extend([1.0] * spec.width)
        return torch.tensor(means, dtype=torch.float32), torch.tensor(
            stds, dtype=torch.float32
        )

    def encode(self, rows: list[dict[str, Any]]) -> torch.Tensor:
        """Encode validated feature rows into raw model inputs (one-hot, unscaled).

        Args:
            rows: one ``{feature name: value}`` dict per decision, already validated.

        Example:
            >>> schema.encode([{"age": 30, "purpose": "car (new)"}]).shape
            torch.Size([1, 1 + number_of_purposes])
        """
        # one C-level pass per feature (values looked up with itemgetter, one-hot
        # positions through a dict, numbers through float) into one numpy matrix;
        # float64 -> float32 rounds as torch.tensor does
        width = self.input_width
        n = len(rows)
        matrix = numpy.zeros((n, width), dtype=numpy.float32)
        everyone = numpy.arange(n)
        start = 0
        for spec in self.features:
            values = list(map(operator.itemgetter(spec.name), rows))
            if spec.kind == "categorical":
                column = {c: start + i for i, c in enumerate(spec.categories)}
                hot = numpy.fromiter(
                    map(column.__getitem__, values), dtype=numpy.int64, count=n
                )
                matrix[everyone, hot] = 1.0
            else:
                matrix[:, start] = numpy.fromiter(
                    map(float, values), dtype=numpy.float64, count=n
                )
            start += spec.width
        return torch.from_numpy(matrix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": [
                {
                    k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in vars(f).items()
                }
                for f in self.features
            ],
            "preprocessing": self.preprocessing,
        }


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_NON_BLANK = "\\S"  # at least one character that is not white space
LANGUAGE_CODE = "^[a-z]{2}$"  # ISO 639-1
MAX_PERSON_TEXT = 300
_PERSON_TEXT: dict[str, Any] = {
    "type": "string",
    "pattern": _NON_BLANK,
    "maxLength": MAX_PERSON_TEXT,
}
# the values are checked against the features afterwards, as decision rows are
_ROW: dict[str, Any] = {
    "type": "object",
    "description": "One value per feature: {feature name: number, string or boolean}.",
}
FEATURE_SCHEMA_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Feature schema",
    "description": (
        "A model version's features in the user's terms, the standardisation "
        "statistics of its numeric features and optional reference rows. One-hot "
        "columns follow the declared order of features and categories."
    ),
    "type": "object",
    "required": ["features"],
    "properties": {
        "features": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_FEATURES,
            "items": {
                "type": "object",
                "required": ["name", "kind"],
                "properties": {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 100,
                        "pattern": _NON_BLANK,
                    },
                    "label": {
                        "type": "string",
                        "pattern": _NON_BLANK,
                        "description": "Shown to people; defaults to the name.",
                    },
                    "kind": {"enum": list(FEATURE_KINDS)},
                    "unit": {"type": "string"},
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "integer": {"type": "boolean"},
                    "categories": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_CATEGORIES,
                        "uniqueItems": True,
                        "items": {"type": "string"},
                        "description": "The one-hot columns, in this order.",
                    },
                    "immutable": {"type": "boolean"},
                    "protected": {"type": "boolean"},
                    "actionable_direction": {"enum": list(ACTIONABLE_DIRECTIONS)},
                    "reason": {
                        "type": "string",
                        "description": "The principal-reason text; defaults to the label.",
                    },
                    "description": {"type": "string"},
                    "observed": {
                        "type": "object",
                        "description": (
                            "Numeric features: the training data's range, median "
                            "absolute deviation and (optionally) its distinct values; "
                            "counterfactuals stay inside them and cost |change| / mad."
                        ),
                        "required": ["min", "max"],
                        "additionalProperties": False,
                        "properties": {
                            "min": {"type": "number"},
                            "max": {"type": "number"},
                            "mad": {"type": "number", "exclusiveMinimum": 0},
                            "values": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_OBSERVED_VALUES,
                                "items": {"type": "number"},
                            },
                        },
                    },
                    "translations": {
                        "type": "object",
                        "description": (
                            "Texts for people in other languages (and plain English "
                            "under 'en'), by ISO 639-1 code: label, reason, unit and "
                            "category names. Notices fall back to the base texts, "
                            "with a recorded warning."
                        ),
                        "additionalProperties": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "label": _PERSON_TEXT,
                                "reason": _PERSON_TEXT,
                                "unit": _PERSON_TEXT,
                                "categories": {
                                    "type": "object",
                                    "additionalProperties": _PERSON_TEXT,
                                },
                            },
                        },
                    },
                    "category_changes": {
                        "type": "object",
                        "description": (
                            "Categorical features: {from category: {to category: "
                            "cost}}, the only changes a counterfactual may propose, "
                            "with their costs; a change not listed is not actionable."
                        ),
                        "additionalProperties": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                            },
                        },
                    },
                },
                "if": {
                    "properties": {"kind": {"const": "categorical"}},
                    "required": ["kind"],
                },
                "then": {"required": ["categories"]},
            },
        },
        "preprocessing": {
            "type": "object",
            "description": "Standardisation statistics of numeric features, by name.",
            "additionalProperties": {
                "type": "object",
                "required": ["mean", "std"],
                "properties": {
                    "mean": {"type": "number"},
                    "std": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        },
        "baseline": {
            **_ROW,
            "type": ["object", "null"],
            "description": (
                "The default attribution baseline: training medians and modes."
            ),
        },
        "background": {
            "type": "array",
            "maxItems": MAX_BACKGROUND_ROWS,
            "items": _ROW,
            "description": "A small sample of training rows for the SHAP methods.",
        },
        "outcome_labels": {
            "type": "object",
            "description": (
                "Plain words for the model version's class labels, per language: "
                '{"de": {"bad": "..."}}; notices use them.'
            ),
            "additionalProperties": {
                "type": "object",
                "additionalProperties": _PERSON_TEXT,
            },
        },
        "model_input": {
            "enum": ["encoded", "raw"],
            "description": (
                "For an ONNX model: its input is the encoded columns (default: numeric "
                "values, one-hot categories, in schema order) or 'raw', one column per "
                "feature (a category as its index in 'categories', a binary as 0/1)."
            ),
        },
        "recourse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "margin": {"type": "number"},  # 0 <= margin < 0.5: semantic pass
            },
            "description": (
                "Counterfactual settings: margin, the probability by which a "
                f"counterfactual clears the threshold (default {DEFAULT_RECOURSE_MARGIN})."
            ),
        },
    },
}
_VALIDATOR = Draft202012Validator(FEATURE_SCHEMA_JSON_SCHEMA)
# the message for a structural error, by the name of the offending field
_FIELD_MESSAGES = {
    "feature_schema": "Must be a JSON object with a 'features' list.",
    "features": "Must be a non-empty list of features.",
    "feature": "Must be an object.",
    "name": "Must be a non-empty string of at most 100 characters.",
    "label": "Must be a non-empty string.",
    "kind": f"Must be one of {', '.join(FEATURE_KINDS)}.",
    "actionable_direction": f"Must be one of {', '.join(ACTIONABLE_DIRECTIONS)}.",
    "immutable": "Must be true or false.",
    "protected": "Must be true or false.",
    "integer": "Must be true or false.",
    "unit": "Must be a string.",
    "reason": "Must be a string.",
    "description": "Must be a string.",
    "min": "Must be a finite number.",
    "max": "Must be a finite number.",
    "categories": "Must be a non-empty list of strings.",
    "preprocessing": "Must be an object mapping feature names to statistics.",
    "statistics": "Must be an object with a mean and a std.",
    "mean": "Must be a finite number.",
    "std": "Must be a positive finite number.",
    "background": f"Must be a list of at most {MAX_BACKGROUND_ROWS} rows.",
    "row": "Must be an object mapping feature names to values.",
    "observed": "Must be an object with a min and a max (and optionally mad, values).",
    "values": f"Must be a non-empty list of at most {MAX_OBSERVED_VALUES} numbers.",
    "mad": "Must be a positive finite number.",
    "category_changes": "Must map categories to {category: positive cost}.",
    "recourse": "Must be an object with an optional margin.",
    "translations": (
        "Must map language codes (two lower-case letters) to {label, reason, unit, "
        f"categories}}, each a non-empty text of at most {MAX_PERSON_TEXT} characters."
    ),
    "outcome_labels": (
        "Must map language codes (two lower-case letters) to {class label: text}, "
        f"each a non-empty text of at most {MAX_PERSON_TEXT} characters."
    ),
    "margin": "Must be a number from 0 to below 0.5.",
    "model_input": "Must be 'encoded' or 'raw'.",
}
_KEYWORD_MESSAGES = {
    ("features", "maxItems"): f"At most {MAX_FEATURES} features are supported.",
    ("categories", "uniqueItems"): "Categories must be unique.",
    ("categories", "maxItems"): f"At most {MAX_CATEGORIES} categories.",
}


def _dotted(path: list[str | int]) -> str:
    """``["features", 3, "kind"]`` -> ``"features[3].kind"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _field(path: list[str | int]) -> str:
    """What the path points at, as a key of ``_FIELD_MESSAGES``."""
    if not path:
        return "feature_schema"
    head, last = path[0], path[-1]
    if head == "baseline" or (head == "background" and len(path) == 2):
        return "row"
    if head == "features" and isinstance(last, int):
        return "feature"
    if head == "preprocessing" and len(path) == 2:
        return "statistics"
    return str(last)


def _structural_errors(data: Any) -> dict[str, list[str]]:
    """Check ``data`` against ``FEATURE_SCHEMA_JSON_SCHEMA``; errors by dotted path,
    in jsonschema's order (the document's properties, then list items by index)."""
    errors: dict[str, list[str]] = {}
    for error in _VALIDATOR.iter_errors(data):
        path = list(error.absolute_path)
        if path[:1] == ["features"] and path[2:3] == ["categories"]:
            path = path[:3]  # a bad category is reported on the list
        if path[:1] == ["features"] and path[2:3] == ["category_changes"]:
            path = path[:3]
        if path[:1] == ["features"] and path[2:3] == ["translations"]:
            path = path[:3]  # reported on the feature's translations
        if path[:1] == ["outcome_labels"]:
            path = path[:1]
        if path[:1] == ["features"] and path[2:4] == ["observed", "values"]:
            path = path[:4]
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [p for p in error.validator_value if p not in error.instance]
            paths = [[*path, name] for name in missing]
        else:
            paths = [path]
        for full in paths:
            field_name = _field(full)
            message = _KEYWORD_MESSAGES.get(
                (field_name, str(error.validator)),
                _FIELD_MESSAGES.get(field_name, str(error.message)),
            )
            key = _dotted(full) or "feature_schema"
            if message not in errors.get(key, []):
                errors.setdefault(key, []).append(message)
    return errors


def _semantic_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """What a JSON Schema cannot say: unique names, min <= max, finite statistics
    (NaN gets through the JSON types), preprocessing of known numeric features.

    Runs on structurally invalid data too (skipping the parts it cannot read), so
    one ``SchemaError`` names every problem.
    """
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    raw_features = data.get("features")
    kinds: dict[str, Any] = {}
    for i, raw in enumerate(raw_features if isinstance(raw_features, list) else []):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        path, name = f"features[{i}]", raw["name"]
        if name in kinds:
            err(f"{path}.name", f"Duplicate feature name '{name}'.")
            continue
        kinds[name] = raw.get("kind")
        _recourse_errors(raw, path, err)
        _translation_errors(raw, path, err)
        if raw.get("kind") != "numeric":
            continue
        lo, hi = raw.get("min"), raw.get("max")
        for bound_name, bound in (("min", lo), ("max", hi)):
            if _is_number(bound) and not math.isfinite(bound):
                err(f"{path}.{bound_name}", "Must be a finite number.")
        if _is_number(lo) and _is_number(hi) and lo > hi:
            err(f"{path}.max", "Must not be below min.")
    outcome_labels = data.get("outcome_labels")
    if isinstance(outcome_labels, dict) and not all(
        re.fullmatch(LANGUAGE_CODE, str(language)) for language in outcome_labels
    ):
        err("outcome_labels", _FIELD_MESSAGES["outcome_labels"])
    recourse = data.get("recourse")
    margin = recourse.get("margin", 0) if isinstance(recourse, dict) else 0
    if _is_number(margin) and not (math.isfinite(margin) and 0 <= margin < 0.5):
        err("recourse.margin", "Must be a number from 0 to below 0.5.")
    preprocessing = data.get("preprocessing", {})
    for name, stats in preprocessing.items() if isinstance(preprocessing, dict) else ():
        if name not in kinds:
            err(f"preprocessing.{name}", "Not a feature of this schema.")
            continue
        if kinds[name] != "numeric":
            err(f"preprocessing.{name}", "Only numeric features are standardised.")
            continue
        if not isinstance(stats, dict):
            continue
        mean, std = stats.get("mean"), stats.get("std")
        if _is_number(mean) and not math.isfinite(mean):
            err(f"preprocessing.{name}.mean", "Must be a finite number.")
        if _is_number(std) and not (math.isfinite(std) and std > 0):
            err(f"preprocessing.{name}.std", "Must be a positive finite number.")
    return errors


def _translation_errors(raw: dict[str, Any], path: str, err: Any) -> None:
    """Translated category names only for categorical features, and only of their
    declared categories."""
    translations = raw.get("translations")
    if not isinstance(translations, dict):
        return
    for language in translations:
        if not re.fullmatch(LANGUAGE_CODE, str(language)):
            err(f"{path}.translations", _FIELD_MESSAGES["translations"])
            break
    declared = raw.get("categories") if raw.get("kind") == "categorical" else None
    for language, texts in translations.items():
        names = texts.get("categories") if isinstance(texts, dict) else None
        if not isinstance(names, dict) or not names:
            continue
        where = f"{path}.translations.{language}.categories"
        if not isinstance(declared, list):
            err(where, "Only categorical features have category names.")
            continue
        unknown = sorted(str(c) for c in names if c not in declared)
        if unknown:
            err(where, f"Not declared categories: {', '.join(unknown)[:200]}.")


def _recourse_errors(raw: dict[str, Any], path: str, err: Any) -> None:
    """The optional recourse fields of one feature: ``observed`` only on numeric
    features, with finite numbers, min <= max and values inside them;
    ``category_changes`` only on categorical ones, between declared categories."""
    observed, changes = raw.get("observed"), raw.get("category_changes")
    if observed is not None and raw.get("kind") != "numeric":
        err(f"{path}.observed", "Only numeric features have an observed range.")
    elif isinstance(observed, dict):
        lo, hi = observed.get("min"), observed.get("max")
        numbers = [("min", lo), ("max", hi), ("mad", observed.get("mad"))]
        for key, value in numbers:
            if _is_number(value) and not math.isfinite(value):
                err(f"{path}.observed.{key}", "Must be a finite number.")
        values = observed.get("values")
        if _is_number(lo) and _is_number(hi):
            if lo > hi:
                err(f"{path}.observed.max", "Must not be below min.")
            elif isinstance(values, list) and not all(
                _is_number(v) and lo <= v <= hi for v in values
            ):
                err(f"{path}.observed.values", "Every value must lie in [min, max].")
    if changes is not None and raw.get("kind") != "categorical":
        err(f"{path}.category_changes", "Only categorical features have these.")
    elif isinstance(changes, dict) and isinstance(raw.get("categories"), list):
        declared = set(raw["categories"])
        for source, targets in changes.items():
            names = [source, *(targets if isinstance(targets, dict) else [])]
            if any(name not in declared for name in names) or source in names[1:]:
                err(
                    f"{path}.category_changes",
                    f"'{source}': changes must be between two different declared "
                    "categories.",
                )
            elif isinstance(targets, dict) and not all(
                _is_number(c) and math.isfinite(c) for c in targets.values()
            ):
                err(f"{path}.category_changes", "Costs must be finite numbers.")


def _feature_spec(raw: dict[str, Any]) -> FeatureSpec:
    """A feature of a schema that passed both checks."""
    numeric = raw["kind"] == "numeric"
    lo, hi = raw.get("min"), raw.get("max")
    return FeatureSpec(
        name=raw["name"],
        label=raw.get("label", raw["name"]),
        kind=raw["kind"],
        unit=raw.get("unit", ""),
        min=float(lo) if numeric and lo is not None else None,
        max=float(hi) if numeric and hi is not None else None,
        integer=raw.get("integer", False),
        categories=tuple(raw["categories"]) if raw["kind"] == "categorical" else (),
        immutable=raw.get("immutable", False),
        protected=raw.get("protected", False),
        actionable_direction=raw.get("actionable_direction", "any"),
        reason=raw.get("reason", ""),
        description=raw.get("description", ""),
        translations={
            str(language): dict(texts)
            for language, texts in (raw.get("translations") or {}).items()
        },
        **_recourse_fields(raw),
    )


def _recourse_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``FeatureSpec`` fields of a feature's optional ``observed`` and
    ``category_changes`` (absent: the defaults, i.e. no recourse information)."""
    fields: dict[str, Any] = {}
    observed = raw.get("observed")
    if raw["kind"] == "numeric" and observed is not None:
        fields["observed_min"] = float(observed["min"])
        fields["observed_max"] = float(observed["max"])
        if observed.get("mad") is not None:
            fields["mad"] = float(observed["mad"])
        fields["observed_values"] = tuple(
            sorted({float(v) for v in observed.get("values", [])})
        )
    changes = raw.get("category_changes")
    if raw["kind"] == "categorical" and changes is not None:
        fields["category_changes"] = tuple(
            (source, target, float(cost))
            for source, targets in changes.items()
            for target, cost in targets.items()
        )
    return fields


_PARSED_CACHE_SIZE = 64
_parsed: dict[str, FeatureSchema] = {}
_parsed_lock = threading.Lock()


def parse_feature_schema(data: Any) -> FeatureSchema:
    """Validate a feature schema given as JSON data and return it parsed.

    The shape is checked against ``FEATURE_SCHEMA_JSON_SCHEMA`` (JSON Schema draft
    2020-12), then a semantic pass checks what the shape cannot (unique names,
    min <= max, finite statistics, preprocessing of known numeric features), then
    the baseline and background rows are checked as feature rows.

    Raises:
        SchemaError: with every problem found, keyed by a path such as
            ``features[3].categories`` or ``preprocessing.credit_amount.std``.

    Example:
        >>> parse_feature_schema({"features": [{"name": "age", "label": "Age",
        ...     "kind": "numeric", "min": 18, "max": 99}],
        ...     "preprocessing": {"age": {"mean": 35.5, "std": 11.4}}}).names
        ['age']

    Valid schemas are remembered (the last 64, by ``repr``): decision intake parses
    its model version's schema on every submission, and JSON Schema validation
    costs more than the rest of a submission's checks. The result is shared:
    treat it as read-only.
    """
    key = repr(data)
    with _parsed_lock:
        cached = _parsed.get(key)
    if cached is not None:
        return cached
    schema = _parse_feature_schema(data)
    with _parsed_lock:
        if len(_parsed) >= _PARSED_CACHE_SIZE:
            del _parsed[next(iter(_parsed))]
        _parsed[key] = schema
    return schema


def _parse_feature_schema(data: Any) -> FeatureSchema:
    errors = _structural_errors(data)
    if not isinstance(data, dict):
        raise SchemaError(errors)
    for path, messages in _semantic_errors(data).items():
        errors.setdefault(path, []).extend(
            m for m in messages if m not in errors.get(path, [])
        )
    if errors:
        raise SchemaError(errors)
    schema = FeatureSchema(
        features=tuple(_feature_spec(raw) for raw in data["features"]),
        preprocessing={
            name: {"mean": float(stats["mean"]), "std": float(stats["std"])}
            for name, stats in data.get("preprocessing", {}).items()
        },
    )
    baseline = data.get("baseline")
    if baseline is not None:
        for name, messages in validate_feature_values(schema, baseline).items():
            errors[f"baseline.{name}" if name else "baseline"] = messages[:1]
    background = data.get("background", [])
    for i, row in enumerate(background):
        for name, messages in validate_feature_values(schema, row).items():
            key = f"background[{i}].{name}" if name else f"background[{i}]"
            errors[key] = messages[:1]
    if errors:
        raise SchemaError(errors)
    return FeatureSchema(
        features=schema.features,
        preprocessing=schema.preprocessing,
        baseline=dict(baseline) if baseline is not None else None,
        background=tuple(dict(r) for r in background),
        recourse_margin=float(
            data.get("recourse", {}).get("margin", DEFAULT_RECOURSE_MARGIN)
        ),
        outcome_labels={
            str(language): dict(labels)
            for language, labels in (data.get("outcome_labels") or {}).items()
        },
        model_input=str(data.get("model_input", "encoded")),
    )


def validate_feature_values(schema: FeatureSchema, values: Any) -> dict[str, list[str]]:
    """Check one decision's features against the schema; return errors by feature name.

    An empty dict means the row is valid. Non-finite numbers (NaN, infinities,
    and 1e400, which JSON parsers turn into infinity) are rejected, as are numbers
    sent as strings and booleans sent for numeric features.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(values, dict):
        return {"": ["Must be an object mapping feature names to values."]}
    specs = schema.by_name()
    for name in values:
        if name not in specs:
            errors[str(name)] = [
                "Unknown feature: not in the model version's feature schema."
            ]
    for name, spec in specs.items():
        if name not in values:
            errors[name] = ["This feature is required."]
            continue
        message = _value_error(spec, values[name])
        if message:
            errors[name] = [message]
    return errors


_NON_FINITE_WORDS = {
    "nan",
    "+nan",
    "-nan",
    "inf",
    "+inf",
    "-inf",
    "infinity",
    "+infinity",
    "-infinity",
}


def _value_error(spec: FeatureSpec, value: Any) -> str | None:
    if spec.kind == "numeric":
        if isinstance(value, str) and value.strip().lower() in _NON_FINITE_WORDS:
            return "Non-finite numbers (NaN, Infinity) are not allowed."
        if not _is_number(value):
            return f"Must be a number, got {_json_type(value)}."
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            return "The number is too large."
        if not math.isfinite(value):
            return "Non-finite numbers (NaN, Infinity) are not allowed."
        if spec.integer and float(value) != int(value):
            return "Must be a whole number."
        if spec.min is not None and value < spec.min:
            return f"Must be at least {_fmt(spec.min)}{_unit(spec)}."
        if spec.max is not None and value > spec.max:
            return f"Must be at most {_fmt(spec.max)}{_unit(spec)}."
        return None
    if spec.kind == "categorical":
        if not isinstance(value, str):
            return f"Must be one of the declared categories (a string), got {_json_type(value)}."
        if value not in spec.categories:
            shown = ", ".join(repr(c) for c in spec.categories[:10])
            more = "" if len(spec.categories) <= 10 else ", ..."
            return f"'{value[:100]}' is not a declared category ({shown}{more})."
        return None
    # binary
    if isinstance(value, bool) or (_is_number(value) and value in (0, 1)):
        return None
    return f"Must be true/false or 0/1, got {_json_type(value)}."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _unit(spec: FeatureSpec) -> str:
    return f" {spec.unit}" if spec.unit else ""


def baseline_from_rows(
    schema: FeatureSchema, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The default attribution baseline: medians of numeric features, modes of the others.

    Args:
        schema: the parsed schema.
        rows: training rows (``{feature: value}``), already valid for the schema.

    Example:
        >>> baseline_from_rows(schema, training_rows)["credit_amount"]
        2319.5
    """
    baseline: dict[str, Any] = {}
    for spec in schema.features:
        values = [row[spec.name] for row in rows]
        if spec.kind == "numeric":
            median = float(statistics.median(values))
            baseline[spec.name] = int(round(median)) if spec.integer else median
        else:
            counts = Counter(values)
            # ties break by declared category order (or False before True) for determinism
            order: list[Any] = (
                list(spec.categories)
                if spec.kind == "categorical"
                else [False, True, 0, 1]
            )
            baseline[spec.name] = max(
                counts, key=lambda v: (counts[v], -order.index(v))
            )
    return baseline


def first_invalid_row(
    schema: FeatureSchema, rows: list[Any]
) -> tuple[int, dict[str, list[str]]] | None:
    """The first invalid row of a batch and its errors, or None when all are valid.

    Checks column by column (fast for large batches); only a failing batch is
    re-checked row by row to name the problem.
    """
    names = set(schema.names)
    if all(isinstance(row, dict) and row.keys() == names for row in rows) and all(
        _column_valid(spec, list(map(operator.itemgetter(spec.name), rows)))
        for spec in schema.features
    ):
        return None
    for i, row in enumerate(rows):
        errors = validate_feature_values(schema, row)
        if errors:
            return i, errors
    return None


_NUMBERS = frozenset({int, float})
_BINARY_TYPES = frozenset({bool, int, float})
_ZERO_ONE = frozenset({0, 1})


def _column_valid(spec: FeatureSpec, values: list[Any]) -> bool:
    """Whether every value of one feature's column is valid (``_value_error`` gives
    None for each): set operations and numpy for columns of plain built-in types,
    value by value otherwise."""
    kinds = set(map(type, values))
    if spec.kind == "categorical" and kinds <= {str}:
        return set(spec.categories).issuperset(values)
    if spec.kind == "binary" and kinds <= _BINARY_TYPES:
        return _ZERO_ONE.issuperset(values)  # True == 1, hash(-0.0) == hash(0)
    if spec.kind == "numeric" and kinds <= _NUMBERS and values:
        try:
            array = numpy.array(values, dtype=numpy.float64)
        except OverflowError:  # an int beyond float range: too large
            return False
        if not numpy.isfinite(array).all():
            return False
        # ints near 2**53 lose their exact value in float64: checked one by one
        if int not in kinds or (numpy.abs(array) < MAX_INTEGER).all():
            return _numbers_valid(spec, array)
    return _column_valid_by_value(spec, values)


def _numbers_valid(spec: FeatureSpec, array: numpy.ndarray) -> bool:
    """Whole numbers where required, within the bounds (finite float64 values)."""
    if spec.integer and not (array == numpy.floor(array)).all():
        return False
    lo = -math.inf if spec.min is None else spec.min
    hi = math.inf if spec.max is None else spec.max
    return lo <= float(array.min()) and float(array.max()) <= hi


def _column_valid_by_value(spec: FeatureSpec, values: list[Any]) -> bool:
    if spec.kind == "categorical":
        allowed = set(spec.categories)
        return all(isinstance(v, str) and v in allowed for v in values)
    if spec.kind == "binary":
        return all(
            isinstance(v, bool) or (_is_number(v) and v in (0, 1)) for v in values
        )
    if not all(_is_number(v) for v in values):
        return False
    if any(isinstance(v, int) and abs(v) > MAX_INTEGER for v in values):
        return False
    floats = [float(v) for v in values]
    if not all(math.isfinite(v) for v in floats):
        return False
    if spec.integer and not all(v.is_integer() for v in floats):
        return False
    lo = -math.inf if spec.min is None else spec.min
    hi = math.inf if spec.max is None else spec.max
    return lo <= min(floats) and max(floats) <= hi

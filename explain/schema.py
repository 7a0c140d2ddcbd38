"""Feature schemas: validation of the schema itself and encoding of feature rows.

A schema lists the model's features in the user's terms and carries the
preprocessing (standardisation statistics and the one-hot layout), so the engine
can report attributions per original feature.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from explain.errors import SchemaError

FEATURE_KINDS = ("numeric", "categorical", "binary")
ACTIONABLE_DIRECTIONS = ("increase", "decrease", "any", "none")
MAX_FEATURES = 500
MAX_CATEGORIES = 200
MAX_BACKGROUND_ROWS = 200
MAX_INTEGER = 2**53  # larger JSON integers cannot be floats without overflow or loss


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

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def input_width(self) -> int:
        return sum(f.width for f in self.features)

    def by_name(self) -> dict[str, FeatureSpec]:
        return {f.name: f for f in self.features}

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
        # filled as Python lists and converted once: one small tensor operation per
        # feature cost more than the rest of a single-row submission's re-scoring
        width = self.input_width
        matrix = [[0.0] * width for _ in rows]
        start = 0
        for spec in self.features:
            name = spec.name
            if spec.kind == "categorical":
                column = {c: start + i for i, c in enumerate(spec.categories)}
                for out, row in zip(matrix, rows, strict=True):
                    out[column[row[name]]] = 1.0
            else:
                for out, row in zip(matrix, rows, strict=True):
                    out[start] = float(row[name])
            start += spec.width
        return torch.tensor(matrix, dtype=torch.float32).reshape(len(rows), width)

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_feature_schema(data: Any) -> FeatureSchema:
    """Validate a feature schema given as JSON data and return it parsed.

    Raises:
        SchemaError: with every problem found, keyed by a path such as
            ``features[3].categories``.

    Example:
        >>> parse_feature_schema({"features": [{"name": "age", "label": "Age",
        ...     "kind": "numeric", "min": 18, "max": 99}],
        ...     "preprocessing": {"age": {"mean": 35.5, "std": 11.4}}}).names
        ['age']
    """
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(data, dict):
        raise SchemaError(
            {"feature_schema": ["Must be a JSON object with a 'features' list."]}
        )
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        raise SchemaError({"features": ["Must be a non-empty list of features."]})
    if len(raw_features) > MAX_FEATURES:
        raise SchemaError(
            {"features": [f"At most {MAX_FEATURES} features are supported."]}
        )
    preprocessing = data.get("preprocessing", {})
    if not isinstance(preprocessing, dict):
        err("preprocessing", "Must be an object mapping feature names to statistics.")
        preprocessing = {}

    specs: list[FeatureSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_features):
        path = f"features[{i}]"
        if not isinstance(raw, dict):
            err(path, "Must be an object.")
            continue
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            err(f"{path}.name", "Must be a non-empty string of at most 100 characters.")
            continue
        if name in seen:
            err(f"{path}.name", f"Duplicate feature name '{name}'.")
            continue
        seen.add(name)
        kind = raw.get("kind")
        if kind not in FEATURE_KINDS:
            err(f"{path}.kind", f"Must be one of {', '.join(FEATURE_KINDS)}.")
            continue
        label = raw.get("label", name)
        if not isinstance(label, str) or not label.strip():
            err(f"{path}.label", "Must be a non-empty string.")
        direction = raw.get("actionable_direction", "any")
        if direction not in ACTIONABLE_DIRECTIONS:
            err(
                f"{path}.actionable_direction",
                f"Must be one of {', '.join(ACTIONABLE_DIRECTIONS)}.",
            )
        for flag in ("immutable", "protected", "integer"):
            if flag in raw and not isinstance(raw[flag], bool):
                err(f"{path}.{flag}", "Must be true or false.")
        for text in ("unit", "reason", "description"):
            if text in raw and not isinstance(raw[text], str):
                err(f"{path}.{text}", "Must be a string.")
        lo, hi = raw.get("min"), raw.get("max")
        categories: tuple[str, ...] = ()
        if kind == "numeric":
            for bound_name, bound in (("min", lo), ("max", hi)):
                if bound is not None and (
                    not _is_number(bound) or not math.isfinite(bound)
                ):
                    err(f"{path}.{bound_name}", "Must be a finite number.")
            if _is_number(lo) and _is_number(hi) and lo > hi:
                err(f"{path}.max", "Must not be below min.")
            stats = preprocessing.get(name)
            if stats is not None:
                mean, std = (stats or {}).get("mean"), (stats or {}).get("std")
                if not (_is_number(mean) and math.isfinite(mean)):
                    err(f"preprocessing.{name}.mean", "Must be a finite number.")
                if not (_is_number(std) and math.isfinite(std) and std > 0):
                    err(
                        f"preprocessing.{name}.std", "Must be a positive finite number."
                    )
        elif kind == "categorical":
            raw_categories = raw.get("categories")
            if (
                not isinstance(raw_categories, list)
                or not raw_categories
                or not all(isinstance(c, str) for c in raw_categories)
            ):
                err(f"{path}.categories", "Must be a non-empty list of strings.")
            elif len(set(raw_categories)) != len(raw_categories):
                err(f"{path}.categories", "Categories must be unique.")
            elif len(raw_categories) > MAX_CATEGORIES:
                err(f"{path}.categories", f"At most {MAX_CATEGORIES} categories.")
            else:
                categories = tuple(raw_categories)
        if any(p.startswith(path) for p in errors):
            continue
        specs.append(
            FeatureSpec(
                name=name,
                label=label,
                kind=kind,
                unit=raw.get("unit", "") or "",
                min=float(lo) if kind == "numeric" and lo is not None else None,
                max=float(hi) if kind == "numeric" and hi is not None else None,
                integer=bool(raw.get("integer", False)),
                categories=categories,
                immutable=bool(raw.get("immutable", False)),
                protected=bool(raw.get("protected", False)),
                actionable_direction=direction,
                reason=raw.get("reason", "") or "",
                description=raw.get("description", "") or "",
            )
        )
    for key in preprocessing:
        if key not in seen:
            err(f"preprocessing.{key}", "Not a feature of this schema.")
    if errors:
        raise SchemaError(errors)
    clean_pre = {
        k: {"mean": float(v["mean"]), "std": float(v["std"])}
        for k, v in preprocessing.items()
    }
    schema = FeatureSchema(features=tuple(specs), preprocessing=clean_pre)
    baseline = data.get("baseline")
    if baseline is not None:
        for name, messages in validate_feature_values(schema, baseline).items():
            err(f"baseline.{name}" if name else "baseline", messages[0])
    background = data.get("background", [])
    if not isinstance(background, list) or len(background) > MAX_BACKGROUND_ROWS:
        err("background", f"Must be a list of at most {MAX_BACKGROUND_ROWS} rows.")
        background = []
    for i, row in enumerate(background):
        for name, messages in validate_feature_values(schema, row).items():
            err(f"background[{i}].{name}" if name else f"background[{i}]", messages[0])
    if errors:
        raise SchemaError(errors)
    return FeatureSchema(
        features=schema.features,
        preprocessing=clean_pre,
        baseline=dict(baseline) if baseline is not None else None,
        background=tuple(dict(r) for r in background),
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
            order = (
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
        _column_valid(spec, [row[spec.name] for row in rows])
        for spec in schema.features
    ):
        return None
    for i, row in enumerate(rows):
        errors = validate_feature_values(schema, row)
        if errors:
            return i, errors
    return None


def _column_valid(spec: FeatureSpec, values: list[Any]) -> bool:
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

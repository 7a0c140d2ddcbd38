"""Recourse a person can act on: the stored counterfactual's targets rounded to
values people deal in (whole months, whole currency units), away from where the
person stands so the change stays sufficient, then run through the model again: the
rounded row must still clear the threshold by the schema's margin and lie within the
engine's plausibility bound. Options are tried cheapest first; none that holds is
said plainly."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

import explain
from explain.counterfactual import PlausibilityReference
from explain.schema import FeatureSchema, FeatureSpec

# units whose values people deal in as whole numbers (besides integer features)
WHOLE_UNITS = frozenset(
    {
        "month",
        "months",
        "year",
        "years",
        "day",
        "days",
        "week",
        "weeks",
        "dm",
        "eur",
        "€",
        "usd",
        "$",
        "gbp",
        "£",
        "chf",
    }
)

Scorer = Callable[
    [list[dict[str, Any]]], list[float]
]  # rows -> scored-class probability


@dataclass(frozen=True)
class Recourse:
    status: str  # "found", "none" (no option holds), "not_offered"
    option: int | None = None  # which stored option (0: the counterfactual itself)
    changes: tuple[dict[str, Any], ...] = ()  # {feature, from, to}
    probability_after: float | None = None
    threshold: float | None = None
    margin: float | None = None
    plausibility: dict[str, float] | None = None
    note: str = ""


def actionable_step(spec: FeatureSpec) -> float | None:
    """The step a person can act in: 1 for integer features and whole units, else
    none (the value is kept as the engine found it)."""
    if spec.integer or spec.unit.strip().lower() in WHOLE_UNITS:
        return 1.0
    return None


def round_actionable(spec: FeatureSpec, before: Any, after: Any) -> Any:
    """``after`` rounded to the feature's step, away from ``before`` (a smaller step
    could undo the change), kept inside the declared bounds; categories and binary
    values unchanged."""
    if spec.kind != "numeric":
        return after
    step = actionable_step(spec)
    if step is None:
        return after
    value = float(after)
    units = value / step
    rounded = (math.ceil(units) if value > float(before) else math.floor(units)) * step
    if spec.max is not None:
        rounded = min(rounded, spec.max)
    if spec.min is not None:
        rounded = max(rounded, spec.min)
    return int(rounded) if float(rounded).is_integer() else rounded


def model_scorer(model: torch.nn.Module, schema: FeatureSchema) -> Scorer:
    """Probabilities of the scored class for feature rows, from the model itself."""

    def score(rows: list[dict[str, Any]]) -> list[float]:
        inputs = schema.encode(rows)
        with torch.no_grad():
            probabilities = explain.predict_proba(model, inputs)
        return [float(p) for p in probabilities.reshape(-1).tolist()]

    return score


def _options(counterfactual: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    alternatives = counterfactual.get("alternatives") or []
    return [counterfactual, *[a for a in alternatives if isinstance(a, Mapping)]]


def _clears(
    probability: float, *, threshold: float, margin: float, scored_is_favourable: bool
) -> bool:
    if scored_is_favourable:
        return probability >= threshold + margin
    return probability <= threshold - margin


def actionable_recourse(
    *,
    schema: FeatureSchema,
    row: Mapping[str, Any],
    counterfactual: Mapping[str, Any] | None,
    threshold: float,
    scored_is_favourable: bool,
    score: Scorer,
    excluded: Sequence[str] = (),
) -> Recourse:
    """The first stored option (cheapest first) whose rounded targets, run through
    the model, still give the favourable outcome by the margin and stay plausible.
    Options that change an ``excluded`` feature (protected, or a flagged proxy) are
    never offered."""
    if not counterfactual:
        return Recourse(status="none", note="no_counterfactual")
    specs = schema.by_name()
    margin = float(schema.recourse_margin)
    reference = PlausibilityReference.from_schema(schema)
    original_distance = (
        reference.row_distances(schema, [dict(row)])[0] if reference else None
    )
    tried = 0
    for index, option in enumerate(_options(counterfactual)):
        changes = option.get("changes") or {}
        if not changes or any(
            name not in specs or name in excluded for name in changes
        ):
            continue
        rounded: list[dict[str, Any]] = []
        changed = dict(row)
        for name, change in changes.items():
            spec = specs[name]
            to = round_actionable(spec, row[name], change["to"])
            changed[name] = to
            rounded.append({"feature": name, "from": row[name], "to": to})
        tried += 1
        probability = score([changed])[0]
        if not _clears(
            probability,
            threshold=threshold,
            margin=margin,
            scored_is_favourable=scored_is_favourable,
        ):
            continue
        plausibility = None
        if reference is not None and original_distance is not None:
            distance = reference.row_distances(schema, [changed])[0]
            if distance > max(reference.bound, original_distance):
                continue
            plausibility = {
                "distance": round(distance, 6),
                "bound": round(reference.bound, 6),
                "original_distance": round(original_distance, 6),
            }
        return Recourse(
            status="found",
            option=index,
            changes=tuple(rounded),
            probability_after=probability,
            threshold=threshold,
            margin=margin,
            plausibility=plausibility,
        )
    return Recourse(
        status="none", note="none_held_after_rounding" if tried else "no_option"
    )

"""The groups of a protected attribute as SQL expressions over a decision's stored
features (categories as they are; numbers in three bands cut at the training
distribution's tertiles), and which model version's schema names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Q, Value, When
from django.db.models.fields.json import KeyTextTransform

import explain
from compliance.models import AISystem, ModelVersion


@dataclass(frozen=True)
class Attribute:
    spec: explain.FeatureSpec
    distribution: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.label

    def expression(self, path: str = "") -> Any:
        """SQL: the decision's group of this attribute, as text; ``path`` leads from
        the rows queried to the decision ("decision__" from explanations)."""
        return _expression(self.spec, self.distribution, path)


def current_version(ai_system: AISystem) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(ai_system=ai_system)
        .order_by("-is_active", "-created_at", "-id")
        .first()
    )


def _fmt(value: float) -> str:
    return f"{value:g}"


def _bands(spec: explain.FeatureSpec, distribution: dict[str, Any]) -> list[float]:
    edges = distribution.get("features", {}).get(spec.name, {}).get("edges") or []
    if len(edges) >= 2:
        cuts = [edges[len(edges) // 3], edges[(2 * len(edges)) // 3]]
    elif spec.min is not None and spec.max is not None:
        span = spec.max - spec.min
        cuts = [spec.min + span / 3, spec.min + 2 * span / 3]
    else:
        cuts = list(edges)
    if spec.integer:
        cuts = [float(round(c)) for c in cuts]
    return sorted(set(cuts))


def _expression(
    spec: explain.FeatureSpec, distribution: dict[str, Any], path: str
) -> Any:
    if spec.kind != "numeric":
        return KeyTextTransform(spec.name, f"{path}features")
    cuts = _bands(spec, distribution)
    if not cuts:
        return KeyTextTransform(spec.name, f"{path}features")
    whens = [
        When(
            Q(**{f"{path}features__{spec.name}__lt": cuts[0]}),
            then=Value(f"under {_fmt(cuts[0])}"),
        )
    ]
    for low, high in zip(cuts, cuts[1:], strict=False):
        whens.append(
            When(
                Q(**{f"{path}features__{spec.name}__lt": high}),
                then=Value(f"{_fmt(low)} to under {_fmt(high)}"),
            )
        )
    return Case(
        *whens,
        default=Value(f"{_fmt(cuts[-1])} or more"),
        output_field=CharField(),
    )


def protected_attributes(model_version: ModelVersion) -> list[Attribute]:
    """The schema's protected attributes, each with its group expression."""
    schema = explain.parse_feature_schema(model_version.feature_schema)
    distribution = model_version.training_distribution or {}
    return [Attribute(spec, distribution) for spec in schema.features if spec.protected]

"""A population's distribution per input feature, the reference that drift monitoring
compares each month's decisions with (population stability index).

Numeric features: up to ten bins cut at the training data's deciles (distinct edges
only), with each bin's share; categorical features: each declared category's share.
Plain Python: the trainer computes it beside the model and sends it with the model
version; without one, the schema's background rows stand in.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from explain.schema import FeatureSchema, FeatureSpec

BINS = 10


def numeric_edges(values: list[float], bins: int = BINS) -> list[float]:
    """Inner cut points at the quantiles k/bins (distinct, increasing)."""
    ordered = sorted(values)
    if not ordered:
        return []
    edges: list[float] = []
    for k in range(1, bins):
        cut = ordered[min(len(ordered) - 1, (k * len(ordered)) // bins)]
        if cut > ordered[0] and (not edges or cut > edges[-1]):
            edges.append(float(cut))
    return edges


def bin_index(value: float, edges: list[float]) -> int:
    """Bin k holds edges[k-1] <= value < edges[k] (first and last are open)."""
    return bisect.bisect_right(edges, value)


def _feature_distribution(
    spec: FeatureSpec, values: list[Any]
) -> dict[str, Any] | None:
    if not values:
        return None
    if spec.kind == "categorical":
        counts = {c: 0 for c in spec.categories}
        for v in values:
            if v in counts:
                counts[v] += 1
        total = sum(counts.values()) or 1
        return {
            "kind": "categorical",
            "categories": list(spec.categories),
            "shares": [counts[c] / total for c in spec.categories],
        }
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    edges = numeric_edges(numbers)
    per_bin = [0] * (len(edges) + 1)
    for v in numbers:
        per_bin[bin_index(v, edges)] += 1
    total = sum(per_bin) or 1
    return {"kind": "numeric", "edges": edges, "shares": [c / total for c in per_bin]}


def training_distribution(
    schema: FeatureSchema, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """{"rows": n, "features": {name: {"kind", "edges"|"categories", "shares"}}}.

    Example:
        >>> from explain.schema import parse_feature_schema
        >>> schema = parse_feature_schema({"features": [
        ...     {"name": "x", "kind": "numeric"},
        ...     {"name": "c", "kind": "categorical", "categories": ["a", "b"]}]})
        >>> d = training_distribution(schema, [{"x": i, "c": "a"} for i in range(10)])
        >>> d["features"]["x"]["edges"], d["features"]["c"]["shares"]
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1.0, 0.0])
    """
    rows = list(rows)
    features: dict[str, Any] = {}
    for spec in schema.features:
        dist = _feature_distribution(
            spec, [r[spec.name] for r in rows if spec.name in r]
        )
        if dist is not None:
            features[spec.name] = dist
    return {"rows": len(rows), "features": features}


def distribution_errors(schema: FeatureSchema, data: Any) -> dict[str, str]:
    """What is wrong with a training distribution sent with a model version, by
    path ({} when it fits the schema)."""
    if not isinstance(data, dict) or not isinstance(data.get("features"), dict):
        return {"training_distribution": 'Must be an object with "features".'}
    specs = schema.by_name()
    errors: dict[str, str] = {}
    for name, dist in data["features"].items():
        path = f"training_distribution.features.{name}"
        spec = specs.get(name)
        if spec is None:
            errors[path] = "Not a feature of the schema."
            continue
        if not isinstance(dist, dict) or not isinstance(dist.get("shares"), list):
            errors[path] = 'Must be an object with "shares".'
            continue
        shares = dist["shares"]
        if (
            not all(
                isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s <= 1
                for s in shares
            )
            or abs(sum(shares) - 1) > 1e-6
        ):
            errors[f"{path}.shares"] = "Must be shares from 0 to 1 that sum to 1."
            continue
        if spec.kind == "categorical":
            if dist.get("categories") != list(spec.categories) or len(shares) != len(
                spec.categories
            ):
                errors[path] = "Must list the schema's categories with one share each."
        else:
            edges = dist.get("edges")
            if (
                not isinstance(edges, list)
                or not all(
                    isinstance(e, int | float) and not isinstance(e, bool)
                    for e in edges
                )
                or any(b <= a for a, b in zip(edges, edges[1:], strict=False))
                or len(shares) != len(edges) + 1
            ):
                errors[path] = (
                    "Must give increasing edges and one more share than edges."
                )
    return errors

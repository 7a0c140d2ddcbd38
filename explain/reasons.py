"""Principal reasons and protected-attribute warnings, per method's attributions.

Reasons are the features pushing hardest toward the adverse outcome. The functions
work on a whole batch of one method's per-feature attributions at once;
``merge_warnings`` combines the methods' warnings into the decision's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from explain.schema import FeatureSchema

MAX_REASONS = 4
# a protected feature or a flagged proxy whose share of the row's total |attribution|
# reaches this is flagged. Measured on the credit demo's 1,000 applicants: a share of
# 0.30 flags 25 rows (2.5 %) with every completeness-bearing method (integrated
# gradients, Gradient SHAP, DeepLift, feature ablation, both Shapley estimators) and
# 32 with input x gradient; 0.20 would flag 99, 0.25 47. The rule it replaces (share
# >= 0.10 or among the four largest) flagged 468.
PROTECTED_SHARE_WARNING = 0.30
# reasons count as separated when their intervals of this many standard errors
# (about the 99 % two-sided t quantile for 7 degrees of freedom: eight replicates)
# do not overlap the next candidate's
REASONS_CONFIDENCE_Z = 3.5


def adverse_sign(class_labels: list[str], favourable_class: str) -> float:
    """+1 when the explained output (the scored class's logit) points at the adverse
    outcome, -1 when the scored class is the favourable one."""
    return 1.0 if class_labels[-1] != favourable_class else -1.0


def principal_reasons(
    schema: FeatureSchema,
    attributions: torch.Tensor,
    *,
    class_labels: list[str],
    favourable_class: str,
    limit: int = MAX_REASONS,
) -> list[list[dict[str, Any]]]:
    """Per row, at most ``limit`` non-protected features pushing toward the adverse class.

    Args:
        schema: the feature schema (labels, reason texts, protected flags).
        attributions: [N, F] per-feature attributions in schema order.

    Each reason is ``{"feature", "label", "text", "attribution"}``; ``text`` is the
    schema's reason text (the feature's label when the schema has none). Ties are
    broken by feature order.
    """
    sign = adverse_sign(class_labels, favourable_class)
    protected = torch.tensor([s.protected for s in schema.features])
    toward_adverse = attributions * sign
    eligible = (toward_adverse > 0) & ~protected
    ranked = torch.where(
        eligible, toward_adverse, torch.full_like(toward_adverse, -1.0)
    )
    k = min(limit, attributions.shape[1])
    values, indices = torch.topk(ranked, k, dim=1, sorted=True)
    # sorted descending: each row's reasons are its first ``count`` indices
    counts = (values > 0).sum(dim=1).tolist()
    described = [(f.name, f.label, f.reason or f.label) for f in schema.features]
    raw = attributions.tolist()
    out = []
    for row, row_indices, count in zip(raw, indices.tolist(), counts, strict=True):
        reasons = []
        for g in row_indices[:count]:
            name, label, text = described[g]
            reasons.append(
                {"feature": name, "label": label, "text": text, "attribution": row[g]}
            )
        out.append(reasons)
    return out


def reasons_separated(
    schema: FeatureSchema,
    attributions: torch.Tensor,
    standard_errors: torch.Tensor,
    *,
    class_labels: list[str],
    favourable_class: str,
    limit: int = MAX_REASONS,
    z: float = REASONS_CONFIDENCE_Z,
) -> torch.Tensor:
    """Per row, whether the reason set is separated beyond its confidence intervals.

    Args:
        attributions, standard_errors: [N, F] per-feature estimates and their
            standard errors (``inf`` where unknown, 0 where exact).
        z: the half-width of each interval in standard errors.

    The set ``principal_reasons`` gives is stable when every reason's interval lies
    above 0 and above every other eligible feature's interval, and, when there are
    fewer than ``limit`` reasons, no other eligible feature's interval reaches above
    0. Rows whose errors are all 0 (exact values) are stable.
    """
    sign = adverse_sign(class_labels, favourable_class)
    protected = torch.tensor([s.protected for s in schema.features])
    toward = attributions.to(torch.float64) * sign
    se = torch.nan_to_num(standard_errors.to(torch.float64), nan=math.inf)
    eligible = ~protected.unsqueeze(0).expand_as(toward)
    ranked = torch.where(eligible & (toward > 0), toward, torch.full_like(toward, -1.0))
    k = min(limit, attributions.shape[1])
    values, indices = torch.topk(ranked, k, dim=1, sorted=True)
    member = torch.zeros_like(eligible)
    member.scatter_(1, indices, values > 0)
    count = member.sum(dim=1)
    lower = toward - z * se
    upper = toward + z * se
    inf = torch.full_like(toward, math.inf)
    lowest_member = torch.where(member, lower, inf).min(dim=1).values
    highest_other = torch.where(eligible & ~member, upper, -inf).max(dim=1).values
    stable = (
        ((count == 0) | (lowest_member > 0))
        & (highest_other < lowest_member)
        & ((count == k) | (highest_other <= 0))
    )
    return stable | (se == 0).all(dim=1)


def protected_influence(
    schema: FeatureSchema, attributions: torch.Tensor
) -> list[list[dict[str, Any]]]:
    """Per row, the protected features and flagged proxies that carry a material share
    of the attribution.

    Args:
        schema: the feature schema; ``schema.proxies`` maps each flagged proxy to the
            protected attributes it stands for (see ``explain.proxies``).
        attributions: [N, F] per-feature attributions in schema order.

    A feature is listed when its share of the row's total |attribution| reaches
    ``PROTECTED_SHARE_WARNING``: ``{"feature", "share", "rank"}`` (rank 1 = largest
    magnitude), plus ``"proxy_for"`` (the protected attributes) for a proxy.

    Example:
        >>> protected_influence(schema, torch.tensor([[0.1, 0.6, 0.3]]))
        [[{'feature': 'age', 'share': 0.6, 'rank': 1}]]
    """
    watched = _watched_features(schema)
    out: list[list[dict[str, Any]]] = [[] for _ in range(attributions.shape[0])]
    if not watched:
        return out
    magnitude = attributions.abs()
    total = magnitude.sum(dim=1, keepdim=True)
    share = torch.where(total > 0, magnitude / total, torch.zeros_like(magnitude))
    columns = torch.tensor([g for g, _ in watched])
    material = (share[:, columns] >= PROTECTED_SHARE_WARNING) & (total > 0)
    if not bool(material.any()):
        return out
    flagged_rows = material.any(dim=1).nonzero().flatten()
    # rank 1 = largest magnitude; equal magnitudes share the better rank (only the
    # flagged rows: the comparison is [rows, F, F])
    flagged = magnitude[flagged_rows]
    rank = 1 + (flagged.unsqueeze(1) > flagged.unsqueeze(2)).sum(dim=2)
    position = {int(i): k for k, i in enumerate(flagged_rows.tolist())}
    for i, j in material.nonzero().tolist():
        g, proxy_for = watched[j]
        flag: dict[str, Any] = {
            "feature": schema.features[g].name,
            "share": round(float(share[i, g]), 4),
            "rank": int(rank[position[i], g]),
        }
        if proxy_for:
            flag["proxy_for"] = list(proxy_for)
        out[i].append(flag)
    return out


def _watched_features(schema: FeatureSchema) -> list[tuple[int, tuple[str, ...]]]:
    """(column, protected attributes it stands for) of each protected feature (no
    attributes: it is one) and each flagged proxy, in schema order."""
    proxies = schema.proxies
    return [
        (g, () if spec.protected else tuple(proxies[spec.name]))
        for g, spec in enumerate(schema.features)
        if spec.protected or spec.name in proxies
    ]


def protected_warnings(
    schema: FeatureSchema, attributions: torch.Tensor
) -> list[list[dict[str, Any]]]:
    """``protected_influence`` as warnings: ``{"code": "protected_attribute_influence",
    "feature", "share", "rank"}`` (and ``"proxy_for"`` for a flagged proxy) per
    flagged feature and row."""
    return [
        [{"code": "protected_attribute_influence", **flag} for flag in row]
        for row in protected_influence(schema, attributions)
    ]


def merge_warnings(
    per_method: Mapping[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The union of several methods' warnings for one row, one per (code, feature).

    Args:
        per_method: each method's warnings, in the order the methods were requested.

    Each merged warning keeps the figures of the first method that raised it and
    adds ``"methods"``: every method that raised it, so a flag from any method
    flags the decision.

    Example:
        >>> merge_warnings({"deeplift": [{"code": "c", "feature": "age"}],
        ...                 "saliency": [{"code": "c", "feature": "age"}]})
        [{'code': 'c', 'feature': 'age', 'methods': ['deeplift', 'saliency']}]
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for method, warnings in per_method.items():
        for warning in warnings:
            key = (str(warning["code"]), str(warning.get("feature", "")))
            if key not in merged:
                merged[key] = {**warning, "methods": []}
            merged[key]["methods"].append(method)
    return list(merged.values())

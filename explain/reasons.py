"""Principal reasons: the features pushing hardest toward the adverse outcome.

Both functions work on a whole batch of per-feature attributions at once.
"""

from __future__ import annotations

from typing import Any

import torch

from explain.schema import FeatureSchema

MAX_REASONS = 4
# a protected feature whose share of total |attribution| reaches this is flagged
PROTECTED_SHARE_WARNING = 0.10


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
    features = schema.features
    raw = attributions.tolist()
    out = []
    for i, (row_values, row_indices) in enumerate(
        zip(values.tolist(), indices.tolist(), strict=True)
    ):
        out.append(
            [
                {
                    "feature": features[g].name,
                    "label": features[g].label,
                    "text": features[g].reason or features[g].label,
                    "attribution": raw[i][g],
                }
                for value, g in zip(row_values, row_indices, strict=True)
                if value > 0
            ]
        )
    return out


def protected_influence(
    schema: FeatureSchema, attributions: torch.Tensor
) -> list[list[dict[str, Any]]]:
    """Per row, protected features with a large share of |attribution| or in the top four."""
    magnitude = attributions.abs()
    total = magnitude.sum(dim=1, keepdim=True)
    share = torch.where(total > 0, magnitude / total, torch.zeros_like(magnitude))
    # rank 1 = largest magnitude; equal magnitudes share the better rank
    rank = 1 + (magnitude.unsqueeze(1) > magnitude.unsqueeze(2)).sum(dim=2)
    out: list[list[dict[str, Any]]] = [[] for _ in range(attributions.shape[0])]
    for g, spec in enumerate(schema.features):
        if not spec.protected:
            continue
        flagged = (
            (share[:, g] >= PROTECTED_SHARE_WARNING) | (rank[:, g] <= MAX_REASONS)
        ) & (total[:, 0] > 0)
        for i in flagged.nonzero().flatten().tolist():
            out[i].append(
                {
                    "feature": spec.name,
                    "share": round(float(share[i, g]), 4),
                    "rank": int(rank[i, g]),
                }
            )
    return out

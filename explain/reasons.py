"""Principal reasons: the features pushing hardest toward the adverse outcome."""

from __future__ import annotations

from typing import Any

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
    attributions: dict[str, float],
    *,
    class_labels: list[str],
    favourable_class: str,
    limit: int = MAX_REASONS,
) -> list[dict[str, Any]]:
    """At most ``limit`` non-protected features with attribution toward the adverse class.

    Each reason is ``{"feature", "label", "text", "attribution"}``; ``text`` is the
    schema's reason text (the feature's label when the schema has none).
    """
    sign = adverse_sign(class_labels, favourable_class)
    specs = schema.by_name()
    candidates = [
        (name, value)
        for name, value in attributions.items()
        if sign * value > 0 and not specs[name].protected
    ]
    candidates.sort(key=lambda item: (-sign * item[1], item[0]))
    return [
        {
            "feature": name,
            "label": specs[name].label,
            "text": specs[name].reason or specs[name].label,
            "attribution": value,
        }
        for name, value in candidates[:limit]
    ]


def protected_influence(
    schema: FeatureSchema, attributions: dict[str, float]
) -> list[dict[str, Any]]:
    """Protected features carrying a large share of the attribution, or in the top four."""
    total = sum(abs(v) for v in attributions.values())
    if total == 0:
        return []
    ranked = sorted(attributions, key=lambda f: -abs(attributions[f]))
    flagged = []
    for spec in schema.features:
        if not spec.protected:
            continue
        share = abs(attributions[spec.name]) / total
        rank = ranked.index(spec.name) + 1
        if share >= PROTECTED_SHARE_WARNING or rank <= MAX_REASONS:
            flagged.append(
                {"feature": spec.name, "share": round(share, 4), "rank": rank}
            )
    return flagged

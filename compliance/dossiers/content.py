"""What a dossier shows, and which required element is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import explain
from compliance.dossiers.charts import attribution_bars_svg, counterfactual_svg
from compliance.errors import ValidationFailed
from compliance.explanations.selectors import explanations_newest
from compliance.models import AuditEvent, Decision

MAX_FEATURES = 300
CHART_FEATURES = 12  # the table below the chart lists every feature
RETENTION = "10 years after the decision (EU AI Act Art. 19; credit records)"


class DossierIncomplete(ValidationFailed):  # noqa: N818 (a domain error, named for users)
    code = "dossier_incomplete"


def regimes(decision: Decision) -> dict[str, bool]:
    org = decision.organization
    eu = "EU" in org.jurisdiction
    us = "US" in org.jurisdiction
    category = (decision.ai_system.annex_iii_category or "").lower()
    credit = "credit" in category or "5(b)" in category
    mv = decision.model_version
    adverse = decision.outcome != mv.favourable_class
    return {
        "ai_act_art_86": eu and bool(category),
        "gdpr_art_22": eu,
        "reg_b": us and credit and adverse,
        "adverse": adverse,
    }


@dataclass
class DossierContent:
    context: dict[str, Any]
    missing: list[str]


def dossier_content(decision: Decision) -> DossierContent:
    """Everything the dossier shows, and what required element is missing."""
    mv = decision.model_version
    schema = explain.parse_feature_schema(mv.feature_schema)
    specs = schema.by_name()
    missing: list[str] = []
    if len(schema.features) > MAX_FEATURES:
        missing.append(
            f"at most {MAX_FEATURES} features fit a dossier; this model has "
            f"{len(schema.features)}"
        )
    newest = {e.method: e for e in explanations_newest(decision)}
    primary = newest.get("integrated_gradients") or next(iter(newest.values()), None)
    run = primary.run if primary is not None else None
    rules = regimes(decision)
    if primary is None:
        missing.append("an explanation of the decision (request one first)")
    elif rules["adverse"]:
        if not primary.reasons:
            missing.append("principal reasons for the adverse outcome")
        no_text = [
            r["feature"] for r in primary.reasons if not specs[r["feature"]].reason
        ]
        if no_text:
            missing.append(
                "reason texts in the feature schema for: " + ", ".join(sorted(no_text))
            )
    sign = 1.0 if mv.class_labels[-1] != mv.favourable_class else -1.0
    inputs = []
    for spec in schema.features:
        value = decision.features.get(spec.name)
        out_of_range = spec.kind == "numeric" and (
            (spec.min is not None and value < spec.min)
            or (spec.max is not None and value > spec.max)
        )
        inputs.append({"spec": spec, "value": value, "out_of_range": out_of_range})
    charts = {}
    if primary is not None:
        charts["attributions"] = attribution_bars_svg(
            sorted(
                ((specs[n].label, v) for n, v in primary.attributions.items()),
                key=lambda kv: -abs(kv[1]),
            )[:CHART_FEATURES],
            adverse_sign=sign,
            title=f"Attributions ({primary.method})",
        )
        if run is not None and run.counterfactual:
            cf = run.counterfactual
            charts["counterfactual"] = counterfactual_svg(
                score_before=cf["score_before"],
                score_after=cf["score_after"],
                threshold=mv.decision_threshold,
                labels=mv.class_labels,
            )
    attribution_rows = []
    if primary is not None:
        for name, value in sorted(
            primary.attributions.items(), key=lambda kv: -abs(kv[1])
        ):
            attribution_rows.append(
                {
                    "spec": specs[name],
                    "value": value,
                    "direction": "adverse" if value * sign > 0 else "favourable",
                    "baseline": primary.baseline.get(name),
                }
            )
    events = AuditEvent.objects.filter(
        organization=decision.organization,
        object_type="decision",
        object_id=str(decision.pk),
    ).order_by("id")  # insertion order: sequences restart per chain (legacy, org)
    context = {
        "decision": decision,
        "mv": mv,
        "ai": decision.ai_system,
        "org": decision.organization,
        "schema": schema,
        "inputs": inputs,
        "excluded": [s for s in schema.features if s.protected],
        "primary": primary,
        "run": run,
        "methods": list(newest.values()),
        "charts": charts,
        "attribution_rows": attribution_rows,
        "reviews": list(
            decision.reviews.select_related(
                "reviewer", "supersedes", "confirmation__confirmed_by"
            )
        ),
        "final_outcome_by": (
            decision.final_outcome_by.get_username()
            if decision.final_outcome_by is not None
            else ""
        ),
        "regimes": rules,
        "events": list(events),
        "retention": RETENTION,
        "threshold": mv.decision_threshold,
        "scored_class": mv.class_labels[-1],
    }
    return DossierContent(context=context, missing=missing)


def dossier_content_complete(decision: Decision) -> DossierContent:
    """The content, or DossierIncomplete naming everything that is missing."""
    content = dossier_content(decision)
    if content.missing:
        raise DossierIncomplete(
            "The dossier cannot be issued; missing: "
            + "; ".join(content.missing)
            + ".",
            {"decision": content.missing},
        )
    return content

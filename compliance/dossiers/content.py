"""What a dossier shows, and which required element is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import explain
from compliance.dossiers import bounds as b
from compliance.dossiers.bounds import clip, clip_list
from compliance.dossiers.charts import attribution_bars_svg, counterfactual_svg
from compliance.dossiers.extract import audit_extract
from compliance.dossiers.templatetags import feature_value
from compliance.errors import ValidationFailed
from compliance.explanations.presentation import (
    counterfactual_alternatives,
    method_name,
    reasons_source,
    reasons_unstable,
    standard_error_text,
)
from compliance.explanations.selectors import explanations_newest
from compliance.models import Decision, Review

MAX_FEATURES = 300
CHART_FEATURES = 12  # the table below the chart lists every feature
MAX_REVIEW_ROWS = 50  # the most recent reviews; the API lists every one
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
    lead = newest.get("integrated_gradients") or next(iter(newest.values()), None)
    run = lead.run if lead is not None else None
    # the reasons, the chart and the attribution table come from the run's reasons
    # method (runs stored before it was recorded: from the lead method, as then)
    source = (
        reasons_source(run, fallback=lead, explanations=newest.values())
        if run is not None
        else None
    )
    primary = (source.explanation if source is not None else None) or lead
    given = source.explanation if source is not None else None
    rules = regimes(decision)
    if primary is None:
        missing.append("an explanation of the decision (request one first)")
    elif rules["adverse"]:
        if given is None:
            missing.append(
                "principal reasons for the adverse outcome (the requested methods "
                "give none; request a completeness-bearing method such as "
                "Integrated Gradients)"
            )
        elif not given.reasons:
            missing.append("principal reasons for the adverse outcome")
        no_text = [
            r["feature"]
            for r in (given.reasons if given is not None else [])
            if not specs[r["feature"]].reason
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
        inputs.append(
            {
                "spec": spec,
                "label": clip(spec.label, b.NAME),
                "unit": clip(spec.unit, b.SHORT),
                "value": clip(feature_value(value), b.NAME),
                "out_of_range": out_of_range,
            }
        )
    charts = {}
    if primary is not None:
        charts["attributions"] = attribution_bars_svg(
            sorted(
                (
                    (clip(specs[n].label, b.NAME), v)
                    for n, v in primary.attributions.items()
                ),
                key=lambda kv: -abs(kv[1]),
            )[:CHART_FEATURES],
            adverse_sign=sign,
            title=f"Attributions ({method_name(primary.method)})",
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
                    "label": clip(specs[name].label, b.NAME),
                    "value": value,
                    "error": standard_error_text(primary.standard_errors, name),
                    "direction": _direction(value * sign),
                    "baseline": clip(feature_value(primary.baseline.get(name)), b.NAME),
                }
            )
    given_reasons = given.reasons if given is not None else []
    given_errors = given.standard_errors if given is not None else None
    reviews = list(
        decision.reviews.select_related(
            "reviewer", "supersedes", "confirmation__confirmed_by"
        ).order_by("-created_at", "-pk")[:MAX_REVIEW_ROWS]
    )[::-1]
    context = {
        "decision": decision,
        "mv": mv,
        "ai": decision.ai_system,
        "org": decision.organization,
        "schema": schema,
        "inputs": inputs,
        "excluded": [clip(s.label, b.NAME) for s in schema.features if s.protected],
        "proxies": _proxy_analysis(mv.proxy_analysis, specs),
        "primary": primary,
        "primary_name": clip(method_name(primary.method), b.SHORT) if primary else "",
        "sampled": primary is not None and primary.standard_errors is not None,
        "reasons_note": clip(source.note if source is not None else "", b.NOTE),
        "reasons_unstable": reasons_unstable(given),
        "run": run,
        "methods": [_method_row(e) for e in newest.values()],
        "charts": charts,
        "attribution_rows": attribution_rows,
        "reviews": [_review_row(r) for r in reviews],
        "reviews_earlier": decision.reviews.count() - len(reviews),
        "final_outcome_by": (
            clip(decision.final_outcome_by.get_username(), b.NAME)
            if decision.final_outcome_by is not None
            else ""
        ),
        "regimes": rules,
        "text": _texts(decision),
        "reasons": [
            {
                "text": clip(r.get("text"), b.REASON),
                "label": clip(r.get("label"), b.NAME),
                "attribution": r.get("attribution"),
                "error": standard_error_text(given_errors, r.get("feature")),
            }
            for r in given_reasons[: b.LIST_ITEMS]
        ],
        "counterfactual": _counterfactual(run),
        "quality": _quality(run, primary),
        "metrics": _metrics(mv.performance_metrics),
        "extract": audit_extract(decision),
        "retention": RETENTION,
        "threshold": mv.decision_threshold,
        "scored_class": mv.class_labels[-1],
    }
    return DossierContent(context=context, missing=missing)


def _texts(decision: Decision) -> dict[str, str]:
    """The decision's, AI system's and model version's texts, bounded."""
    ai, mv, org = decision.ai_system, decision.model_version, decision.organization
    return {
        "external_id": clip(decision.external_id, b.NAME),
        "subject_ref": clip(decision.subject_ref, b.NAME),
        "outcome": clip(decision.outcome, b.SHORT),
        "final_outcome": clip(decision.final_outcome, b.SHORT),
        "org": clip(org.name, b.NAME),
        "ai_name": clip(ai.name, b.NAME),
        "provider": clip(ai.provider, b.NAME),
        "deployer": clip(ai.deployer or org.name, b.NAME),
        "annex_iii_category": clip(ai.annex_iii_category, b.NAME),
        "intended_purpose": clip(ai.intended_purpose, b.PURPOSE),
        "known_limitations": clip(ai.known_limitations, b.LONG_TEXT),
        "instructions_for_use": clip(ai.instructions_for_use, b.LONG_TEXT),
        "mv_version": clip(mv.version, b.SHORT),
        "architecture": clip(mv.architecture, b.SHORT),
        "hyperparameters": clip(mv.hyperparameters, b.HYPERPARAMETERS),
        "model_type": clip(model_type(mv), b.HYPERPARAMETERS),
        "training_data_summary": clip(mv.training_data_summary, b.LONG_TEXT),
        "scored_class": clip(mv.class_labels[-1], b.SHORT),
    }


EXECUTION_TEXT = {
    "onnx_torch": "converted to torch (every attribution method)",
    "onnx_runtime": "run in onnxruntime (perturbation methods only: no gradients)",
}


def model_type(mv: Any) -> str:
    """What the model is, for section 7: a registry architecture with its
    hyperparameters, or an ONNX model with its operators and how it runs."""
    if not mv.is_onnx:
        return f"{mv.architecture} {mv.hyperparameters}"
    operators = sorted(
        {op.split(":", 1)[-1] for op in mv.onnx_plan.get("operators", [])}
    )
    output = mv.hyperparameters.get("output", {})
    shown = ", ".join(operators[:8]) + (" ..." if len(operators) > 8 else "")
    how = EXECUTION_TEXT.get(mv.execution, mv.execution)
    if "tree_shap" in mv.methods:
        how += ", and exact TreeSHAP read from its trees"
    return (
        f"ONNX model ({shown}), {how}; "
        f"output {output.get('index', 0)} is the scored class's "
        f"{output.get('kind', 'value')}"
    )


def _review_row(review: Review) -> dict[str, Any]:
    confirmation = getattr(review, "confirmation", None)
    return {
        "created_at": review.created_at,
        "reviewer": clip(review.reviewer.get_username(), b.NAME),
        "action": review.get_action_display(),
        "human_outcome": clip(review.human_outcome, b.SHORT),
        "confirmed_by": (
            clip(confirmation.confirmed_by.get_username(), b.NAME)
            if confirmation is not None
            else ""
        ),
        "confirmed_at": confirmation.created_at if confirmation is not None else None,
        "justification": clip(review.justification, b.JUSTIFICATION),
        "supersedes": review.supersedes.action if review.supersedes else "",
        "supersede_reason": clip(review.supersede_reason, b.SUPERSEDE_REASON),
    }


def _counterfactual(run: Any) -> dict[str, Any]:
    cf = run.counterfactual if run is not None else None
    return {
        "found": bool(cf),
        "outcome": clip((cf or {}).get("outcome"), b.SHORT),
        "descriptions": clip_list((cf or {}).get("descriptions"), b.REASON),
        "cost": (cf or {}).get("cost"),
        "alternatives": [
            {
                "descriptions": clip_list(option["descriptions"], b.REASON),
                "cost": option["cost"],
                "outcome": clip(option["outcome"], b.SHORT),
            }
            for option in counterfactual_alternatives(cf)
        ],
        "note": clip(run.counterfactual_note if run is not None else "", b.NOTE),
    }


def _direction(adverse_value: float) -> str:
    # exactly 0: a feature the model ignores, or one equal to the baseline
    if adverse_value == 0:
        return "none"
    return "adverse" if adverse_value > 0 else "favourable"


def _method_row(explanation: Any) -> dict[str, Any]:
    """A method's line in the quality table: the gap its attributions leave to
    f(x) - f(baseline) (completeness or efficiency, whichever it promises), its
    steps or samples, its largest standard error, and what needs a person."""
    quality = explanation.quality or {}
    gap = quality.get("completeness_gap")
    if gap is None:
        gap = quality.get("efficiency_gap")
    error_max = quality.get("standard_error_max")
    if quality.get("exact") or error_max == 0:
        error_text = "exact"
    elif isinstance(error_max, (int, float)):
        error_text = f"{error_max:.4f}"
    else:
        error_text = "unknown" if "standard_error_max" in quality else "n/a"
    parameters = explanation.parameters or {}
    return {
        "method": clip(explanation.method, b.SHORT),
        "name": clip(method_name(explanation.method), b.SHORT),
        "gap": gap,
        "steps": explanation.n_steps or parameters.get("n_samples") or "",
        "error_max": error_text,
        "infidelity": quality.get("infidelity"),
        "sensitivity_max": quality.get("sensitivity_max"),
        "reasons_unstable": bool(quality.get("reasons_unstable")),
        "no_reasons": bool(explanation.reasons_note),
    }


def _quality(run: Any, primary: Any) -> dict[str, Any]:
    manifest = (primary.manifest if primary is not None else None) or {}
    return {
        "needs_review_reasons": ", ".join(
            clip_list(run.needs_review_reasons if run is not None else [], b.NAME)
        ),
        "warnings": [
            {
                "feature": clip(w.get("feature"), b.NAME),
                "share": clip(w.get("share"), b.SHORT),
                "rank": clip(w.get("rank"), b.SHORT),
                "proxy_for": ", ".join(clip_list(w.get("proxy_for") or [], b.NAME)),
            }
            for w in (run.warnings if run is not None else [])[: b.LIST_ITEMS]
        ],
        "manifest": {
            key: clip(manifest.get(key), b.SHORT)
            for key in ("python", "torch", "captum", "device", "dtype", "seed")
        }
        | {"input_sha256": str(manifest.get("input_sha256") or "")[:64]},
    }


NOT_ANALYSED = (
    "No proxy analysis is recorded for this model version (registered before the "
    "analysis existed)."
)


def _proxy_analysis(analysis: Any, specs: dict[str, Any]) -> dict[str, Any]:
    """The registration's proxy analysis: per protected attribute, the features found
    to stand in for it (with their scores) and how well the features predict it
    jointly."""

    def label(name: str) -> str:
        spec = specs.get(name)
        return clip(spec.label if spec is not None else name, b.NAME)

    if not isinstance(analysis, dict) or analysis.get("status") != "analysed":
        note = analysis.get("note") if isinstance(analysis, dict) else None
        return {"analysed": False, "note": clip(note or NOT_ANALYSED, b.NOTE)}
    attributes = []
    for name, result in list(analysis.get("attributes", {}).items())[: b.LIST_ITEMS]:
        probe = result.get("probe", {})
        metric = "R²" if probe.get("metric") == "r2" else "balanced accuracy"
        attributes.append(
            {
                "label": label(name),
                "proxies": [
                    {
                        "label": label(p),
                        "score": clip(result["features"][p]["score"], b.SHORT),
                    }
                    for p in result.get("proxies", [])[: b.LIST_ITEMS]
                ],
                "probe": clip(
                    f"{metric} {probe.get('score')} (chance {probe.get('chance')})",
                    b.NAME,
                ),
            }
        )
    return {
        "analysed": True,
        "rows": clip(analysis.get("rows"), b.SHORT),
        "threshold": clip(analysis.get("threshold"), b.SHORT),
        "attributes": attributes,
    }


def _metrics(metrics: Any) -> list[tuple[str, str]]:
    """The model version's performance metrics, at most ``METRICS`` of them."""
    items = list(metrics.items()) if isinstance(metrics, dict) else []
    shown = [(clip(k, b.NAME), clip(v, b.SHORT)) for k, v in items[: b.METRICS]]
    if len(items) > b.METRICS:
        shown.append(("…", f"and {len(items) - b.METRICS:,} more"))
    return shown


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

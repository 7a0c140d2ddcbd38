"""Requesting explanations: validate now (a bad request is a 400, not a failed job),
then queue one job per distinct request."""

from __future__ import annotations

import hashlib
from typing import Any

import explain
from compliance.audit import canonical_json
from compliance.errors import Conflict, ValidationFailed
from compliance.jobs import job_create
from compliance.models import Decision, Job
from compliance.platform.text import hostile_text_refuse
from compliance.policy import require
from compliance.principals import Operator, Principal
from explain.engine import methods_refusal


def explanation_request_check(
    methods: Any,
    parameters: Any,
    feature_schema: Any = None,
    *,
    budget: int | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Validate methods and parameters; with the model version's schema, also check
    that the baselines asked for exist; with a ``budget``, that the request's
    estimated cost (model evaluations per decision, ``explain.cost``) is within it."""
    methods, parameters, _ = _request_checked(
        methods, parameters, feature_schema, budget
    )
    return methods, parameters


def _request_checked(
    methods: Any,
    parameters: Any,
    feature_schema: Any,
    budget: int | None,
    available: list[str] | None = None,
) -> tuple[list[str], dict[str, Any], explain.CostEstimate]:
    if parameters is None:
        parameters = {}
    hostile_text_refuse(json={"methods": methods, "parameters": parameters})
    try:
        methods, per_method, general = explain.resolve_request(methods, parameters)
        if available is not None:
            refused = [m for m in methods if m not in available]
            if refused:
                message = methods_refusal(refused, tuple(available))
                raise ValidationFailed(message, {"methods": [message]})
        if feature_schema is not None:
            schema = explain.parse_feature_schema(feature_schema)
            explain.baselines_check(schema, per_method)
            estimate = explain.schema_cost(schema, methods, per_method, general)
        else:  # the most features a schema may have
            estimate = explain.request_cost(
                methods, per_method, general, n_features=explain.MAX_FEATURES
            )
        if budget is not None:
            explain.cost_check(estimate, budget)
    except explain.UnknownMethod as exc:
        raise ValidationFailed(str(exc), {"methods": [str(exc)]}) from exc
    except explain.CostExceeded as exc:
        field = "methods" if "Lower methods" in str(exc) else "parameters"
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from exc
    except explain.BadParameter as exc:
        field = "methods" if str(exc).startswith("methods") else "parameters"
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from exc
    return list(methods), dict(parameters), estimate


def _request_sha256(methods: list[str], parameters: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({"methods": methods, "parameters": parameters}).encode()
    ).hexdigest()


def batch_key(model_version_id: int) -> str:
    """Explanation jobs of one model version run in one batch."""
    return f"model_version:{model_version_id}"


def explanation_request(
    *,
    principal: Principal | Operator,
    decision: Decision,
    methods: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[Job, bool]:
    """Queue an explanation job; the same request again returns the same job.

    Returns ``(job, created)``. A failed job asked for again is queued again.
    """
    require(principal, "explanation.request", decision)
    mv = decision.model_version
    budget = mv.ai_system.explanation_cost_limit
    methods, parameters, estimate = _request_checked(
        mv.methods[:1] if methods is None else methods,
        parameters,
        mv.feature_schema,
        budget,
        mv.methods,
    )
    if not mv.is_active:
        raise Conflict(
            "The decision's model version is retired; it is no longer explained.",
            {"model_version": ["This model version is retired."]},
        )
    return job_create(
        kind=Job.Kind.EXPLANATION,
        decision=decision,
        request_sha256=_request_sha256(methods, parameters),
        requested_by=principal.actor,
        # the estimate is for operators; the request hash leaves it out
        payload={
            "methods": methods,
            "parameters": parameters,
            "cost": {**estimate.to_dict(), "budget": budget},
        },
        batch_key=batch_key(mv.pk),
    )

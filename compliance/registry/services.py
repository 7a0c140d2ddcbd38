"""Registering AI systems and model versions (immutable once registered)."""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

import explain
from compliance.audit import audit_event_append, canonical_json
from compliance.errors import Conflict, ValidationFailed
from compliance.models import AISystem, ModelVersion
from compliance.models.registry import ONNX
from compliance.platform.text import hostile_text_refuse
from compliance.platform.text_limits import (
    AI_SYSTEM_TEXT_MAX,
    TRAINING_DATA_SUMMARY,
    text_limits_check,
)
from compliance.policy import require
from compliance.principals import Operator, Principal
from compliance.registry.model_check import model_build_check, onnx_plan_check
from explain.engine import methods_refusal
from explain.onnx_check import OnnxRefused
from explain.onnx_models import OUTPUT_KINDS
from explain.proxies import proxy_analysis
from explain.reason_vocabulary import reason_texts_check

AI_SYSTEM_FIELDS = (
    "name",
    "provider",
    "intended_purpose",
    "annex_iii_category",
    "deployer",
    "instructions_for_use",
    "known_limitations",
)


def _text_limits_refuse(fields: dict[str, tuple[Any, int]]) -> None:
    """Refuse text longer than its documented cap (text_limits), naming each field."""
    errors = text_limits_check(fields)
    if errors:
        raise ValidationFailed(
            " ".join(m for ms in errors.values() for m in ms), errors
        )


def _ai_system_text_check(fields: dict[str, Any]) -> None:
    _text_limits_refuse(
        {
            name: (value, AI_SYSTEM_TEXT_MAX[name])
            for name, value in fields.items()
            if name in AI_SYSTEM_TEXT_MAX and isinstance(value, str)
        }
    )


@transaction.atomic
def ai_system_register(
    *,
    principal: Principal,
    explain_on_receipt: bool = False,
    default_explanation_methods: list[str] | None = None,
    four_eyes_overturn: bool | None = None,
    blind_first_review: bool | None = None,
    explanation_cost_budget: int | None = None,
    **fields: Any,
) -> AISystem:
    """Register an AI system; optionally explain every decision it sends on receipt,
    and give its explanation requests their own cost budget (model evaluations per
    decision; None: the platform default)."""
    require(principal, "ai_system.register")
    explanation_budget_check(explanation_cost_budget)
    _ai_system_text_check(fields)
    hostile_text_refuse(
        {k: fields[k] for k in AI_SYSTEM_FIELDS if k in fields},
        {"default_explanation_methods": default_explanation_methods or []},
    )
    organization = principal.organization
    methods = list(default_explanation_methods or [])
    if methods:
        _methods_check(methods)
    if AISystem.objects.filter(organization=organization, name=fields["name"]).exists():
        raise Conflict(
            f"An AI system named '{fields['name']}' already exists.",
            {
                "name": [
                    "An AI system with this name already exists in your organisation."
                ]
            },
        )
    ai_system = AISystem.objects.create(
        organization=organization,
        explain_on_receipt=explain_on_receipt,
        default_explanation_methods=methods,
        four_eyes_overturn=four_eyes_overturn,
        blind_first_review=blind_first_review,
        explanation_cost_budget=explanation_cost_budget,
        **{k: fields.get(k, "") for k in AI_SYSTEM_FIELDS},
    )
    audit_event_append(
        actor=principal.actor,
        organization=organization,
        action="ai_system.registered",
        object_type="ai_system",
        object_id=ai_system.pk,
        payload={
            **{k: getattr(ai_system, k) for k in AI_SYSTEM_FIELDS},
            "explain_on_receipt": explain_on_receipt,
            "default_explanation_methods": methods,
            "four_eyes_overturn": four_eyes_overturn,
            "four_eyes_required": ai_system.four_eyes_required,
            "blind_first_review": blind_first_review,
            "blind_first_required": ai_system.blind_first_required,
            "explanation_cost_budget": explanation_cost_budget,
        },
    )
    return ai_system


DRILL_RATE_MAX = 0.5


def _drill_rate_check(rate: Any) -> None:
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not 0.0 <= rate <= DRILL_RATE_MAX
    ):
        raise ValidationFailed(
            "The drill rate is a share of a reviewer's cases.",
            {"drill_rate": [f"Give a number from 0 to {DRILL_RATE_MAX}."]},
        )


# what an operator may change on a registered AI system (its name and organisation
# never change: decisions and dossiers name them)
AI_SYSTEM_UPDATABLE = (
    "provider",
    "intended_purpose",
    "annex_iii_category",
    "deployer",
    "instructions_for_use",
    "known_limitations",
    "explain_on_receipt",
    "blind_first_review",
    "drill_rate",
    "four_eyes_overturn",
    "explanation_cost_budget",
    "review_sla_hours",
)
# a review SLA: from an hour to a year
REVIEW_SLA_HOURS_MAX = 24 * 366


def review_sla_check(value: Any) -> None:
    """An AI system's review SLA: whole hours from 1 to a year, or None (the
    platform's REVIEW_SLA_HOURS)."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= REVIEW_SLA_HOURS_MAX
    ):
        message = (
            f"Must be a whole number of hours from 1 to {REVIEW_SLA_HOURS_MAX}, or "
            f"empty for the platform default ({settings.REVIEW_SLA_HOURS})."
        )
        raise ValidationFailed(message, {"review_sla_hours": [message]})


@transaction.atomic
def ai_system_update(
    *, operator: Operator, ai_system: AISystem, **changes: Any
) -> AISystem:
    """Change an AI system's description or review settings; the audit event holds
    the old and new value of each field that changed (``annex_iii_category`` decides
    the regimes a dossier names and, unless set, whether overturns need four eyes)."""
    require(operator, "ai_system.update")
    unknown = sorted(set(changes) - set(AI_SYSTEM_UPDATABLE))
    if unknown:
        raise ValidationFailed(
            "These fields cannot be changed.",
            {field: ["Cannot be changed."] for field in unknown},
        )
    if "explanation_cost_budget" in changes:
        explanation_budget_check(changes["explanation_cost_budget"])
    if "drill_rate" in changes:
        _drill_rate_check(changes["drill_rate"])
    if "review_sla_hours" in changes:
        review_sla_check(changes["review_sla_hours"])
    hostile_text_refuse({k: v for k, v in changes.items() if isinstance(v, str)})
    _ai_system_text_check(changes)
    ai_system = AISystem.objects.select_for_update().get(pk=ai_system.pk)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    four_eyes_before = ai_system.four_eyes_required
    blind_before = ai_system.blind_first_required
    for field, value in changes.items():
        if getattr(ai_system, field) != value:
            old[field], new[field] = getattr(ai_system, field), value
            setattr(ai_system, field, value)
    if not new:
        return ai_system
    if {"explanation_cost_budget", "explain_on_receipt"} & set(new):
        _receipt_explanations_check(
            ai_system,
            ai_system.model_versions.filter(is_active=True).values_list(
                "feature_schema", flat=True
            ),
            field="explanation_cost_budget",
        )
    ai_system.save(update_fields=list(new))
    if ai_system.four_eyes_required != four_eyes_before:
        old["four_eyes_required"] = four_eyes_before
        new["four_eyes_required"] = ai_system.four_eyes_required
    if ai_system.blind_first_required != blind_before:
        old["blind_first_required"] = blind_before
        new["blind_first_required"] = ai_system.blind_first_required
    audit_event_append(
        actor=operator.actor,
        organization=ai_system.organization,
        action="ai_system.updated",
        object_type="ai_system",
        object_id=ai_system.pk,
        payload={"old": old, "new": new},
    )
    return ai_system


@transaction.atomic
def model_version_retire(
    *, operator: Operator, model_version: ModelVersion
) -> ModelVersion:
    """Retire a model version: it accepts no new decisions (replays of stored ones
    still answer); its decisions, explanations and dossiers stay as they are."""
    require(operator, "model_version.retire")
    mv = (
        ModelVersion.objects.select_for_update()
        .select_related("ai_system__organization")
        .get(pk=model_version.pk)
    )
    if not mv.is_active:
        return mv
    mv.is_active = False
    mv.save(update_fields=["is_active"])
    audit_event_append(
        actor=operator.actor,
        organization=mv.ai_system.organization,
        action="model_version.retired",
        object_type="model_version",
        object_id=mv.pk,
        payload={
            "ai_system": mv.ai_system_id,
            "version": mv.version,
            "old": {"is_active": True},
            "new": {"is_active": False},
        },
    )
    return mv


def explanation_budget_check(value: Any) -> None:
    """An AI system's own explanation cost budget: a whole number of model evaluations
    per decision from 1 to EXPLANATION_COST_BUDGET_MAX, or None (the default)."""
    if value is None:
        return
    maximum = settings.EXPLANATION_COST_BUDGET_MAX
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= maximum
    ):
        message = (
            f"Must be a whole number of model evaluations per decision from 1 to "
            f"{maximum:,} (the platform maximum), or empty for the platform default "
            f"({settings.EXPLANATION_COST_BUDGET:,})."
        )
        raise ValidationFailed(message, {"explanation_cost_budget": [message]})


def _receipt_explanations_check(
    ai_system: AISystem, feature_schemas: Iterable[Any], *, field: str
) -> None:
    """Explain-on-receipt must fit the system's budget on each schema: otherwise
    every decision the system sends would be refused."""
    if not ai_system.explain_on_receipt:
        return
    methods = list(ai_system.default_explanation_methods or [explain.METHODS[0]])
    resolved = explain.resolve_request(methods, {})
    for feature_schema in feature_schemas:
        estimate = explain.schema_cost(
            explain.parse_feature_schema(feature_schema), *resolved
        )
        try:
            explain.cost_check(estimate, ai_system.explanation_cost_limit)
        except explain.CostExceeded as exc:
            message = (
                f"Explaining every decision on receipt ({', '.join(methods)}) would "
                f"exceed the AI system's explanation cost budget: {exc}"
            )
            raise ValidationFailed(message, {field: [message]}) from exc


def _methods_check(methods: list[str]) -> None:
    try:
        explain.resolve_request(methods, {})
    except explain.UnknownMethod as exc:
        raise ValidationFailed(str(exc), {"methods": [str(exc)]}) from exc
    except explain.BadParameter as exc:
        field = "methods" if str(exc).startswith("methods") else "parameters"
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from exc


def onnx_output_check(output: Any) -> dict[str, Any]:
    """An ONNX model's output declaration: ``{"kind": "probability" | "logit",
    "index": n}`` (index 0 when left out); the normalised declaration, or
    ValidationFailed naming ``output``."""
    kinds = ", ".join(OUTPUT_KINDS)
    if not isinstance(output, dict) or set(output) - {"kind", "index"}:
        message = (
            'Declare the output as {"kind": "probability" or "logit", "index": n}: '
            "which output of the graph is the scored class's probability or logit."
        )
        raise ValidationFailed(message, {"output": [message]})
    kind, index = output.get("kind"), output.get("index", 0)
    if kind not in OUTPUT_KINDS:
        message = f"output.kind must be one of {kinds}."
        raise ValidationFailed(message, {"output.kind": [message]})
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 64:
        message = "output.index must be a whole number from 0 to 63."
        raise ValidationFailed(message, {"output.index": [message]})
    return {"kind": kind, "index": index}


def _onnx_check(
    *,
    feature_schema: Any,
    output: dict[str, Any],
    data: bytes,
    ai_system: AISystem,
) -> dict[str, Any]:
    """Check the ONNX file and plan how it runs (in the checker's child process);
    a refusal is a 400 on ``onnx`` naming its rule."""
    try:
        plan = onnx_plan_check(feature_schema=feature_schema, output=output, data=data)
    except OnnxRefused as exc:
        message = f"The ONNX model is refused ({exc.code}): {exc.message}"
        raise ValidationFailed(message, {"onnx": [message]}) from exc
    wanted = list(ai_system.default_explanation_methods or [])
    missing = [m for m in wanted if m not in plan["available_methods"]]
    if ai_system.explain_on_receipt and missing:
        message = (
            f"The AI system explains every decision on receipt with "
            f"{', '.join(wanted)}; this model offers "
            f"{', '.join(plan['available_methods'])}. "
            + methods_refusal(missing, tuple(plan["available_methods"]))
        )
        raise ValidationFailed(message, {"onnx": [message]})
    return plan


def _registry_model_errors(
    *,
    architecture: str,
    hyperparameters: Any,
    schema: Any,
    feature_schema: Any,
    weights: bytes,
) -> dict[str, list[str]]:
    """A registry architecture's own checks: known, sane hyperparameters, and the
    weights build it (in the checker's child process)."""
    errors: dict[str, list[str]] = {}
    if architecture not in explain.ARCHITECTURES:
        known = ", ".join(sorted(explain.ARCHITECTURES))
        errors["architecture"] = [f"Unknown architecture; known: {known}."]
    if not isinstance(hyperparameters, dict):
        errors["hyperparameters"] = ["Must be a JSON object."]
    if errors or schema is None:
        return errors
    # bound what the model would allocate before building anything
    try:
        explain.parameter_count(architecture, schema.input_width, hyperparameters)
    except explain.ModelLoadError as exc:
        return {"hyperparameters": [str(exc)]}
    # built in a child process with its own memory and time limits (model_check)
    problem = model_build_check(
        architecture=architecture,
        schema=schema,
        feature_schema=feature_schema,
        hyperparameters=hyperparameters,
        weights=weights,
    )
    return {"weights": [problem]} if problem else {}


def _model_version_check(
    *,
    architecture: str,
    hyperparameters: dict[str, Any],
    feature_schema: Any,
    class_labels: Any,
    favourable_class: str,
    decision_threshold: float,
    weights: bytes,
) -> None:
    """The schema, labels and threshold; for a registry architecture its weights too
    (an ONNX file is checked on its own: ``_onnx_check``)."""
    errors: dict[str, list[str]] = {}
    schema = None
    try:
        schema = explain.parse_feature_schema(feature_schema)
    except explain.SchemaError as exc:
        for path, messages in exc.errors.items():
            errors[f"feature_schema.{path}"] = messages
    if schema is not None:
        # a reason text may not name a quantity its feature does not measure
        for path, messages in reason_texts_check(schema).items():
            errors[f"feature_schema.{path}"] = messages
    if (
        not isinstance(class_labels, list)
        or len(class_labels) != 2
        or not all(isinstance(c, str) and c.strip() for c in class_labels)
        or class_labels[0] == class_labels[1]
    ):
        errors["class_labels"] = [
            "Must be two distinct labels [negative, positive]; the model scores the positive one."
        ]
    elif favourable_class not in class_labels:
        errors["favourable_class"] = ["Must be one of class_labels."]
    if not (
        isinstance(decision_threshold, (int, float))
        and math.isfinite(decision_threshold)
        and 0 < decision_threshold < 1
    ):
        errors["decision_threshold"] = ["Must be a number strictly between 0 and 1."]
    if architecture != ONNX:
        errors.update(
            _registry_model_errors(
                architecture=architecture,
                hyperparameters=hyperparameters,
                schema=schema,
                feature_schema=feature_schema,
                weights=weights,
            )
        )
    if errors:
        raise ValidationFailed("The model version is invalid; see errors.", errors)


def model_version_register(
    *,
    principal: Principal,
    ai_system: AISystem,
    version: str,
    feature_schema: Any,
    class_labels: Any,
    favourable_class: str,
    decision_threshold: float,
    architecture: str = "",
    hyperparameters: dict[str, Any] | None = None,
    weights: bytes = b"",
    onnx: bytes | None = None,
    output: Any = None,
    training_data_summary: str = "",
    performance_metrics: dict[str, Any] | None = None,
    training_distribution: Any = None,
) -> ModelVersion:
    """Validate the schema and the model, measure which features are proxies of a
    protected attribute (``explain.proxies``), store them, audit it.

    The model is a registry ``architecture`` with its ``hyperparameters`` and
    safetensors ``weights``, or an ``onnx`` file with its ``output`` declaration
    (``{"kind": "probability" | "logit", "index": n}``), checked and planned by
    ``explain.onnx_models`` (its execution path and methods are stored with it)."""
    require(principal, "model_version.register")
    if ai_system.organization_id != principal.organization.pk:
        raise ValidationFailed(
            "Unknown AI system.", {"ai_system": ["Unknown AI system."]}
        )
    hostile_text_refuse(
        {
            "version": version,
            "architecture": architecture,
            "favourable_class": favourable_class,
            "training_data_summary": training_data_summary,
        },
        {
            "hyperparameters": hyperparameters,
            "feature_schema": feature_schema,
            "class_labels": class_labels,
            "performance_metrics": performance_metrics or {},
        },
    )
    _text_limits_refuse(
        {"training_data_summary": (training_data_summary, TRAINING_DATA_SUMMARY)}
    )
    hyperparameters = {} if hyperparameters is None else hyperparameters
    if onnx is not None:
        if architecture not in ("", ONNX) or hyperparameters or weights:
            message = (
                "Send either an ONNX file (onnx, with its output declaration) or a "
                "registry architecture with its weights, not both."
            )
            fields = [
                f
                for f, given in (
                    ("architecture", architecture not in ("", ONNX)),
                    ("hyperparameters", bool(hyperparameters)),
                    ("weights", bool(weights)),
                )
                if given
            ]
            raise ValidationFailed(message, {f: [message] for f in fields})
        architecture, weights = ONNX, onnx
        declared = onnx_output_check(output)
        hyperparameters = {"output": declared}
    elif not architecture or not weights:
        message = (
            "Send a registry architecture with its safetensors weights, or an ONNX "
            "file (onnx) with its output declaration."
        )
        missing = [
            f
            for f, v in (("architecture", architecture), ("weights", weights))
            if not v
        ]
        raise ValidationFailed(message, {f: [message] for f in missing})
    elif output is not None:
        message = "output declares an ONNX model's output; send it with onnx."
        raise ValidationFailed(message, {"output": [message]})
    _model_version_check(
        architecture=architecture,
        hyperparameters=hyperparameters,
        feature_schema=feature_schema,
        class_labels=class_labels,
        favourable_class=favourable_class,
        decision_threshold=decision_threshold,
        weights=weights,
    )
    _receipt_explanations_check(ai_system, [feature_schema], field="feature_schema")
    # which features stand in for a protected attribute, from the schema's
    # background rows (the explanation warning watches them like protected ones)
    parsed = explain.parse_feature_schema(feature_schema)
    plan: dict[str, Any] = {}
    if architecture == ONNX:
        plan = _onnx_check(
            feature_schema=feature_schema,
            output=hyperparameters["output"],
            data=weights,
            ai_system=ai_system,
        )
    proxies = proxy_analysis(parsed)
    # the reference of drift monitoring: the trainer's, else the background rows'
    if training_distribution is None:
        training_distribution = {
            **explain.training_distribution(parsed, parsed.background),
            "source": "background",
        }
    else:
        errors = explain.distribution_errors(parsed, training_distribution)
        if errors:
            raise ValidationFailed(
                "The training distribution does not fit the feature schema.",
                {path: [message] for path, message in errors.items()},
            )
        training_distribution = {**training_distribution, "source": "training"}
    sha = explain.sha256_hex(weights)
    mv = ModelVersion(
        ai_system=ai_system,
        version=version,
        architecture=architecture,
        hyperparameters=hyperparameters,
        weights_sha256=sha,
        feature_schema=feature_schema,
        class_labels=class_labels,
        favourable_class=favourable_class,
        decision_threshold=float(decision_threshold),
        training_data_summary=training_data_summary,
        performance_metrics=performance_metrics or {},
        proxy_analysis=proxies,
        training_distribution=training_distribution,
        execution=plan.get("execution", "torch"),
        available_methods=plan.get("available_methods", []),
        onnx_plan=plan,
    )
    try:
        with transaction.atomic():
            if ModelVersion.objects.filter(
                ai_system=ai_system, version=version
            ).exists():
                raise Conflict(
                    f"Version '{version}' of this AI system already exists; model versions are immutable.",
                    {
                        "version": [
                            "This version already exists; register a new version instead."
                        ]
                    },
                )
            # the storage names a new file (a suffix when the name is taken), so the
            # file deleted on failure below is only ever the one this call saved
            suffix = "onnx" if architecture == ONNX else "safetensors"
            mv.weights.save(f"{sha}.{suffix}", ContentFile(weights), save=False)
            mv.save()
            audit_event_append(
                actor=principal.actor,
                organization=principal.organization,
                action="model_version.registered",
                object_type="model_version",
                object_id=mv.pk,
                payload={
                    "ai_system": ai_system.pk,
                    "version": version,
                    "architecture": architecture,
                    "weights_sha256": sha,
                    **(
                        {
                            "execution": mv.execution,
                            "available_methods": mv.available_methods,
                            "output": hyperparameters["output"],
                        }
                        if architecture == ONNX
                        else {}
                    ),
                    "feature_schema_sha256": hashlib.sha256(
                        canonical_json(feature_schema).encode()
                    ).hexdigest(),
                    "class_labels": class_labels,
                    "favourable_class": favourable_class,
                    "proxy_analysis": {
                        "status": proxies["status"],
                        "proxies": proxies["proxies"],
                    },
                },
            )
    except BaseException:
        if mv.weights.name:  # no orphaned weight files: the row was not stored
            with contextlib.suppress(OSError):  # the first error is the one to tell
                mv.weights.storage.delete(mv.weights.name)
        raise
    return mv

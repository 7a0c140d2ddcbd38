"""Intake: validate a submission against its model version, reproduce the score, store
it once (idempotent per client system and external_id), audit it."""

from __future__ import annotations

from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

import explain
from compliance.audit import audit_events_append
from compliance.decisions.submission import FUTURE_SKEW, Submission, Submitted
from compliance.errors import Conflict, ValidationFailed
from compliance.explanations import explanation_request
from compliance.models import AISystem, ClientSystem, Decision, ModelVersion
from compliance.platform.fastpath import fetch_joined
from compliance.platform.text import hostile_text_refuse
from compliance.policy import require
from compliance.principals import Principal
from compliance.registry.loading import SCORE_TOLERANCE, score_reproduce

_SCHEMAS: dict[tuple[int, str, Any], explain.FeatureSchema] = {}


def feature_schema_of(mv: ModelVersion) -> explain.FeatureSchema:
    """The parsed feature schema of a version (kept per version, weights hash and
    creation time: a database rebuilt from scratch reuses primary keys)."""
    key = (mv.pk, mv.weights_sha256, mv.created_at)
    schema = _SCHEMAS.get(key)
    if schema is None:
        if len(_SCHEMAS) > 256:
            _SCHEMAS.clear()
        schema = _SCHEMAS[key] = explain.parse_feature_schema(mv.feature_schema)
    return schema


def decision_row(
    principal: Principal,
    mv: ModelVersion,
    data: Submission,
    submission_sha: str,
    reproduced: float | None,
) -> Decision:
    """The decision to insert for a validated submission (not saved)."""
    consistent = (
        None if reproduced is None else abs(reproduced - data.score) <= SCORE_TOLERANCE
    )
    return Decision(
        organization=principal.organization,
        ai_system=mv.ai_system,
        model_version=mv,
        client_system=principal.client_system,
        external_id=data.external_id,
        subject_ref=data.subject_ref,
        features=data.features,
        score=data.score,
        outcome=data.outcome,
        decided_at=data.decided_at,
        prediction_consistent=consistent,
        reproduced_score=reproduced,
        submission_sha256=submission_sha,
        # a score the model does not give, or a version whose weights failed their
        # integrity check, goes to a person first
        status=(
            Decision.Status.NEEDS_REVIEW
            if consistent is False or mv.integrity_suspended_at is not None
            else Decision.Status.UNREVIEWED
        ),
    )


def submitted_event(principal: Principal, decision: Decision) -> dict[str, Any]:
    """The ``decision.submitted`` audit event of a stored decision."""
    return {
        "actor": principal.actor,
        "organization": principal.organization,
        "action": "decision.submitted",
        "object_type": "decision",
        "object_id": decision.pk,
        "payload": {
            "external_id": decision.external_id,
            "model_version": decision.model_version_id,
            "outcome": decision.outcome,
            "submission_sha256": decision.submission_sha256,
            "prediction_consistent": decision.prediction_consistent,
            "status": decision.status,
        },
    }


def _decision_stored(client_system: ClientSystem, external_id: str) -> Decision | None:
    return Decision.objects.filter(
        client_system=client_system, external_id=external_id
    ).first()


def _decision_replay(existing: Decision, submission_sha: str) -> Submitted:
    if existing.submission_sha256 != submission_sha:
        raise Conflict(
            "A different decision was already submitted with this external_id.",
            {
                "external_id": [
                    f"Already used by decision {existing.pk} with a different payload; "
                    "external_id must identify one decision."
                ]
            },
        )
    return Submitted(existing, False)


def decision_submit(*, principal: Principal, submission: Submission) -> Submitted:
    """Record a decision made by a client system's model.

    An identical resubmission returns the original with ``created=False``; a different
    payload under the same external_id raises Conflict. A new submission is validated
    against the model version's schema, re-scored and inserted; the unique
    (client system, external_id) constraint answers a replay that races it.
    """
    require(principal, "decision.submit")
    client_system = principal.client_system
    if client_system is None:
        raise ValidationFailed("Only client systems submit decisions.")
    data = submission
    hostile_text_refuse(
        {
            "external_id": data.external_id,
            "subject_ref": data.subject_ref,
            "outcome": data.outcome,
        },
        {"features": data.features},
    )
    mv = cast(
        ModelVersion | None,
        fetch_joined(
            [(ModelVersion, None), (AISystem, "ai_system")],
            "t0.id = %s AND t1.organization_id = %s",
            [data.model_version, principal.organization.pk],
        ),
    )
    if mv is None or not mv.is_active:
        # a replay answers with the original even if its model version has since
        # retired; any other submission to a retired or unknown version is refused
        existing = _decision_stored(client_system, data.external_id)
        if existing is not None:
            try:
                return _decision_replay(existing, data.sha256())
            except ValueError:  # a payload that cannot even be hashed (NaN)
                pass
    if mv is None:
        raise ValidationFailed(
            "Unknown model version.", {"model_version": ["Unknown model version."]}
        )
    if not mv.is_active:
        raise ValidationFailed(
            "This model version is retired and accepts no new decisions.",
            {"model_version": ["This model version is retired."]},
        )
    submission_validate(mv, data)
    submission_sha = data.sha256()
    reproduced = score_reproduce(mv, data.features)
    try:
        with transaction.atomic():
            decision = decision_row(principal, mv, data, submission_sha, reproduced)
            decision.save(force_insert=True)
            audit_events_append([submitted_event(principal, decision)])
            if mv.ai_system.explain_on_receipt:
                explanation_request(
                    principal=principal,
                    decision=decision,
                    methods=mv.ai_system.default_explanation_methods or None,
                )
    except IntegrityError:
        # The external_id is taken (a replay, or a concurrent twin that won the race):
        # answer with the stored decision. Any other integrity error is not ours to mask.
        existing = _decision_stored(client_system, data.external_id)
        if existing is None:
            raise
        return _decision_replay(existing, submission_sha)
    return Submitted(decision, True)


def submission_validate(mv: ModelVersion, data: Submission) -> None:
    """Raise ValidationFailed naming every field that does not fit ``mv``."""
    errors: dict[str, list[str]] = {}
    schema = feature_schema_of(mv)
    for name, messages in explain.validate_feature_values(
        schema, data.features
    ).items():
        errors[f"features.{name}" if name else "features"] = messages
    if data.outcome not in mv.class_labels:
        errors["outcome"] = [
            f"Must be one of this model version's class labels: {', '.join(mv.class_labels)}."
        ]
    if data.decided_at > timezone.now() + FUTURE_SKEW:
        errors["decided_at"] = ["Cannot be in the future."]
    if errors:
        raise ValidationFailed(
            "The decision does not match the model version's schema; see errors.",
            errors,
        )

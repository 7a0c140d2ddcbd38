"""Reads scoped to the principal's organisation. A list never relies on object permissions."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import (
    AISystem,
    AuditEvent,
    Decision,
    Dossier,
    Explanation,
    ExplanationJob,
    ModelVersion,
)
from compliance.principals import Principal


def ai_system_list(*, principal: Principal) -> QuerySet[AISystem]:
    return AISystem.objects.filter(organization=principal.organization).order_by(
        "name", "id"
    )


def model_version_list(*, principal: Principal) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(ai_system__organization=principal.organization)
        .select_related("ai_system")
        .order_by("ai_system__name", "-created_at", "-id")
    )


def model_version_get(
    *, principal: Principal, model_version_id: int
) -> ModelVersion | None:
    return model_version_list(principal=principal).filter(pk=model_version_id).first()


def decision_list(*, principal: Principal) -> QuerySet[Decision]:
    return Decision.objects.filter(organization=principal.organization).select_related(
        "ai_system", "model_version", "client_system"
    )


def explanation_job_list(*, principal: Principal) -> QuerySet[ExplanationJob]:
    return ExplanationJob.objects.filter(organization=principal.organization)


def explanation_list(*, principal: Principal, decision: Decision) -> list[Explanation]:
    """The newest stored explanation per method of a decision in the caller's org."""
    newest: dict[str, Explanation] = {}
    for explanation in Explanation.objects.filter(
        decision=decision, decision__organization=principal.organization
    ).order_by("-created_at", "-id"):
        newest.setdefault(explanation.method, explanation)
    return sorted(newest.values(), key=lambda e: e.method)


def dossier_list(*, principal: Principal) -> QuerySet[Dossier]:
    """The organisation's dossiers, newest version first (bytes deferred)."""
    return (
        Dossier.objects.filter(organization=principal.organization)
        .defer("pdf")
        .order_by("-decision_id", "-version")
    )


def audit_event_list(*, principal: Principal) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization=principal.organization).order_by(
        "-sequence"
    )

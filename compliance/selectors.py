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
from compliance.numbers import MAX_ID, whole_number
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


CASE_FLAGS = {
    "not_reproduced": "Prediction not reproduced",
    "low_quality": "Low explanation quality",
    "protected_influence": "Protected-attribute influence",
}


def case_queue(*, principal: Principal, filters: dict[str, str]) -> QuerySet[Decision]:
    """The organisation's decisions, newest first, with the UI's filters applied.

    Unknown or malformed filter values are ignored (the form shows what applies).
    """
    from django.db.models import Exists, OuterRef

    flagged_low = Explanation.objects.filter(decision=OuterRef("pk"), needs_review=True)
    flagged_protected = Explanation.objects.filter(decision=OuterRef("pk")).exclude(
        warnings=[]
    )
    queryset = (
        decision_list(principal=principal)
        .annotate(
            low_quality=Exists(flagged_low),
            protected_influence=Exists(flagged_protected),
        )
        .order_by("-decided_at", "-id")
    )
    ai_system = whole_number(filters.get("ai_system", ""), cap=MAX_ID)
    if ai_system is not None:
        # an id no row can have (beyond 2**62) selects nothing rather than overflowing
        queryset = (
            queryset.filter(ai_system_id=ai_system)
            if ai_system <= MAX_ID
            else queryset.none()
        )
    outcome = filters.get("outcome", "")
    if outcome:
        # stored outcomes never hold NUL, which PostgreSQL refuses in a parameter
        queryset = (
            queryset.filter(outcome=outcome)
            if "\x00" not in outcome
            else queryset.none()
        )
    if filters.get("status") in Decision.Status.values:
        queryset = queryset.filter(status=filters["status"])
    flag = filters.get("flag")
    if flag == "not_reproduced":
        queryset = queryset.filter(prediction_consistent=False)
    elif flag == "low_quality":
        queryset = queryset.filter(low_quality=True)
    elif flag == "protected_influence":
        queryset = queryset.filter(protected_influence=True)
    for key, lookup in (
        ("decided_after", "decided_at__date__gte"),
        ("decided_before", "decided_at__date__lte"),
    ):
        value = filters.get(key, "")
        if value:
            try:
                from datetime import date

                queryset = queryset.filter(**{lookup: date.fromisoformat(value)})
            except ValueError:
                pass
    return queryset


def case_counts(*, principal: Principal) -> dict[str, int]:
    from django.db.models import Count

    counts = {status: 0 for status in Decision.Status.values}
    rows = decision_list(principal=principal).values("status").annotate(n=Count("id"))
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


def decision_history(
    *, principal: Principal, decision: Decision
) -> QuerySet[AuditEvent]:
    """A decision's audit events: its own and those of the jobs about it."""
    from django.db.models import Q

    return AuditEvent.objects.filter(
        Q(object_type="decision", object_id=str(decision.pk))
        | Q(object_type="explanation_job", payload__decision=decision.pk),
        organization=principal.organization,
    ).order_by("sequence")

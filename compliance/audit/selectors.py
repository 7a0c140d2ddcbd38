"""Reads of the audit trail, scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from compliance.models import AuditEvent, Decision
from compliance.policy import require
from compliance.principals import Principal

# events about a job name its decision in their payload
JOB_OBJECT_TYPES = ("job", "explanation_job")


def audit_event_list(*, principal: Principal) -> QuerySet[AuditEvent]:
    require(principal, "audit.read")
    # newest first; ids follow the order of writing across the organisation's legacy
    # events and its own chain
    return AuditEvent.objects.filter(organization=principal.organization).order_by(
        "-id"
    )


def decision_history(
    *, principal: Principal, decision: Decision
) -> QuerySet[AuditEvent]:
    """A decision's audit events: its own and those of the jobs about it."""
    require(principal, "decision.read", decision)
    return AuditEvent.objects.filter(
        Q(object_type="decision", object_id=str(decision.pk))
        | Q(object_type__in=JOB_OBJECT_TYPES, payload__decision=decision.pk),
        organization=principal.organization,
    ).order_by("id")

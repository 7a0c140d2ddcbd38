"""Reads of AI systems and model versions, scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import AISystem, ModelVersion
from compliance.policy import require
from compliance.principals import Principal


def ai_system_list(*, principal: Principal) -> QuerySet[AISystem]:
    require(principal, "ai_system.read")
    return AISystem.objects.filter(organization=principal.organization).order_by(
        "name", "id"
    )


def model_version_list(*, principal: Principal) -> QuerySet[ModelVersion]:
    require(principal, "model_version.read")
    return (
        ModelVersion.objects.filter(ai_system__organization=principal.organization)
        .select_related("ai_system")
        .order_by("ai_system__name", "-created_at", "-id")
    )

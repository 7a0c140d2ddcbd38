"""Reads of dossiers, scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import Decision, Dossier
from compliance.policy import require
from compliance.principals import Principal


def dossier_list(*, principal: Principal) -> QuerySet[Dossier]:
    """The organisation's dossiers, newest version first (bytes deferred)."""
    require(principal, "dossier.read")
    return (
        Dossier.objects.filter(organization=principal.organization)
        .defer("pdf")
        .order_by("-decision_id", "-version")
    )


def decision_dossiers(*, principal: Principal, decision: Decision) -> QuerySet[Dossier]:
    return (
        dossier_list(principal=principal).filter(decision=decision).order_by("-version")
    )

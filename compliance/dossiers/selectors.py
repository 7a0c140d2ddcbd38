"""Reads of dossiers, scoped to the caller's organisation. Every dossier read here says
whether a newer version of the same decision's dossier supersedes it."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from compliance.models import Decision, Dossier
from compliance.policy import require
from compliance.principals import Principal


def with_superseded(dossiers: QuerySet[Dossier]) -> QuerySet[Dossier]:
    """Annotate ``superseded``: a newer version exists for the same decision."""
    newer = Dossier.objects.filter(
        decision=OuterRef("decision"), version__gt=OuterRef("version")
    )
    return dossiers.annotate(superseded=Exists(newer))


def dossier_superseded(dossier: Dossier) -> bool:
    """Whether a newer version supersedes ``dossier`` (annotated, or asked now)."""
    annotated = getattr(dossier, "superseded", None)
    if annotated is not None:
        return bool(annotated)
    return Dossier.objects.filter(
        decision_id=dossier.decision_id, version__gt=dossier.version
    ).exists()


def dossier_list(*, principal: Principal) -> QuerySet[Dossier]:
    """The organisation's dossiers, newest version first (bytes deferred); for a client
    system only those of the decisions it submitted, as with the decisions."""
    require(principal, "dossier.read")
    queryset = Dossier.objects.filter(organization=principal.organization)
    if principal.is_client:
        queryset = queryset.filter(
            decision__client_system=principal.client_system, decision__is_drill=False
        )
    return with_superseded(queryset.defer("pdf").order_by("-decision_id", "-version"))


def decision_dossiers(*, principal: Principal, decision: Decision) -> QuerySet[Dossier]:
    return (
        dossier_list(principal=principal).filter(decision=decision).order_by("-version")
    )

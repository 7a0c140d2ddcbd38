"""Reads of decisions and the case queue, scoped to the caller's organisation."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from compliance import policy
from compliance.models import Decision, ExplanationRun
from compliance.platform.numbers import MAX_ID, whole_number
from compliance.policy import require
from compliance.principals import Principal


def decision_list(*, principal: Principal) -> QuerySet[Decision]:
    """The organisation's decisions; for a client system, only those it submitted
    (their reviews and final outcomes are its own business, not its neighbours').
    Training drills: never for client systems; for auditors and admins, marked; for
    a reviewer, only the ones put in their queue (unmarked until answered)."""
    require(principal, "decision.read")
    queryset = Decision.objects.filter(organization=principal.organization)
    if principal.is_client:
        queryset = queryset.filter(
            client_system=principal.client_system, is_drill=False
        )
    elif not policy.can(principal, "drill.read"):
        user = getattr(principal, "user", None)
        queryset = queryset.filter(
            Q(is_drill=False)
            | Q(drill__assigned_to_id=user.pk if user is not None else None)
        )
    return queryset.select_related(
        "ai_system", "model_version", "client_system", "final_outcome_by"
    )


CASE_FLAGS = {
    "not_reproduced": "Prediction not reproduced",
    "low_quality": "Low explanation quality",
    "protected_influence": "Protected-attribute influence",
}


def case_queue(
    *, principal: Principal, filters: dict[str, str], blind_pending: Any
) -> QuerySet[Decision]:
    """The organisation's decisions, newest first, with the UI's filters applied.

    Unknown or malformed filter values are ignored (the form shows what applies).
    ``blind_pending`` is the blind-first rule as an expression
    (``reviews.selectors.blind_pending_expression``): each row carries it, and the
    outcome filter never selects a row whose answer is hidden (so neither the rows
    nor the counts tell a hidden outcome).
    """
    flagged_low = ExplanationRun.objects.filter(
        decision=OuterRef("pk"), needs_review=True
    )
    flagged_protected = ExplanationRun.objects.filter(decision=OuterRef("pk")).exclude(
        warnings=[]
    )
    queryset = (
        decision_list(principal=principal)
        .annotate(
            low_quality=Exists(flagged_low),
            protected_influence=Exists(flagged_protected),
            blind_pending=blind_pending,
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
            queryset.filter(outcome=outcome, blind_pending=False)
            if "\x00" not in outcome
            else queryset.none()
        )
    # the client's reference or the subject's pseudonym, exactly (both indexed by
    # their uniqueness or short enough to scan one organisation's cases)
    search = filters.get("q", "").strip()
    if search:
        queryset = (
            queryset.filter(Q(external_id=search) | Q(subject_ref=search))
            if "\x00" not in search
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
                queryset = queryset.filter(**{lookup: date.fromisoformat(value)})
            except ValueError:
                pass
    return queryset


def case_counts(*, principal: Principal) -> dict[str, int]:
    counts = {status: 0 for status in Decision.Status.values}
    rows = decision_list(principal=principal).values("status").annotate(n=Count("id"))
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts

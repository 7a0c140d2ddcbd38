"""Reads of decisions and the case queue, scoped to the caller's organisation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OrderBy,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance import policy
from compliance.errors import ValidationFailed
from compliance.models import AISystem, Decision, ExplanationRun
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


# the queue's sortable columns (``?sort=``, ``-`` for descending); the newest
# decision first when none is asked for
CASE_SORTS = {
    "decided": "Decided",
    "received": "Received",
    "age": "Age",
    "outcome": "Outcome",
    "status": "Status",
    "ai_system": "AI system",
    "assignee": "Assignee",
}
CASE_SORT_DEFAULT = "-decided"
# statuses in the order a case moves through them
_STATUS_RANK = Case(
    *(When(status=value, then=Value(i)) for i, value in enumerate(Decision.Status)),
    output_field=IntegerField(),
)


def case_sort_check(value: str) -> str:
    """The ``?sort=`` value if the queue can sort by it ("" for the default);
    ``ValidationFailed`` naming the columns otherwise."""
    if value == "" or value.removeprefix("-") in CASE_SORTS:
        return value
    columns = ", ".join(CASE_SORTS)
    raise ValidationFailed(
        "The cases cannot be sorted that way.",
        {
            "sort": [
                f"Sort by one of: {columns} (with a leading - for descending order)."
            ]
        },
    )


def _case_order(sort: str) -> list[OrderBy]:
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    expression: Any = {
        "decided": F("decided_at"),
        "received": F("received_at"),
        # the youngest case first: the latest received
        "age": F("received_at"),
        # blind-first: a hidden answer sorts as no answer, so a row's place does not
        # tell it (and hidden rows stay together)
        "outcome": Case(
            When(blind_pending=True, then=Value("")),
            default=F("outcome"),
            output_field=CharField(),
        ),
        "status": _STATUS_RANK,
        "ai_system": F("ai_system__name"),
        "assignee": F("assignee_name"),
    }[column]
    if column == "age":
        descending = not descending
    ordered = (
        expression.desc(nulls_last=True)
        if descending
        else expression.asc(nulls_last=True)
    )
    return [ordered, F("id").desc()]


def case_queue(
    *, principal: Principal, filters: dict[str, str], blind_pending: Any
) -> QuerySet[Decision]:
    """The organisation's decisions, newest first, with the UI's filters applied.

    Unknown or malformed filter values are ignored (the form shows what applies),
    but for ``sort``, which ``case_sort_check`` judges (``ValidationFailed``).
    ``blind_pending`` is the blind-first rule as an expression
    (``reviews.selectors.blind_pending_expression``): each row carries it, and the
    outcome filter never selects a row whose answer is hidden (so neither the rows
    nor the counts tell a hidden outcome); sorting by outcome puts hidden rows
    together.

    Each row carries ``assignee_id`` and ``assignee_name`` (a drill's reviewer is
    its drill's, so it looks like any case given to them), ``sla_hours`` (its AI
    system's review SLA) and ``past_sla`` (not final, and received longer ago).
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
            assignee_id=Coalesce(F("assigned_to_id"), F("drill__assigned_to_id")),
            assignee_name=Coalesce(
                F("assigned_to__username"), F("drill__assigned_to__username")
            ),
            sla_hours=Coalesce(
                F("ai_system__review_sla_hours"), Value(settings.REVIEW_SLA_HOURS)
            ),
        )
        .annotate(past_sla=_past_sla(principal))
        .order_by(
            *_case_order(case_sort_check(filters.get("sort", "")) or CASE_SORT_DEFAULT)
        )
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
    assignee = filters.get("assignee", "")
    if assignee == "me":
        user = getattr(principal, "user", None)
        queryset = queryset.filter(assignee_id=user.pk if user is not None else None)
    elif assignee == "none":
        queryset = queryset.filter(assignee_id__isnull=True)
    elif assignee.isdigit() and len(assignee) <= 18:
        queryset = queryset.filter(assignee_id=int(assignee))
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


def _past_sla(principal: Principal) -> Any:
    """Open (not final) and received longer ago than its AI system's SLA: one
    condition per system with its own SLA (an organisation has a handful), so it is
    plain date comparisons on every database."""
    now = timezone.now()
    due = Q(
        ai_system__review_sla_hours__isnull=True,
        received_at__lt=now - timedelta(hours=settings.REVIEW_SLA_HOURS),
    )
    own = AISystem.objects.filter(
        organization=principal.organization, review_sla_hours__isnull=False
    ).values_list("pk", "review_sla_hours")
    for pk, hours in own:
        due |= Q(ai_system_id=pk, received_at__lt=now - timedelta(hours=hours or 0))
    return ExpressionWrapper(
        ~Q(status=Decision.Status.FINAL) & due, output_field=BooleanField()
    )


def case_counts(*, principal: Principal) -> dict[str, int]:
    counts = {status: 0 for status in Decision.Status.values}
    rows = decision_list(principal=principal).values("status").annotate(n=Count("id"))
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts

"""Reads of a decision's reviews for whoever may read the decision, and the blind-first
rule: whether the model's answer is hidden from a principal."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models import Value as V

from compliance import policy
from compliance.errors import NotFound, PermissionDenied
from compliance.models import Decision, PreliminaryView, Review
from compliance.policy import require
from compliance.principals import Principal
from compliance.reviews.services import preliminary_view_required

BLIND_PENDING_DETAIL = (
    "This AI system uses blind-first review: the model's output, its explanations, "
    "the reviews and the dossiers of this decision are shown once you record your "
    "preliminary view on the case page."
)


class BlindPending(PermissionDenied):
    """The model's answer is hidden from this reviewer until their preliminary view."""

    code = "blind_pending"

    def __init__(self, detail: str = BLIND_PENDING_DETAIL):
        super().__init__(detail)


# --- blind-first: the one rule ---------------------------------------------------
# Who is blindfolded: people whose role may review (officers and admins: they record a
# preliminary view). Client systems are the source of the decision and see their own
# output; auditors never review (read-only), so nothing anchors them.


def _blindfolded(principal: Principal | None) -> bool:
    return (
        principal is not None
        and getattr(principal, "user", None) is not None
        and policy.can(principal, "review.preliminary_view")
    )


def blind_pending(*, principal: Principal | None, decision: Decision) -> bool:
    """Whether the model's answer to ``decision`` is hidden from ``principal``: its AI
    system asks for blind-first review, the principal is a reviewer, and has not yet
    recorded a preliminary view of it. Hidden means everything that tells the model's
    answer: score, outcome, reproduction check, explanations, the reviews and final
    outcome (an uphold repeats the model's outcome) and the dossier PDFs."""
    return _blindfolded(principal) and preliminary_view_required(
        principal=principal,  # type: ignore[arg-type]
        decision=decision,
    )


def blind_pending_expression(principal: Principal | None, decision: str = "") -> Any:
    """The same rule as a boolean SQL expression over rows holding a decision (no query
    per row). ``decision`` is the path from the row to its decision ("" for decisions
    themselves, "decision" for dossiers)."""
    if not _blindfolded(principal):
        return V(False, output_field=BooleanField())
    prefix = f"{decision}__" if decision else ""
    viewed = PreliminaryView.objects.filter(
        decision=OuterRef(decision or "pk"),
        reviewer=principal.user,  # type: ignore[union-attr]
    )
    return ExpressionWrapper(
        (
            Q(**{f"{prefix}ai_system__blind_first_review": True})
            | (
                Q(**{f"{prefix}ai_system__blind_first_review__isnull": True})
                & ~Q(**{f"{prefix}ai_system__annex_iii_category": ""})
            )
        )
        & ~Exists(viewed),
        output_field=BooleanField(),
    )


def blind_pending_annotate(
    *, principal: Principal | None, queryset: QuerySet[Any], decision: str = ""
) -> QuerySet[Any]:
    """``queryset`` with ``blind_pending`` on each row (see ``blind_pending``)."""
    return queryset.annotate(
        blind_pending=blind_pending_expression(principal, decision)
    )


def blind_pending_refuse(*, principal: Principal | None, decision: Decision) -> None:
    """Raise ``BlindPending`` (403) while the model's answer is hidden."""
    if blind_pending(principal=principal, decision=decision):
        raise BlindPending()


# --- reviews ---------------------------------------------------------------------


def review_list(*, principal: Principal, decision: Decision) -> QuerySet[Review]:
    """Every review of the decision, oldest first, superseded ones included; refused
    (``BlindPending``) while blind-first hides the model's answer from the reader."""
    require(principal, "review.read", decision)
    # a client system reads the reviews of the decisions it submitted, no others
    own = principal.client_system
    if principal.is_client and (own is None or decision.client_system_id != own.pk):
        raise NotFound("Not found.")
    blind_pending_refuse(principal=principal, decision=decision)
    return (
        Review.objects.filter(decision=decision)
        .select_related(
            "reviewer",
            "supersedes",
            "superseded_by",
            "confirmation",
            "confirmation__confirmed_by",
        )
        .order_by("created_at", "id")
    )

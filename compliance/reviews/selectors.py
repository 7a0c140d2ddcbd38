"""Reads of a decision's reviews for whoever may read the decision."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.errors import NotFound
from compliance.models import Decision, Review
from compliance.policy import require
from compliance.principals import Principal


def review_list(*, principal: Principal, decision: Decision) -> QuerySet[Review]:
    """Every review of the decision, oldest first, superseded ones included."""
    require(principal, "review.read", decision)
    # a client system reads the reviews of the decisions it submitted, no others
    own = principal.client_system
    if principal.is_client and (own is None or decision.client_system_id != own.pk):
        raise NotFound("Not found.")
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

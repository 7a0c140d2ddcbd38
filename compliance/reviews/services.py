"""Human review (AI Act Art. 14): append-only, audited, never edits the decision row."""

from __future__ import annotations

from django.db import transaction

from compliance.audit import audit_event_append
from compliance.errors import ValidationFailed
from compliance.models import Decision, PreliminaryView, Review
from compliance.policy import require
from compliance.principals import Principal

MIN_JUSTIFICATION = 30
STATUS_AFTER: dict[str, str] = {
    Review.Action.UPHOLD: Decision.Status.REVIEWED,
    Review.Action.OVERTURN: Decision.Status.REVIEWED,
    Review.Action.ESCALATE: Decision.Status.ESCALATED,
}


def review_record(
    *, principal: Principal, decision: Decision, action: str, justification: str
) -> Review:
    """Record a reviewer's uphold / overturn / escalate with a written justification.

    An overturn records the human outcome (the other class label) beside the decision.
    """
    require(principal, "review.record", decision)
    reviewer = principal.user
    if action not in Review.Action.values:
        raise ValidationFailed(
            "Unknown action.", {"action": ["Use uphold, overturn or escalate."]}
        )
    text = (justification or "").strip()
    if len(text) < MIN_JUSTIFICATION:
        raise ValidationFailed(
            "A justification is required.",
            {"justification": [f"Write at least {MIN_JUSTIFICATION} characters."]},
        )
    if preliminary_view_required(principal=principal, decision=decision):
        raise ValidationFailed(
            "This AI system uses blind-first review: record your preliminary view first.",
            {"preliminary_view": ["Record your preliminary view before reviewing."]},
        )
    labels = decision.model_version.class_labels
    human_outcome = ""
    if action == Review.Action.OVERTURN:
        human_outcome = next(label for label in labels if label != decision.outcome)
    with transaction.atomic():
        review = Review.objects.create(
            decision=decision,
            reviewer=reviewer,
            action=action,
            justification=text,
            human_outcome=human_outcome,
        )
        Decision.objects.filter(pk=decision.pk).update(status=STATUS_AFTER[action])
        audit_event_append(
            actor=principal.actor,
            organization=decision.organization,
            action=f"review.{action}",
            object_type="decision",
            object_id=decision.pk,
            payload={
                "review": review.pk,
                "human_outcome": human_outcome,
                "justification_chars": len(text),
            },
        )
    return review


def preliminary_view_required(*, principal: Principal, decision: Decision) -> bool:
    """Whether this reviewer must still record a blind preliminary view on the case."""
    return (
        decision.ai_system.blind_first_review
        and not PreliminaryView.objects.filter(
            decision=decision, reviewer=principal.user
        ).exists()
    )


def preliminary_view_record(
    *, principal: Principal, decision: Decision, outcome: str, note: str = ""
) -> PreliminaryView:
    """Record what the reviewer would decide from the inputs alone; audited."""
    require(principal, "review.preliminary_view", decision)
    reviewer = principal.user
    labels = decision.model_version.class_labels
    if outcome not in labels:
        raise ValidationFailed(
            "Choose an outcome.", {"outcome": [f"Choose one of: {', '.join(labels)}."]}
        )
    with transaction.atomic():
        view, created = PreliminaryView.objects.get_or_create(
            decision=decision,
            reviewer=reviewer,
            defaults={"outcome": outcome, "note": (note or "").strip()[:5000]},
        )
        if created:
            audit_event_append(
                actor=principal.actor,
                organization=decision.organization,
                action="review.preliminary_view",
                object_type="decision",
                object_id=decision.pk,
                payload={
                    "outcome": outcome,
                    "agrees_with_model": outcome == decision.outcome,
                },
            )
    return view

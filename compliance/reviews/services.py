"""Human review (AI Act Art. 14) and the decision's final outcome.

A decision's lifecycle: received → unreviewed | needs review (intake and explanations
flag it) → reviewed → final. Reviews are append-only and audited:

- an uphold makes the decision final with the model's outcome; an overturn with the
  other class label, at once, or, where the AI system asks for four eyes (by default
  Annex III systems), once a second, different officer confirms it (until then the
  decision is "reviewed"); an escalation leaves it open ("escalated");
- a reviewer never silently contradicts themselves: with a review of theirs standing,
  a new one is refused unless it gives a reason and supersedes it;
- a final decision takes no review from anyone but the reviewer whose review made it
  final, and only as a superseding one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.errors import Conflict, PermissionDenied, ValidationFailed
from compliance.models import Decision, PreliminaryView, Review
from compliance.models.decisions import ReviewConfirmation
from compliance.platform.text import hostile_text_refuse
from compliance.platform.text_limits import (
    CONFIRMATION_NOTE,
    PRELIMINARY_NOTE,
    REVIEW_JUSTIFICATION,
    SUPERSEDE_REASON,
    text_limits_check,
)
from compliance.policy import require
from compliance.principals import Principal

MIN_JUSTIFICATION = 30
MIN_SUPERSEDE_REASON = 15
MAX_JUSTIFICATION = REVIEW_JUSTIFICATION  # compliance/platform/text_limits.py


def _text_limits_refuse(fields: dict[str, tuple[str, int]]) -> None:
    """Refuse free text longer than its documented cap, naming each field."""
    errors = text_limits_check(fields)
    if errors:
        raise ValidationFailed(
            " ".join(m for ms in errors.values() for m in ms), errors
        )


def _standing(decision: Decision) -> list[Review]:
    """The decision's reviews that no later review supersedes, oldest first."""
    return list(
        Review.objects.filter(
            decision=decision, superseded_by__isnull=True
        ).select_related("confirmation")
    )


def _outcome_of(decision: Decision, review: Review) -> tuple[str, str]:
    """(status, final outcome) once ``review`` is the decision's latest standing one."""
    if review.action == Review.Action.ESCALATE:
        return Decision.Status.ESCALATED, ""
    if review.action == Review.Action.UPHOLD:
        return Decision.Status.FINAL, decision.outcome
    confirmed = hasattr(review, "confirmation")
    if decision.ai_system.four_eyes_required and not confirmed:
        return Decision.Status.REVIEWED, ""
    return Decision.Status.FINAL, review.human_outcome


def _decision_settle(decision: Decision, review: Review) -> dict[str, Any]:
    """Set the decision's status and final outcome from ``review``; return the change
    as old and new values for the audit event."""
    old = {
        "status": decision.status,
        "final_outcome": decision.final_outcome,
        "final_outcome_by": decision.final_outcome_by_id,
    }
    status, final_outcome = _outcome_of(decision, review)
    decision.status = status
    decision.final_outcome = final_outcome
    is_final = status == Decision.Status.FINAL
    decision.final_outcome_by_id = review.reviewer_id if is_final else None
    decision.finalized_at = timezone.now() if is_final else None
    decision.save(
        update_fields=["status", "final_outcome", "final_outcome_by", "finalized_at"]
    )
    new = {
        "status": decision.status,
        "final_outcome": decision.final_outcome,
        "final_outcome_by": decision.final_outcome_by_id,
    }
    return {"old": old, "new": new}


MAX_TIME_ON_CASE = timedelta(days=7)


def _time_on_case(
    decision: Decision, reviewer: Any, opened_at: datetime | None
) -> tuple[datetime | None, float | None]:
    """(opened, seconds from then to now): from the case page's stamp or the
    reviewer's blind-first view, whichever came first; unknown without either, or
    beyond a week (a tab left open says nothing about the work)."""
    view = (
        PreliminaryView.objects.filter(decision=decision, reviewer=reviewer)
        .values_list("created_at", flat=True)
        .first()
    )
    moments = [m for m in (opened_at, view) if m is not None]
    if not moments:
        return None, None
    opened = min(moments)
    seconds = (timezone.now() - opened).total_seconds()
    if not 0 <= seconds <= MAX_TIME_ON_CASE.total_seconds():
        return None, None
    return opened, seconds


def _own_standing_review(
    decision: Decision, reviewer: Any, standing: list[Review]
) -> Review | None:
    own = [r for r in standing if r.reviewer_id == reviewer.pk]
    return own[-1] if own else None


def review_record(
    *,
    principal: Principal,
    decision: Decision,
    action: str,
    justification: str,
    supersede_reason: str = "",
    opened_at: datetime | None = None,
) -> Review:
    """Record a reviewer's uphold / overturn / escalate with a written justification.

    An overturn records the human outcome (the other class label). A reviewer whose
    earlier review still stands must give ``supersede_reason`` to replace it.
    ``opened_at``: when the reviewer opened the case (the case page's signed stamp;
    their blind-first view counts when earlier): the review's time on the case,
    for the monitoring of review times.
    """
    require(principal, "review.record", decision)
    reviewer = principal.user
    if action not in Review.Action.values:
        raise ValidationFailed(
            "Unknown action.", {"action": ["Use uphold, overturn or escalate."]}
        )
    hostile_text_refuse(
        {"justification": justification, "supersede_reason": supersede_reason}
    )
    _text_limits_refuse(
        {
            "justification": (justification, REVIEW_JUSTIFICATION),
            "supersede_reason": (supersede_reason, SUPERSEDE_REASON),
        }
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
    reason = (supersede_reason or "").strip()
    labels = decision.model_version.class_labels
    human_outcome = ""
    if action == Review.Action.OVERTURN:
        human_outcome = next(label for label in labels if label != decision.outcome)
    with transaction.atomic():
        # one review of a case at a time: the rules below read what stands
        decision = (
            Decision.objects.select_for_update()
            .select_related("ai_system", "organization")
            .get(pk=decision.pk)
        )
        standing = _standing(decision)
        own = _own_standing_review(decision, reviewer, standing)
        if decision.status == Decision.Status.FINAL and (
            own is None or own != standing[-1]
        ):
            raise Conflict(
                "This decision is final; only the reviewer whose review made it "
                "final may supersede that review.",
                {"action": ["The decision is final."]},
            )
        if own is not None and len(reason) < MIN_SUPERSEDE_REASON:
            raise Conflict(
                f"You already recorded a review of this decision ({own.action}); "
                "a new one supersedes it and needs a reason.",
                {
                    "supersede_reason": [
                        f"Say why your review changes (at least "
                        f"{MIN_SUPERSEDE_REASON} characters)."
                    ]
                },
            )
        opened, seconds = _time_on_case(decision, reviewer, opened_at)
        review = Review.objects.create(
            decision=decision,
            reviewer=reviewer,
            action=action,
            justification=text,
            human_outcome=human_outcome,
            supersedes=own,
            supersede_reason=reason if own is not None else "",
            opened_at=opened,
            duration_seconds=seconds,
        )
        change = _decision_settle(decision, review)
        payload: dict[str, Any] = {
            "review": review.pk,
            "human_outcome": human_outcome,
            "justification_chars": len(text),
            **change,
        }
        if own is not None:
            payload["supersedes"] = {"review": own.pk, "action": own.action}
            payload["supersede_reason"] = reason
        audit_event_append(
            actor=principal.actor,
            organization=decision.organization,
            action=f"review.{action}",
            object_type="decision",
            object_id=decision.pk,
            payload=payload,
        )
        if decision.status == Decision.Status.REVIEWED:
            audit_event_append(
                actor=principal.actor,
                organization=decision.organization,
                action="review.confirmation_requested",
                object_type="decision",
                object_id=decision.pk,
                payload={"review": review.pk, "human_outcome": human_outcome},
            )
    return review


def review_awaiting_confirmation(*, decision: Decision) -> Review | None:
    """The overturn that waits for a second officer, if the decision has one."""
    if decision.status != Decision.Status.REVIEWED:
        return None
    standing = _standing(decision)
    if not standing:
        return None
    last = standing[-1]
    if last.action == Review.Action.OVERTURN and not hasattr(last, "confirmation"):
        return last
    return None


def review_confirm(
    *, principal: Principal, decision: Decision, note: str = ""
) -> ReviewConfirmation:
    """A second officer confirms the overturn that waits (four-eyes); the decision
    becomes final with the overturn's outcome."""
    require(principal, "review.confirm", decision)
    if preliminary_view_required(principal=principal, decision=decision):
        # the overturn's outcome tells the model's answer (blind-first)
        raise PermissionDenied(
            "This AI system uses blind-first review: record your preliminary view "
            "before confirming an overturn."
        )
    hostile_text_refuse({"note": note})
    _text_limits_refuse({"note": (note, CONFIRMATION_NOTE)})
    with transaction.atomic():
        decision = (
            Decision.objects.select_for_update()
            .select_related("ai_system", "organization")
            .get(pk=decision.pk)
        )
        review = review_awaiting_confirmation(decision=decision)
        if review is None:
            raise Conflict(
                "No overturn of this decision waits for confirmation.",
                {"review": ["Nothing to confirm."]},
            )
        if review.reviewer_id == principal.user.pk:
            raise PermissionDenied(
                "An overturn is confirmed by a second officer, not by its reviewer."
            )
        confirmation = ReviewConfirmation.objects.create(
            review=review,
            confirmed_by=principal.user,
            note=(note or "").strip(),
        )
        review.confirmation = confirmation
        change = _decision_settle(decision, review)
        audit_event_append(
            actor=principal.actor,
            organization=decision.organization,
            action="review.confirmed",
            object_type="decision",
            object_id=decision.pk,
            payload={
                "review": review.pk,
                "reviewer": review.reviewer_id,
                "human_outcome": review.human_outcome,
                **change,
            },
        )
    return confirmation


def preliminary_view_required(*, principal: Principal, decision: Decision) -> bool:
    """Whether this reviewer must still record a blind preliminary view on the case."""
    return (
        decision.ai_system.blind_first_required
        and not PreliminaryView.objects.filter(
            decision=decision, reviewer=principal.user
        ).exists()
    )


def preliminary_view_record(
    *, principal: Principal, decision: Decision, outcome: str, note: str = ""
) -> PreliminaryView:
    """Record what the reviewer would decide from the inputs alone; audited."""
    require(principal, "review.preliminary_view", decision)
    hostile_text_refuse({"note": note})
    _text_limits_refuse({"note": (note, PRELIMINARY_NOTE)})
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
            defaults={"outcome": outcome, "note": (note or "").strip()},
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

"""Training drills against automation bias (opt-in per AI system: ``drill_rate``).

An administrator builds a drill from a real case and states its correct answer
(e.g. the known repayment outcome, where the model erred). The drill is a copy of the
case (``Decision.is_drill``) that waits in a pool; each time a reviewer opens their
queue, a drill is put in it when their share of drills is below the system's rate.
The reviewer sees an ordinary case until they answered it; auditors and admins see
drills marked; client systems never see them, and no statistic of real decisions
counts them. Each reviewer's drill accuracy is on the monitoring page (compliance.monitoring
.drills).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.errors import ValidationFailed
from compliance.models import AISystem, Decision, Drill, Review
from compliance.platform.text import hostile_text_refuse
from compliance.platform.text_limits import DRILL_NOTE, text_limits_check
from compliance.policy import can, require
from compliance.principals import Principal


def drill_create(
    *, principal: Principal, source: Decision, correct_outcome: str, note: str = ""
) -> Drill:
    """Build a drill from ``source`` with its known correct answer; audited."""
    require(principal, "drill.create", source)
    # its settings as they stand now (a decision object may hold an older copy)
    ai_system = AISystem.objects.get(pk=source.ai_system_id)
    if source.is_drill:
        raise ValidationFailed(
            "A drill is built from a real case.", {"source": ["This is a drill."]}
        )
    if ai_system.drill_rate <= 0:
        raise ValidationFailed(
            "Training drills are off for this AI system.",
            {"source": ["Set the AI system's drill rate above 0 first."]},
        )
    labels = list(source.model_version.class_labels)
    if correct_outcome not in labels:
        raise ValidationFailed(
            "Choose the correct outcome.",
            {"correct_outcome": [f"Choose one of: {', '.join(labels)}."]},
        )
    hostile_text_refuse({"note": note})
    errors = text_limits_check({"note": (note, DRILL_NOTE)})
    if errors:
        raise ValidationFailed("The note is too long.", errors)
    with transaction.atomic():
        copy = Decision.objects.create(
            organization=source.organization,
            ai_system=ai_system,
            model_version=source.model_version,
            client_system=source.client_system,
            external_id=f"drill-{uuid.uuid4().hex[:16]}",
            subject_ref=source.subject_ref,
            features=source.features,
            score=source.score,
            outcome=source.outcome,
            decided_at=source.decided_at,
            status=Decision.Status.NEEDS_REVIEW,
            prediction_consistent=source.prediction_consistent,
            reproduced_score=source.reproduced_score,
            submission_sha256=source.submission_sha256,
            is_drill=True,
        )
        drill = Drill.objects.create(
            organization=source.organization,
            ai_system=ai_system,
            source=source,
            decision=copy,
            correct_outcome=correct_outcome,
            note=(note or "").strip(),
            created_by=principal.user,
        )
        audit_event_append(
            actor=principal.actor,
            organization=source.organization,
            action="drill.created",
            object_type="decision",
            object_id=copy.pk,
            payload={
                "drill": drill.pk,
                "source": source.pk,
                "correct_outcome": correct_outcome,
                "model_outcome": source.outcome,
            },
        )
    return drill


def drills_assign(*, principal: Principal, ai_system: AISystem | None = None) -> int:
    """Put drills in this reviewer's queue while their share of drills is below
    each system's rate (one unanswered drill at a time); audited. Returns how many
    were assigned."""
    user = getattr(principal, "user", None)
    if user is None or not can(principal, "review.record"):
        return 0
    systems = AISystem.objects.filter(
        organization=principal.organization, drill_rate__gt=0
    )
    if ai_system is not None:
        systems = systems.filter(pk=ai_system.pk)
    assigned = 0
    for system in systems:
        with transaction.atomic():
            mine = Drill.objects.select_for_update().filter(
                ai_system=system, assigned_to=user
            )
            if mine.exclude(decision__reviews__reviewer=user).exists():
                continue  # one open drill at a time
            real = (
                Review.objects.filter(
                    reviewer=user, decision__ai_system=system, decision__is_drill=False
                )
                .values("decision")
                .distinct()
                .count()
            )
            # drills / (drills + real cases) stays at or under the rate
            due = int(real * system.drill_rate / (1 - system.drill_rate))
            if mine.count() >= due:
                continue
            drill = (
                Drill.objects.select_for_update(skip_locked=True)
                .filter(ai_system=system, assigned_to__isnull=True)
                .exclude(source__reviews__reviewer=user)
                .order_by("created_at", "id")
                .first()
            )
            if drill is None:
                continue
            drill.assigned_to = user
            drill.assigned_at = timezone.now()
            drill.save(update_fields=["assigned_to", "assigned_at"])
            audit_event_append(
                actor="system:drills",
                organization=system.organization,
                action="drill.assigned",
                object_type="decision",
                object_id=drill.decision_id,
                payload={"drill": drill.pk, "reviewer": user.get_username()},
            )
            assigned += 1
    return assigned


def _answer(review: Review, decision: Decision) -> str | None:
    if review.action == Review.Action.UPHOLD:
        return decision.outcome
    if review.action == Review.Action.OVERTURN:
        return review.human_outcome
    return None  # an escalation answers nothing


@dataclass(frozen=True)
class DrillResult:
    drill: Drill
    answer: str | None
    correct: bool


def drill_result(*, principal: Principal, decision: Decision) -> DrillResult | None:
    """What the case page says about a drill: to auditors and admins always; to a
    reviewer once they answered it; None for a real case or before the answer."""
    if not decision.is_drill:
        return None
    drill = Drill.objects.filter(decision=decision).first()
    if drill is None:
        return None
    user = getattr(principal, "user", None)
    mine = (
        Review.objects.filter(
            decision=decision, reviewer=user, superseded_by__isnull=True
        ).last()
        if user is not None
        else None
    )
    if mine is None and not can(principal, "drill.read"):
        return None
    if mine is None:
        reviewed = (
            Review.objects.filter(decision=decision, superseded_by__isnull=True)
            .order_by("created_at")
            .last()
        )
        mine = reviewed
    answer = _answer(mine, decision) if mine is not None else None
    return DrillResult(drill, answer, answer == drill.correct_outcome)

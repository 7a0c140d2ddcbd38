"""Training drills on the monitoring page: each reviewer's accuracy on the drills
they answered, and the drill pool (compliance.reviews.drills builds and assigns
them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from compliance.models import AISystem, Drill, Review
from compliance.policy import require
from compliance.principals import Principal


def _answer(review: Review) -> str | None:
    if review.action == Review.Action.UPHOLD:
        return review.decision.outcome
    if review.action == Review.Action.OVERTURN:
        return review.human_outcome
    return None


@dataclass(frozen=True)
class DrillScore:
    reviewer: str
    answered: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


def drill_accuracy(*, principal: Principal, ai_system: AISystem) -> list[DrillScore]:
    """Each reviewer's answered drills on the system and how many were right (their
    latest standing review of each)."""
    require(principal, "monitoring.read")
    reviews = (
        Review.objects.filter(
            decision__ai_system=ai_system,
            decision__organization=principal.organization,
            decision__is_drill=True,
            superseded_by__isnull=True,
        )
        .exclude(action=Review.Action.ESCALATE)
        .select_related("decision__drill", "reviewer")
    )
    scores: dict[str, list[int]] = {}
    for review in reviews:
        counts = scores.setdefault(review.reviewer.get_username(), [0, 0])
        counts[0] += 1
        counts[1] += int(_answer(review) == review.decision.drill.correct_outcome)
    return [DrillScore(name, a, c) for name, (a, c) in sorted(scores.items())]


def drill_pool(*, principal: Principal, ai_system: AISystem) -> dict[str, Any]:
    """How many drills wait, are out and were answered (for the monitoring page)."""
    require(principal, "monitoring.read")
    drills = Drill.objects.filter(
        ai_system=ai_system, organization=principal.organization
    )
    answered = drills.filter(decision__reviews__isnull=False).distinct().count()
    counts = drills.aggregate(total=Count("id"), out=Count("assigned_to"))
    return {
        "total": counts["total"],
        "waiting": counts["total"] - counts["out"],
        "assigned": counts["out"],
        "answered": answered,
        "rate": ai_system.drill_rate,
    }

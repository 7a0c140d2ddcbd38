"""Oversight statistics per AI system, reviewer and month (AI Act Art. 14 and 26):
reviews done, the override rate with its Wilson interval, the blind-first
preliminary views that agreed with the model, and how often a reviewer who first
disagreed then upheld the model once it was shown (the automation-bias signal).
Each figure is a GROUP BY in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import TruncMonth

from compliance.models import AISystem, PreliminaryView, Review
from compliance.monitoring.stats import wilson_interval
from compliance.policy import require
from compliance.principals import Principal


@dataclass(frozen=True)
class OversightRow:
    ai_system: int
    reviewer: str
    month: date
    reviews: int = 0
    overrides: int = 0
    preliminary_views: int = 0
    agreed_with_model: int = 0
    switched_to_model: int = 0  # disagreed blind, then upheld the model

    @property
    def override_rate(self) -> float | None:
        return self.overrides / self.reviews if self.reviews else None

    @property
    def override_interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.overrides, self.reviews)

    @property
    def blind_agreement_rate(self) -> float | None:
        if not self.preliminary_views:
            return None
        return self.agreed_with_model / self.preliminary_views

    @property
    def switch_rate(self) -> float | None:
        """Of the blind views that disagreed with the model, the share whose review
        then upheld it."""
        disagreed = self.preliminary_views - self.agreed_with_model
        return self.switched_to_model / disagreed if disagreed else None


def _month(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def oversight_by_reviewer_month(
    *,
    principal: Principal,
    ai_system: AISystem | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[OversightRow]:
    """One row per (AI system, reviewer, month) of the organisation's reviews and
    blind-first views, oldest month first."""
    require(principal, "monitoring.read")
    reviews = Review.objects.filter(decision__organization=principal.organization)
    views = PreliminaryView.objects.filter(
        decision__organization=principal.organization
    )
    if ai_system is not None:
        reviews = reviews.filter(decision__ai_system=ai_system)
        views = views.filter(decision__ai_system=ai_system)
    if since is not None:
        reviews, views = (
            reviews.filter(created_at__gte=since),
            views.filter(created_at__gte=since),
        )
    if until is not None:
        reviews, views = (
            reviews.filter(created_at__lt=until),
            views.filter(created_at__lt=until),
        )
    keys = ("decision__ai_system", "reviewer__username", "month")
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in (
        reviews.annotate(month=TruncMonth("created_at"))
        .values(*keys)
        .annotate(
            reviews=Count("id"),
            overrides=Count("id", filter=Q(action=Review.Action.OVERTURN)),
        )
        .order_by()
    ):
        key = tuple(row[k] for k in keys)
        rows.setdefault(key, {}).update(
            reviews=row["reviews"], overrides=row["overrides"]
        )
    upheld = Review.objects.filter(
        decision=OuterRef("decision"),
        reviewer=OuterRef("reviewer"),
        action=Review.Action.UPHOLD,
    )
    for row in (
        views.annotate(month=TruncMonth("created_at"), upheld=Exists(upheld))
        .values(*keys)
        .annotate(
            preliminary_views=Count("id"),
            agreed_with_model=Count("id", filter=Q(outcome=F("decision__outcome"))),
            switched_to_model=Count(
                "id", filter=~Q(outcome=F("decision__outcome")) & Q(upheld=True)
            ),
        )
        .order_by()
    ):
        key = tuple(row[k] for k in keys)
        rows.setdefault(key, {}).update(
            preliminary_views=row["preliminary_views"],
            agreed_with_model=row["agreed_with_model"],
            switched_to_model=row["switched_to_model"],
        )
    out = [
        OversightRow(ai_system=k[0], reviewer=k[1], month=_month(k[2]), **counts)
        for k, counts in rows.items()
    ]
    return sorted(out, key=lambda r: (r.month, r.ai_system, r.reviewer))

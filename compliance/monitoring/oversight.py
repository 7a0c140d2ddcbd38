"""Oversight statistics per AI system, reviewer and month (AI Act Art. 14 and 26):
reviews done, the override rate with its Wilson interval, the blind-first
preliminary views that agreed with the model, how often a reviewer who first
disagreed then upheld the model once it was shown (the automation-bias signal),
median and 90th-percentile review times, reviews later than the SLA; and the queue
as it stands. Each month is a handful of GROUP BY queries, kept as a monthly
aggregate (compliance.monitoring.months). Training drills never count."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    Exists,
    F,
    FloatField,
    Min,
    OuterRef,
    Q,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from compliance.models import AISystem, Decision, PreliminaryView, Review
from compliance.monitoring.months import (
    month_after,
    month_of,
    month_start,
    monthly,
    months_window,
)
from compliance.monitoring.stats import percentile, wilson_interval
from compliance.policy import require
from compliance.principals import Principal

TOPIC = "oversight"
# cases that wait for a person: flagged, escalated, contested, an overturn waiting
# for its second officer; and every unreviewed adverse decision (GDPR Art. 22: a
# refusal is checked by a person)
WAITING_STATUSES = (
    Decision.Status.NEEDS_REVIEW,
    Decision.Status.REVIEWED,
    Decision.Status.ESCALATED,
    Decision.Status.CONTESTED,
)


def _waiting() -> Q:
    return Q(status__in=WAITING_STATUSES) | (
        Q(status=Decision.Status.UNREVIEWED)
        & ~Q(outcome=F("model_version__favourable_class"))
    )


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
    timed_reviews: int = 0  # reviews whose time on the case is known
    median_seconds: float | None = None
    p90_seconds: float | None = None
    late_reviews: int = 0  # first reviews later than the SLA after receipt

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


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate percentile_cont(p) WITHIN GROUP."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(
            expression, fraction=float(fraction), output_field=FloatField(), **extra
        )


def _month_key(value: Any) -> date:
    return month_of(value)


def _durations(reviews: Any) -> dict[tuple[date, str], tuple[float | None, ...]]:
    """(month, reviewer) -> (median, p90) of the review times: in the database on
    PostgreSQL; elsewhere (the embedded SQLite) from the month's timed reviews."""
    timed = reviews.filter(duration_seconds__isnull=False)
    out: dict[tuple[date, str], tuple[float | None, ...]] = {}
    if connection.vendor == "postgresql":
        for row in (
            timed.annotate(month=TruncMonth("created_at"))
            .values("month", "reviewer__username")
            .annotate(
                median=PercentileCont("duration_seconds", 0.5),
                p90=PercentileCont("duration_seconds", 0.9),
            )
            .order_by()
        ):
            key = (_month_key(row["month"]), row["reviewer__username"])
            out[key] = (row["median"], row["p90"])
        return out
    values: dict[tuple[date, str], list[float]] = defaultdict(list)
    for created, reviewer, seconds in timed.values_list(
        "created_at", "reviewer__username", "duration_seconds"
    ):
        values[(_month_key(created), reviewer)].append(seconds)
    return {key: (percentile(v, 0.5), percentile(v, 0.9)) for key, v in values.items()}


def oversight_months_compute(
    ai_system: AISystem, months: list[date]
) -> dict[date, dict[str, Any]]:
    """Each month's rows per reviewer, from four GROUP BY queries over the span."""
    start, end = month_start(min(months)), month_start(month_after(max(months)))
    reviews = Review.objects.filter(
        decision__ai_system=ai_system,
        decision__is_drill=False,
        created_at__gte=start,
        created_at__lt=end,
    )
    views = PreliminaryView.objects.filter(
        decision__ai_system=ai_system,
        decision__is_drill=False,
        created_at__gte=start,
        created_at__lt=end,
    )
    keys = ("month", "reviewer__username")
    rows: dict[tuple[date, str], dict[str, Any]] = defaultdict(dict)
    sla = timedelta(hours=ai_system.review_sla)
    for row in (
        reviews.annotate(month=TruncMonth("created_at"))
        .values(*keys)
        .annotate(
            reviews=Count("id"),
            overrides=Count("id", filter=Q(action=Review.Action.OVERTURN)),
            timed_reviews=Count("duration_seconds"),
            late_reviews=Count(
                "id",
                filter=Q(supersedes__isnull=True)
                & Q(created_at__gt=F("decision__received_at") + sla),
            ),
        )
        .order_by()
    ):
        key = (_month_key(row["month"]), row["reviewer__username"])
        rows[key].update(
            {
                k: row[k]
                for k in ("reviews", "overrides", "timed_reviews", "late_reviews")
            }
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
        key = (_month_key(row["month"]), row["reviewer__username"])
        rows[key].update(
            {
                k: row[k]
                for k in ("preliminary_views", "agreed_with_model", "switched_to_model")
            }
        )
    for key, (median, p90) in _durations(reviews).items():
        rows[key].update(median_seconds=median, p90_seconds=p90)
    out: dict[date, dict[str, Any]] = {m: {"rows": []} for m in months}
    for (month, reviewer), counts in sorted(rows.items()):
        if month in out:
            out[month]["rows"].append({"reviewer": reviewer, **counts})
    return out


def _systems(principal: Principal, ai_system: AISystem | None) -> list[AISystem]:
    if ai_system is not None:
        if ai_system.organization_id != principal.organization.pk:
            return []
        return [ai_system]
    return list(AISystem.objects.filter(organization=principal.organization))


def oversight_by_reviewer_month(
    *,
    principal: Principal,
    ai_system: AISystem | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> list[OversightRow]:
    """One row per (AI system, reviewer, month) of the organisation's reviews and
    blind-first views in the months from ``since`` to ``until`` (whole months; by
    default the last twelve), oldest month first."""
    require(principal, "monitoring.read")
    months = months_window(since, until)
    out: list[OversightRow] = []
    for system in _systems(principal, ai_system):
        for month, data in sorted(
            monthly(system, TOPIC, months, oversight_months_compute).items()
        ):
            for row in data["rows"]:
                out.append(OversightRow(ai_system=system.pk, month=month, **row))
    return sorted(out, key=lambda r: (r.month, r.ai_system, r.reviewer))


@dataclass(frozen=True)
class QueueState:
    ai_system: int
    open_cases: int
    oldest_received_at: datetime | None
    over_sla: int  # open cases received longer ago than the SLA
    sla_hours: int

    @property
    def oldest_age_hours(self) -> float | None:
        if self.oldest_received_at is None:
            return None
        return (timezone.now() - self.oldest_received_at).total_seconds() / 3600

    @property
    def oldest_age(self) -> str:
        hours = self.oldest_age_hours
        if hours is None:
            return ""
        return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def review_queue(*, principal: Principal, ai_system: AISystem) -> QueueState:
    """The AI system's open cases now: how many, the oldest, how many past the SLA
    (one aggregate query)."""
    require(principal, "monitoring.read")
    hours = ai_system.review_sla
    due = timezone.now() - timedelta(hours=hours)
    figures = (
        Decision.objects.filter(
            organization=principal.organization, ai_system=ai_system, is_drill=False
        )
        .filter(_waiting())
        .aggregate(
            open_cases=Count("id"),
            oldest=Min("received_at"),
            over_sla=Count("id", filter=Q(received_at__lt=due)),
        )
    )
    return QueueState(
        ai_system=ai_system.pk,
        open_cases=figures["open_cases"],
        oldest_received_at=figures["oldest"],
        over_sla=figures["over_sla"],
        sla_hours=hours,
    )

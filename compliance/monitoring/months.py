"""Months, and the monthly aggregates the monitoring pages read.

Each topic computes a month's figures with a fixed number of GROUP BY queries (for
all missing months at once); the results are kept in ``MonthlyAggregate`` until a
write that touches the month drops them (compliance.receivers, on every decision, review, preliminary view, confirmation and
explanation saved, through ``MonthlyAggregate.objects.drop``). A page therefore costs one query for the months already known.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import TruncMonth
from django.utils import timezone

from compliance.models import (
    AISystem,
    Decision,
    Explanation,
    ExplanationRun,
    MonthlyAggregate,
)

DEFAULT_MONTHS = 12
MAX_MONTHS = 60


def month_of(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value.replace(day=1)


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def months_between(first: date, last: date) -> list[date]:
    months: list[date] = []
    month = month_of(first)
    while month <= last and len(months) < MAX_MONTHS:
        months.append(month)
        month = month_after(month)
    return months


def months_window(since: date | None, until: date | None) -> list[date]:
    """The months from ``since`` to ``until`` (inclusive), by default the twelve up
    to this one; at most five years."""
    last = month_of(until) if until is not None else month_of(timezone.now())
    if since is None:
        first = last
        for _ in range(DEFAULT_MONTHS - 1):
            first = (first - timedelta(days=1)).replace(day=1)
    else:
        first = month_of(since)
    return months_between(first, last)


Compute = Callable[[AISystem, list[date]], dict[date, Any]]


def monthly(
    ai_system: AISystem, topic: str, months: list[date], compute: Compute
) -> dict[date, Any]:
    """{month: data} for ``months``: kept aggregates, the missing ones computed
    together and kept (the current month too: its writes drop it)."""
    kept = {
        row.month: row.data
        for row in MonthlyAggregate.objects.filter(
            ai_system=ai_system, topic=topic, month__in=months
        )
    }
    missing = [m for m in months if m not in kept]
    if missing:
        computed = compute(ai_system, missing)
        for month in missing:
            data = computed.get(month)
            if data is None:
                continue
            kept[month] = data
            try:
                with transaction.atomic():
                    MonthlyAggregate.objects.update_or_create(
                        ai_system=ai_system,
                        topic=topic,
                        month=month,
                        defaults={"data": data},
                    )
            except IntegrityError:  # a concurrent page kept it first
                pass
    return kept


def first_decision_month(ai_system: AISystem) -> date | None:
    """The month of the system's first real decision (one index probe)."""
    first = (
        Decision.objects.filter(ai_system=ai_system, is_drill=False)
        .order_by("decided_at")
        .values_list("decided_at", flat=True)
        .first()
    )
    return month_of(first) if first is not None else None


def latest_reason_explanations(**decision: Any) -> Any:
    """The explanation each real decision's reasons come from (its latest run's
    reasons method), for decisions matching ``decision`` (lookups on the decision,
    e.g. ``ai_system=``, ``decided_at__gte=``), with the decision's month."""
    later = ExplanationRun.objects.filter(
        decision=OuterRef("decision"), id__gt=OuterRef("run_id")
    )
    return (
        Explanation.objects.filter(
            method=F("run__reasons_method"),
            decision__is_drill=False,
            **{f"decision__{k}": v for k, v in decision.items()},
        )
        .exclude(Exists(later))
        .annotate(month=TruncMonth("decision__decided_at"))
    )

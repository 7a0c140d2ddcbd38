"""Monitoring: the alerts raised on oversight and fairness figures, and the monthly
oversight reports (AI Act Art. 14 and 26)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from compliance.models.registry import AISystem
from compliance.models.tenancy import Organization


class MonitoringAlert(models.Model):
    """A figure crossed its configured level: raised once per (system, kind,
    subject, month), with an audit event. Immutable."""

    class Kind(models.TextChoices):
        RUBBER_STAMPING = "rubber_stamping", "Possible rubber-stamping"
        REVIEW_TIME_COLLAPSE = "review_time_collapse", "Review times collapsed"
        ADVERSE_IMPACT = "adverse_impact", "Adverse impact below the ratio"
        SLA_BREACHES = "sla_breaches", "Review SLA breached"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    ai_system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # the reviewer's username, the group ("sex=female"), ...
    subject = models.CharField(max_length=300)
    month = models.DateField()
    detail = models.JSONField(default=dict)
    message = models.TextField()
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ai_system", "kind", "subject", "month"],
                name="uniq_monitoring_alert",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject} ({self.month:%Y-%m})"


class OversightReport(models.Model):
    """A monthly oversight report (PDF) of one AI system; immutable, versioned."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    ai_system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    version = models.PositiveIntegerField()
    pdf = models.FileField(upload_to="reports/")
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField()
    generated_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["ai_system", "month", "version"], name="uniq_oversight_report"
            )
        ]

    def __str__(self) -> str:
        return (
            f"Oversight report {self.ai_system_id} {self.month:%Y-%m} v{self.version}"
        )


def _month(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return value.replace(day=1)


class MonthlyAggregateManager(models.Manager["MonthlyAggregate"]):
    def drop(self, ai_system_ids: Iterable[int], moments: Iterable[Any]) -> None:
        """Forget the kept figures of the months of ``moments`` (and this month) of
        these AI systems: a decision, review or explanation of theirs changed."""
        ids = set(ai_system_ids)
        if not ids:
            return
        months = {_month(m) for m in moments if m is not None}
        months.add(_month(timezone.now()))
        self.filter(ai_system_id__in=ids, month__in=months).delete()


class MonthlyAggregate(models.Model):
    """One month's monitoring figures of an AI system (counts that add up across
    months, or the month's own distribution), computed by aggregate queries and kept
    until a write that touches the month drops it (compliance.receivers): the
    dashboard at a million decisions reads these instead of scanning."""

    ai_system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=20)  # oversight | fairness | drift
    month = models.DateField()
    data = models.JSONField()
    computed_at = models.DateTimeField(auto_now=True)

    objects = MonthlyAggregateManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ai_system", "topic", "month"], name="uniq_monthly_aggregate"
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.ai_system_id} {self.month:%Y-%m}"

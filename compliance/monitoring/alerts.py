"""Alerts on the monitoring figures: possible rubber-stamping (a reviewer's blind
views agree with the model at or above MONITORING_RUBBER_STAMP_AGREEMENT while they
almost never override), review times that collapse (a median under
MONITORING_MIN_REVIEW_SECONDS, or under MONITORING_REVIEW_TIME_COLLAPSE of the
reviewer's own median in the months before), and adverse impact under
FAIRNESS_ALERT_RATIO. ``alerts_find`` computes them for the dashboard;
``alerts_raise`` records each once (``MonitoringAlert``) with an audit event."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from compliance.audit import audit_event_append
from compliance.models import AISystem, MonitoringAlert
from compliance.monitoring.fairness import MEASURES, fairness_report
from compliance.monitoring.oversight import OversightRow, oversight_by_reviewer_month
from compliance.principals import SYSTEM, Principal


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str
    month: date
    message: str
    detail: dict[str, Any]


def _ratio(value: float | None) -> str:
    """Two decimals, rounded down: a ratio under 0.8 never reads "0.80"."""
    return "–" if value is None else f"{math.floor(value * 100) / 100:.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _oversight_findings(rows: list[OversightRow]) -> list[Finding]:
    out: list[Finding] = []
    least = settings.MONITORING_MIN_REVIEWS
    by_reviewer: dict[str, list[OversightRow]] = {}
    for row in sorted(rows, key=lambda r: r.month):
        by_reviewer.setdefault(row.reviewer, []).append(row)
    for reviewer, own in by_reviewer.items():
        for i, row in enumerate(own):
            agreement, overrides = row.blind_agreement_rate, row.override_rate
            if (
                row.preliminary_views >= least
                and row.reviews >= least
                and agreement is not None
                and overrides is not None
                and agreement >= settings.MONITORING_RUBBER_STAMP_AGREEMENT
                and overrides <= settings.MONITORING_NEAR_ZERO_OVERRIDES
            ):
                out.append(
                    Finding(
                        MonitoringAlert.Kind.RUBBER_STAMPING,
                        reviewer,
                        row.month,
                        f"{reviewer}: blind views agreed with the model in "
                        f"{_pct(agreement)} of {row.preliminary_views} cases and "
                        f"{row.overrides} of {row.reviews} reviews overrode it "
                        f"({_pct(overrides)}).",
                        {
                            "blind_agreement_rate": agreement,
                            "override_rate": overrides,
                            "reviews": row.reviews,
                            "preliminary_views": row.preliminary_views,
                        },
                    )
                )
            median = row.median_seconds
            if median is None or row.timed_reviews < least:
                continue
            before = [
                r.median_seconds
                for r in own[:i]
                if r.median_seconds is not None and r.timed_reviews >= least
            ]
            usual = statistics.median(before) if before else None
            floor = settings.MONITORING_MIN_REVIEW_SECONDS
            collapsed = median < floor or (
                usual is not None
                and median < settings.MONITORING_REVIEW_TIME_COLLAPSE * usual
            )
            if collapsed:
                was = f" (their usual median: {usual:.0f} s)" if usual else ""
                out.append(
                    Finding(
                        MonitoringAlert.Kind.REVIEW_TIME_COLLAPSE,
                        reviewer,
                        row.month,
                        f"{reviewer}: median review time {median:.0f} s over "
                        f"{row.timed_reviews} reviews{was}; the floor is {floor} s.",
                        {"median_seconds": median, "usual_median_seconds": usual},
                    )
                )
    return out


def alerts_find(
    *,
    principal: Principal,
    ai_system: AISystem,
    since: date | None = None,
    until: date | None = None,
) -> list[Finding]:
    """Every alert the figures of the months from ``since`` to ``until`` raise."""
    rows = oversight_by_reviewer_month(
        principal=principal, ai_system=ai_system, since=since, until=until
    )
    findings = _oversight_findings(rows)
    fairness = fairness_report(
        principal=principal, ai_system=ai_system, since=since, until=until
    )
    first, last = fairness.months[0], fairness.months[-1]
    window = f"{first:%b %Y} to {last:%b %Y}"
    for attribute, group, measure, ratio in fairness.alerts:
        findings.append(
            Finding(
                MonitoringAlert.Kind.ADVERSE_IMPACT,
                f"{attribute}: {group} ({measure})",
                last,
                f"Over {window}, {attribute} = {group}: "
                f"{MEASURES[measure][2].lower()} at "
                f"{_ratio(ratio.ratio)} of the most favoured group's rate (95 % "
                f"interval {_ratio(ratio.low)}–{_ratio(ratio.high)}); the alert level "
                f"is {fairness.alert_ratio:.2f}.",
                {
                    "measure": measure,
                    "ratio": ratio.ratio,
                    "low": ratio.low,
                    "high": ratio.high,
                },
            )
        )
    return findings


def alerts_scan() -> list[MonitoringAlert]:
    """Every organisation's AI systems with decisions: record their alerts (the
    worker's beat, hourly by default)."""
    raised: list[MonitoringAlert] = []
    for ai_system in AISystem.objects.filter(decisions__isnull=False).distinct():
        principal = Principal(organization=ai_system.organization, role=SYSTEM)
        raised += alerts_raise(
            principal=principal, ai_system=ai_system, actor="system:monitoring"
        )
    return raised


def alerts_raise(
    *, principal: Principal, ai_system: AISystem, actor: str
) -> list[MonitoringAlert]:
    """Record each alert not recorded yet for its month, with a
    ``monitoring.alert`` audit event; return the new ones."""
    raised: list[MonitoringAlert] = []
    for finding in alerts_find(principal=principal, ai_system=ai_system):
        try:
            with transaction.atomic():
                alert, created = MonitoringAlert.objects.get_or_create(
                    ai_system=ai_system,
                    kind=finding.kind,
                    subject=finding.subject[:300],
                    month=finding.month,
                    defaults={
                        "organization": ai_system.organization,
                        "detail": finding.detail,
                        "message": finding.message,
                    },
                )
                if not created:
                    continue
                audit_event_append(
                    actor=actor,
                    organization=ai_system.organization,
                    action="monitoring.alert",
                    object_type="ai_system",
                    object_id=ai_system.pk,
                    payload={
                        "alert": alert.pk,
                        "kind": finding.kind,
                        "subject": finding.subject,
                        "month": finding.month.isoformat(),
                        "detail": finding.detail,
                    },
                )
        except IntegrityError:  # raised by a concurrent scan
            continue
        raised.append(alert)
    return raised

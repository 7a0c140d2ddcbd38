"""The case queue as CSV: every row the queue's filters select, in its order, for
the people who may read the queue; each export is an audit event
(``cases.exported``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.models import Decision
from compliance.platform.csv_export import csv_lines
from compliance.policy import require
from compliance.principals import Principal

CASES_CSV_HEADER = [
    "id",
    "external_id",
    "subject_ref",
    "ai_system",
    "model_version",
    "decided_at",
    "received_at",
    "age_hours",
    "sla_hours",
    "past_sla",
    "outcome",
    "score",
    "status",
    "final_outcome",
    "assignee",
    "not_reproduced",
    "low_quality",
    "protected_influence",
    "output_hidden",
]


def case_queue_export(
    *, principal: Principal, queue: QuerySet[Decision], filters: dict[str, str]
) -> Iterator[str]:
    """Record the export (the filters, not the searched reference; how many rows),
    then the CSV lines of ``queue`` (``decisions.selectors.case_queue``), read in
    chunks. Blind-first: a row whose answer is hidden from this reviewer exports no
    outcome, score or final outcome."""
    require(principal, "case.export")
    recorded = {k: v for k, v in filters.items() if k not in ("q", "format")}
    with transaction.atomic():
        rows = queue.count()
        audit_event_append(
            actor=principal.actor,
            organization=principal.organization,
            action="cases.exported",
            object_type="organization",
            object_id=principal.organization.pk,
            payload={
                "filters": recorded,
                "search": bool(filters.get("q", "").strip()),
                "rows": rows,
            },
        )
    return csv_lines(CASES_CSV_HEADER, _rows(queue))


def _rows(queue: QuerySet[Decision]) -> Iterator[list[Any]]:
    now = timezone.now()
    for d in queue.iterator(chunk_size=500):
        row: Any = d  # the queue's annotations ride on each row
        hidden = bool(row.blind_pending)
        yield [
            d.pk,
            d.external_id,
            d.subject_ref,
            d.ai_system.name,
            d.model_version.version,
            d.decided_at.isoformat(),
            d.received_at.isoformat(),
            round((now - d.received_at).total_seconds() / 3600, 1),
            row.sla_hours,
            "yes" if row.past_sla else "no",
            "" if hidden else d.outcome,
            "" if hidden else round(d.score, 6),
            d.status,
            "" if hidden else d.final_outcome,
            row.assignee_name or "",
            "yes" if d.prediction_consistent is False else "no",
            "yes" if row.low_quality else "no",
            "yes" if row.protected_influence else "no",
            "yes" if hidden else "no",
        ]

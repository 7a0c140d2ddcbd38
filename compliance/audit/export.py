"""The audit trail as CSV, for the people who may read it; each export is itself an
audit event (``audit.exported``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from compliance.audit.chain import audit_event_append, canonical_json
from compliance.models import AuditEvent
from compliance.platform.csv_export import csv_lines
from compliance.policy import require
from compliance.principals import Principal

AUDIT_CSV_HEADER = [
    "chain",
    "sequence",
    "at",
    "action",
    "object_type",
    "object_id",
    "actor",
    "payload",
    "prev_hash",
    "hash",
]


def audit_trail_export(
    *, principal: Principal, events: QuerySet[AuditEvent], filters: dict[str, str]
) -> Iterator[str]:
    """Record the export (filters, how many events), then the CSV lines of
    ``events`` (already scoped and filtered by the caller) as they stood before the
    export's own event, read in chunks."""
    require(principal, "audit.export")
    with transaction.atomic():
        newest = events.order_by("-id").values_list("id", flat=True).first()
        events = events.filter(id__lte=newest or 0)
        rows = events.count()
        audit_event_append(
            actor=principal.actor,
            organization=principal.organization,
            action="audit.exported",
            object_type="organization",
            object_id=principal.organization.pk,
            payload={"filters": filters, "rows": rows},
        )
    return csv_lines(AUDIT_CSV_HEADER, _rows(events))


def _rows(events: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    for event in events.iterator(chunk_size=500):
        yield [
            event.chain,
            event.sequence,
            event.at.isoformat(),
            event.action,
            event.object_type,
            event.object_id,
            event.actor,
            canonical_json(event.payload) if event.payload is not None else "",
            event.prev_hash,
            event.hash,
        ]

"""The dossier's audit extract, bounded whatever the decision's history: the decision's
lifecycle as individual events (at most ``MAX_EVENT_ROWS``, the most recent), and
events that repeat (downloads, verifications, views) as one row per action with a
count, the first and last time and how many distinct actors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q, QuerySet

from compliance.dossiers.bounds import NAME, SHORT, clip
from compliance.models import AuditEvent, Decision

MAX_EVENT_ROWS = 40
# reads of the record: summarised, never listed one by one (each download of a
# dossier writes one, and no one may remove them)
SUMMARISED_SUFFIXES = (".downloaded", ".verified", ".viewed", ".read", ".exported")


@dataclass(frozen=True)
class EventRow:
    sequence: int
    at: datetime
    action: str
    actor: str
    hash: str


@dataclass(frozen=True)
class SummaryRow:
    action: str
    count: int
    first: datetime
    last: datetime
    actors: int


@dataclass(frozen=True)
class AuditExtract:
    events: list[EventRow]  # oldest first, the most recent MAX_EVENT_ROWS
    earlier: int  # individual events not shown
    summary: list[SummaryRow]  # one per summarised action
    full_trail: str  # where to read every event

    @property
    def rows(self) -> int:
        return len(self.events) + len(self.summary)


def _summarised() -> Q:
    q = Q()
    for suffix in SUMMARISED_SUFFIXES:
        q |= Q(action__endswith=suffix)
    return q


def decision_events(decision: Decision) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        organization=decision.organization,
        object_type="decision",
        object_id=str(decision.pk),
    )


def audit_extract(decision: Decision) -> AuditExtract:
    """Two bounded queries' worth of rows, never the whole trail."""
    events = decision_events(decision)
    lifecycle = events.exclude(_summarised())
    # insertion order: sequences restart per chain (legacy, org)
    recent = list(
        lifecycle.order_by("-id").values_list(
            "sequence", "at", "action", "actor", "hash"
        )[:MAX_EVENT_ROWS]
    )
    earlier = lifecycle.count() - len(recent) if len(recent) == MAX_EVENT_ROWS else 0
    summary = (
        events.filter(_summarised())
        .values("action")
        .annotate(
            count=Count("id"),
            first=Min("at"),
            last=Max("at"),
            actors=Count("actor", distinct=True),
        )
        .order_by("action")
    )
    return AuditExtract(
        events=[
            EventRow(seq, at, clip(action, SHORT), clip(actor, NAME), h)
            for seq, at, action, actor, h in reversed(recent)
        ],
        earlier=earlier,
        summary=[
            SummaryRow(
                clip(s["action"], SHORT),
                s["count"],
                s["first"],
                s["last"],
                s["actors"],
            )
            for s in summary
        ],
        full_trail=f"/audit/?object_id={decision.pk}",
    )

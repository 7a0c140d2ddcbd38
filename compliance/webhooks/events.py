"""Which audit events become which webhook events, and the outbox: called with every
batch of audit events in their transaction (``audit_listener_register``), it stores one
delivery per subscribed endpoint and queues its first attempt, so an event committed is
an event delivered (at least once), and an event rolled back is never sent.

Training drills are never reported: client systems never see them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.urls import reverse
from django.utils import timezone

from compliance.jobs import JobSpec, jobs_enqueue
from compliance.models import AuditEvent, Decision, WebhookDelivery, WebhookEndpoint

KIND = "webhook"
REVIEW_ACTIONS = (
    "review.uphold",
    "review.overturn",
    "review.escalate",
    "review.confirmed",
)
_SIMPLE = {
    "decision.submitted": "decision.received",
    "explanation.stored": "explanation.completed",
    "explanation.failed": "explanation.failed",
    "dossier.issued": "dossier.issued",
    "notice.issued": "notice.issued",
}


def webhook_types(event: AuditEvent) -> list[str]:
    """The webhook events an audit event stands for (none for most)."""
    if event.action in _SIMPLE:
        return [_SIMPLE[event.action]]
    if event.action in REVIEW_ACTIONS:
        new = (event.payload or {}).get("new") or {}
        old = (event.payload or {}).get("old") or {}
        types = ["review.recorded"]
        if new.get("status") == Decision.Status.FINAL and (
            old.get("status") != Decision.Status.FINAL
            or old.get("final_outcome") != new.get("final_outcome")
        ):
            types.append("decision.finalized")
        return types
    return []


def _decision_id(event: AuditEvent) -> int | None:
    if event.object_type == "decision":
        return int(event.object_id)
    decision = (event.payload or {}).get("decision")
    return int(decision) if decision is not None else None


def event_id(event: AuditEvent, webhook_type: str) -> str:
    """Stable per (audit event, type): the receiver's de-duplication key."""
    seed = f"{event.chain}:{event.sequence}:{webhook_type}"
    return "evt_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _decision_data(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "external_id": decision.external_id,
        "ai_system": decision.ai_system_id,
        "model_version": decision.model_version_id,
        "status": decision.status,
        "outcome": decision.outcome,
        "final_outcome": decision.final_outcome or None,
        "path": reverse("api:decision-detail", kwargs={"pk": decision.pk}),
    }


def _details(webhook_type: str, event: AuditEvent) -> dict[str, Any]:
    payload = event.payload or {}
    pick: dict[str, tuple[str, ...]] = {
        "explanation.completed": ("job", "methods", "needs_review"),
        "explanation.failed": ("reason", "error", "attempts"),
        "dossier.issued": ("dossier", "version", "sha256"),
        "notice.issued": ("notice", "language", "version", "sha256"),
        "review.recorded": ("review", "human_outcome"),
        "decision.finalized": (),
    }
    details = {
        key: payload[key] for key in pick.get(webhook_type, ()) if key in payload
    }
    if webhook_type == "explanation.failed":
        details["job"] = int(event.object_id)
    if webhook_type == "review.recorded":
        details["action"] = event.action.split(".", 1)[1]
    return details


def body_for(
    webhook_type: str, event: AuditEvent, decision: Decision, organization_slug: str
) -> str:
    document = {
        "id": event_id(event, webhook_type),
        "type": webhook_type,
        "created_at": event.at.isoformat(timespec="milliseconds"),
        "organization": organization_slug,
        "data": {"decision": _decision_data(decision), **_details(webhook_type, event)},
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def request_sha256(delivery_id: int, attempt: int, manual: bool = False) -> str:
    seed = f"webhook:{delivery_id}:{attempt}:{'manual' if manual else 'auto'}"
    return hashlib.sha256(seed.encode()).hexdigest()


def _subscriptions(
    organization_ids: Iterable[int],
) -> dict[int, list[WebhookEndpoint]]:
    by_org: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        organization_id__in=set(organization_ids),
        enabled=True,
        deleted_at__isnull=True,
    ).select_related("organization"):
        by_org.setdefault(endpoint.organization_id, []).append(endpoint)
    return by_org


def audit_events_observe(events: Sequence[AuditEvent]) -> list[WebhookDelivery]:
    """The audit listener: store and queue the deliveries ``events`` call for."""
    relevant = [
        (event, types)
        for event in events
        if event.organization_id is not None and (types := webhook_types(event))
    ]
    if not relevant:
        return []
    endpoints = _subscriptions(
        event.organization_id for event, _ in relevant if event.organization_id
    )
    if not endpoints:
        return []
    decision_ids = {_decision_id(event) for event, _ in relevant} - {None}
    decisions = Decision.objects.only(
        "id",
        "external_id",
        "ai_system_id",
        "model_version_id",
        "status",
        "outcome",
        "final_outcome",
        "is_drill",
    ).in_bulk(decision_ids)
    deliveries = []
    for event, types in relevant:
        decision = decisions.get(_decision_id(event))
        if decision is None or decision.is_drill:
            continue
        for endpoint in endpoints.get(event.organization_id or 0, []):
            for webhook_type in types:
                if webhook_type not in endpoint.events:
                    continue
                deliveries.append(
                    WebhookDelivery(
                        endpoint=endpoint,
                        organization_id=endpoint.organization_id,
                        event_id=event_id(event, webhook_type),
                        event_type=webhook_type,
                        body=body_for(
                            webhook_type, event, decision, endpoint.organization.slug
                        ),
                        decision=decision,
                        next_attempt_at=timezone.now(),
                    )
                )
    if not deliveries:
        return []
    created = WebhookDelivery.objects.bulk_create(deliveries)
    attempts_queue(created, actor="system:webhooks")
    return created


def attempts_queue(
    deliveries: Sequence[WebhookDelivery],
    *,
    actor: str,
    manual: bool = False,
) -> None:
    """Queue the next attempt of each delivery as a job (at its ``next_attempt_at``)."""
    jobs_enqueue(
        kind=KIND,
        specs=[
            JobSpec(
                organization=delivery.endpoint.organization,
                request_sha256=request_sha256(
                    delivery.pk, delivery.attempts + 1, manual
                ),
                payload={"delivery": delivery.pk, "manual": manual},
                requested_by=actor,
                available_at=None if manual else delivery.next_attempt_at,
            )
            for delivery in deliveries
        ],
    )

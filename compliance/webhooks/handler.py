"""Webhook deliveries as jobs of the job engine (kind ``webhook``, the webhooks
queue). ``run`` sends (several at once, no database), ``store`` records each attempt in
the delivery log and decides what follows: delivered; another attempt later
(exponential back-off with jitter, for ``WEBHOOK_RETRY_WINDOW_SECONDS``); given up; or,
when the endpoint failed every attempt for ``WEBHOOK_DISABLE_AFTER_SECONDS``, the
endpoint disabled (audited)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from compliance.jobs import JobDone, Outcome
from compliance.jobs.handlers import AuditEntry, Progress
from compliance.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from compliance.webhooks.events import KIND, attempts_queue
from compliance.webhooks.sender import SendResult, send
from compliance.webhooks.signing import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature,
)

BATCH = 16  # deliveries one claim takes
PARALLEL = 8  # sent at once
Status = WebhookDelivery.Status


@dataclass(frozen=True)
class Attempted:
    """What one job did: sent (with the receiver's answer) or skipped (why)."""

    at: datetime
    result: SendResult | None
    skipped: str = ""


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """The wait after failed attempt ``attempt`` (1, 2, ...): base * 2^(n-1), capped,
    times a random share from 1/2 to 1 (jitter: receivers recovering from an outage are
    not hit by every sender at the same instant)."""
    base = float(settings.WEBHOOK_BACKOFF_BASE_SECONDS)
    cap = float(settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    full = min(cap, base * 2 ** min(max(attempt - 1, 0), 30))
    return full * (0.5 + 0.5 * (rng or random).random())


def _skip_reason(delivery: WebhookDelivery | None, manual: bool) -> str:
    if delivery is None:
        return "The delivery no longer exists."
    endpoint = delivery.endpoint
    if endpoint.deleted_at is not None:
        return "The endpoint was deleted."
    if not endpoint.enabled:
        return "The endpoint is disabled."
    if delivery.status == Status.DELIVERED and not manual:
        return "Already delivered."
    return ""


def _send_one(delivery: WebhookDelivery, attempt: int) -> Attempted:
    at = timezone.now()
    body = delivery.body.encode()
    endpoint = delivery.endpoint
    headers = {
        SIGNATURE_HEADER: signature(endpoint.secret, int(time.time()), body),
        EVENT_HEADER: delivery.event_type,
        EVENT_ID_HEADER: delivery.event_id,
        DELIVERY_HEADER: str(delivery.pk),
        ATTEMPT_HEADER: str(attempt),
    }
    result = send(endpoint.url, body, headers, float(settings.WEBHOOK_TIMEOUT_SECONDS))
    return Attempted(at=at, result=result)


class WebhookHandler:
    kind = KIND

    def batch_limit(self, requested: int) -> int:
        return BATCH

    def run(self, jobs: Sequence[Job], progress: Progress) -> Sequence[Outcome]:
        deliveries = WebhookDelivery.objects.select_related("endpoint").in_bulk(
            [job.payload.get("delivery") for job in jobs]
        )
        plans: list[tuple[WebhookDelivery | None, str]] = []
        for job in jobs:
            delivery = deliveries.get(job.payload.get("delivery"))
            plans.append((delivery, _skip_reason(delivery, job.payload.get("manual"))))
        to_send = [(d, d.attempts + 1) for d, why in plans if d is not None and not why]
        with ThreadPoolExecutor(
            max_workers=max(1, min(PARALLEL, len(to_send)))
        ) as pool:
            sent = iter(list(pool.map(lambda pair: _send_one(*pair), to_send)))
        outcomes: list[Outcome] = []
        for _delivery, why in plans:
            attempted = Attempted(timezone.now(), None, why) if why else next(sent)
            outcomes.append(JobDone(attempted))
        return outcomes

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, attempted in done:
            if attempted.result is None:
                continue  # skipped: nothing was sent, the job says why
            events += attempt_record(job, attempted, actor=actor)
        return events


def attempt_record(job: Job, attempted: Attempted, *, actor: str) -> list[AuditEntry]:
    """Log the attempt and settle what follows, in the engine's transaction."""
    result = attempted.result
    if result is None:
        raise ValueError("Only an attempt that sent something is recorded.")
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .select_related("endpoint__organization")
        .get(pk=job.payload["delivery"])
    )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery.endpoint = endpoint
    manual = bool(job.payload.get("manual"))
    delivery.attempts += 1
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        job=job,
        manual=manual,
        at=attempted.at,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    events: list[AuditEntry] = []
    if result.succeeded:
        delivery.status, delivery.delivered_at = Status.DELIVERED, attempted.at
        delivery.next_attempt_at = None
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
    else:
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or attempted.at
        if not endpoint.enabled:  # disabled meanwhile (by an attempt of this batch)
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        elif _persistently_failing(endpoint, attempted.at):
            events += endpoint_disable(endpoint, actor=actor, at=attempted.at)
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        elif delivery.status == Status.DELIVERED:
            pass  # a redelivery of a delivered event failed: it stays delivered
        elif manual:
            # the automatic attempts go on where one is scheduled; else it stays failed
            if delivery.next_attempt_at is None:
                delivery.status = Status.FAILED
        else:
            events += _retry_or_give_up(delivery, attempted.at, actor)
    endpoint.save(
        update_fields=[
            "consecutive_failures",
            "failing_since",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "updated_at",
        ]
    )
    delivery.save()
    return events


def _persistently_failing(endpoint: WebhookEndpoint, at: datetime) -> bool:
    since = endpoint.failing_since or at
    long_enough = at - since >= timedelta(
        seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS
    )
    return long_enough and (
        endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_MIN_FAILURES
    )


def _retry_or_give_up(
    delivery: WebhookDelivery, at: datetime, actor: str
) -> list[AuditEntry]:
    following = at + timedelta(seconds=backoff_seconds(delivery.attempts))
    window_end = delivery.created_at + timedelta(
        seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS
    )
    if following <= window_end:
        delivery.status, delivery.next_attempt_at = Status.PENDING, following
        attempts_queue([delivery], actor=actor)
        return []
    delivery.status, delivery.next_attempt_at = Status.FAILED, None
    endpoint = delivery.endpoint
    return [
        {
            "actor": actor,
            "organization": endpoint.organization,
            "action": "webhook.delivery_failed",
            "object_type": "webhook",
            "object_id": endpoint.pk,
            "payload": {
                "delivery": delivery.pk,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "attempts": delivery.attempts,
                "last_status_code": delivery.last_status_code,
                "last_error": delivery.last_error[:200],
            },
        }
    ]


def deliveries_stop(endpoint: WebhookEndpoint, why: str) -> int:
    """Fail the endpoint's pending deliveries (its jobs then skip them); how many."""
    return WebhookDelivery.objects.filter(
        endpoint=endpoint, status=Status.PENDING
    ).update(status=Status.FAILED, next_attempt_at=None, last_error=why)


def endpoint_disable(
    endpoint: WebhookEndpoint, *, actor: str, at: datetime, reason: str = ""
) -> list[AuditEntry]:
    """Disable ``endpoint`` (locked by the caller); its pending deliveries stop."""
    automatic = not reason
    if automatic:
        hours = settings.WEBHOOK_DISABLE_AFTER_SECONDS / 3600
        reason = (
            f"Every attempt failed for {hours:g} h ({endpoint.consecutive_failures} "
            "in a row); re-enable it once the receiver works."
        )
    endpoint.enabled, endpoint.disabled_at = False, at
    endpoint.disabled_reason = reason[:300]
    stopped = deliveries_stop(endpoint, "The endpoint was disabled.")
    return [
        {
            "actor": actor,
            "organization": endpoint.organization,
            "action": "webhook.disabled",
            "object_type": "webhook",
            "object_id": endpoint.pk,
            "payload": {
                "automatic": automatic,
                "reason": endpoint.disabled_reason,
                "consecutive_failures": endpoint.consecutive_failures,
                "deliveries_stopped": stopped,
            },
        }
    ]

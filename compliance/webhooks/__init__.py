"""Webhooks (issue 17): endpoints an organisation's admins register, an outbox filled
from the audit trail's events, deliveries signed and sent by jobs with retries."""

from __future__ import annotations

from compliance.webhooks.events import audit_events_observe
from compliance.webhooks.handler import WebhookHandler, backoff_seconds
from compliance.webhooks.selectors import (
    attempt_list,
    delivery_get,
    delivery_list,
    endpoint_get,
    endpoint_list,
)
from compliance.webhooks.services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
)
from compliance.webhooks.signing import signature, signature_verify

__all__ = [
    "WebhookHandler",
    "attempt_list",
    "audit_events_observe",
    "backoff_seconds",
    "delivery_get",
    "delivery_list",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_get",
    "endpoint_list",
    "endpoint_secret_rotate",
    "endpoint_update",
    "signature",
    "signature_verify",
]

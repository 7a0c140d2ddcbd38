"""Organisation admins register, change, disable, delete webhook endpoints, rotate
their secrets and ask for redeliveries; each change is audited (never the secret)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.audit import audit_event_append, audit_events_append
from compliance.errors import Conflict, ValidationFailed
from compliance.models import WebhookDelivery, WebhookEndpoint
from compliance.models.webhooks import EVENT_TYPES
from compliance.platform.text import hostile_text_refuse
from compliance.platform.text_limits import SHORT_TEXT, text_limits_check
from compliance.policy import require
from compliance.principals import Principal
from compliance.webhooks.events import attempts_queue
from compliance.webhooks.handler import deliveries_stop, endpoint_disable
from compliance.webhooks.signing import secret_new
from compliance.webhooks.targets import TargetRefused, target_check

Status = WebhookDelivery.Status


def _events_check(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise ValidationFailed(
            "Choose at least one event.",
            {"events": [f"Choose one or more of: {', '.join(EVENT_TYPES)}."]},
        )
    errors: dict[str, list[str]] = {}
    for i, event in enumerate(events):
        if event not in EVENT_TYPES:
            errors[f"events[{i}]"] = [
                f"Unknown event {str(event)[:60]!r}; use one of: "
                f"{', '.join(EVENT_TYPES)}."
            ]
    if errors:
        raise ValidationFailed("Unknown event.", errors)
    return [e for e in EVENT_TYPES if e in set(events)]  # the canonical order, once


def _url_check(url: Any) -> str:
    try:
        target_check(url)
    except TargetRefused as exc:
        raise ValidationFailed(str(exc), {"url": [str(exc)]}) from None
    return str(url)


def _description_check(description: Any) -> str:
    description = description or ""
    hostile_text_refuse({"description": description})
    errors = text_limits_check({"description": (description, SHORT_TEXT)})
    if errors:
        raise ValidationFailed("The description is too long.", errors)
    return str(description).strip()


def _event(
    principal: Principal, endpoint: WebhookEndpoint, action: str, **payload: Any
) -> dict[str, Any]:
    return {
        "actor": principal.actor,
        "organization": endpoint.organization,
        "action": f"webhook.{action}",
        "object_type": "webhook",
        "object_id": endpoint.pk,
        "payload": payload,
    }


def endpoint_create(
    *,
    principal: Principal,
    url: Any,
    events: Any,
    description: Any = "",
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown this once)."""
    organization = principal.organization
    require(principal, "webhook.manage")
    url = _url_check(url)
    events = _events_check(events)
    description = _description_check(description)
    with transaction.atomic():
        live = WebhookEndpoint.objects.filter(
            organization=organization, deleted_at__isnull=True
        ).count()
        if live >= settings.WEBHOOK_MAX_ENDPOINTS:
            raise Conflict(
                f"An organisation has at most {settings.WEBHOOK_MAX_ENDPOINTS} "
                "endpoints; delete one first.",
                {"url": ["Too many endpoints."]},
            )
        secret = secret_new()
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=events,
            description=description,
            secret=secret,
            created_by=principal.actor[:200],
        )
        audit_events_append(
            [_event(principal, endpoint, "created", url=url, events=events)]
        )
    return endpoint, secret


def endpoint_update(
    *,
    principal: Principal,
    endpoint: WebhookEndpoint,
    changes: dict[str, Any],
) -> WebhookEndpoint:
    """Change url, events, description or enabled; re-enabling starts afresh."""
    require(principal, "webhook.manage", endpoint)
    if endpoint.deleted_at is not None:
        raise Conflict("This endpoint was deleted.", {"endpoint": ["Deleted."]})
    clean: dict[str, Any] = {}
    if "url" in changes:
        clean["url"] = _url_check(changes["url"])
    if "events" in changes:
        clean["events"] = _events_check(changes["events"])
    if "description" in changes:
        clean["description"] = _description_check(changes["description"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ValidationFailed(
                "Not a boolean.", {"enabled": ["Use true or false."]}
            )
        clean["enabled"] = changes["enabled"]
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        events: list[dict[str, Any]] = []
        changed = {
            key: value
            for key, value in clean.items()
            if key != "enabled" and getattr(endpoint, key) != value
        }
        for key, value in changed.items():
            setattr(endpoint, key, value)
        if changed:
            events.append(
                _event(
                    principal,
                    endpoint,
                    "updated",
                    **{k: v for k, v in changed.items() if k != "description"},
                    **(
                        {"description_changed": True}
                        if "description" in changed
                        else {}
                    ),
                )
            )
        enabled = clean.get("enabled")
        if enabled is True and not endpoint.enabled:
            endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = (
                True,
                None,
                "",
            )
            endpoint.consecutive_failures, endpoint.failing_since = 0, None
            events.append(_event(principal, endpoint, "enabled"))
        elif enabled is False and endpoint.enabled:
            events += endpoint_disable(
                endpoint,
                actor=principal.actor,
                at=timezone.now(),
                reason=f"Disabled by {principal.actor}.",
            )
        endpoint.save()
        audit_events_append(events)
    return endpoint


def endpoint_delete(*, principal: Principal, endpoint: WebhookEndpoint) -> None:
    """Stop the endpoint for good (its delivery log stays readable to auditors)."""
    require(principal, "webhook.manage", endpoint)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.deleted_at is not None:
            return
        stopped = deliveries_stop(endpoint, "The endpoint was deleted.")
        endpoint.deleted_at, endpoint.enabled = timezone.now(), False
        endpoint.save(update_fields=["deleted_at", "enabled", "updated_at"])
        audit_event_append(
            **_event(principal, endpoint, "deleted", deliveries_stopped=stopped)
        )


def endpoint_secret_rotate(*, principal: Principal, endpoint: WebhookEndpoint) -> str:
    """A new secret (shown this once); deliveries from now on are signed with it."""
    require(principal, "webhook.manage", endpoint)
    if endpoint.deleted_at is not None:
        raise Conflict("This endpoint was deleted.", {"endpoint": ["Deleted."]})
    secret = secret_new()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret=secret, updated_at=timezone.now()
        )
        endpoint.secret = secret
        audit_event_append(**_event(principal, endpoint, "secret_rotated"))
    return secret


def delivery_redeliver(
    *, principal: Principal, delivery: WebhookDelivery
) -> WebhookDelivery:
    """Send the delivery again now (same event id and body), as a job; audited."""
    require(principal, "webhook.manage", delivery)
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint__organization")
            .get(pk=delivery.pk)
        )
        endpoint = delivery.endpoint
        if endpoint.deleted_at is not None or not endpoint.enabled:
            raise Conflict(
                "The endpoint is disabled or deleted; enable it before redelivering.",
                {"endpoint": ["Disabled."]},
            )
        if delivery.status == Status.FAILED:
            delivery.status = Status.PENDING
            delivery.save(update_fields=["status"])
        attempts_queue([delivery], actor=principal.actor, manual=True)
        audit_event_append(
            **_event(
                principal,
                endpoint,
                "redelivery_requested",
                delivery=delivery.pk,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
            )
        )
    return delivery

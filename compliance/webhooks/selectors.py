"""Reads of webhook endpoints and their delivery logs, scoped to the caller's
organisation (another organisation's endpoint is not found)."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.errors import NotFound
from compliance.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from compliance.policy import require
from compliance.principals import Principal


def endpoint_list(*, principal: Principal) -> QuerySet[WebhookEndpoint]:
    """The organisation's endpoints, deleted ones last (their logs stay readable)."""
    require(principal, "webhook.read")
    return WebhookEndpoint.objects.filter(organization=principal.organization).order_by(
        "deleted_at", "id"
    )


def endpoint_get(*, principal: Principal, pk: int) -> WebhookEndpoint:
    endpoint = endpoint_list(principal=principal).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delivery_list(
    *, principal: Principal, endpoint: WebhookEndpoint
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    require(principal, "webhook.read", endpoint)
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by(
        "-created_at", "-id"
    )


def delivery_get(
    *, principal: Principal, endpoint: WebhookEndpoint, pk: int
) -> WebhookDelivery:
    delivery = (
        delivery_list(principal=principal, endpoint=endpoint).filter(pk=pk).first()
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def attempt_list(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery=delivery).order_by("number")

"""The webhooks page: admins register endpoints (the secret is shown once, on the
page that answers the registration), read each endpoint's delivery log, redeliver,
disable, re-enable, rotate the secret or delete; auditors read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from compliance import policy
from compliance.errors import DomainError, NotFound
from compliance.models import WebhookDelivery, WebhookEndpoint
from compliance.models.webhooks import EVENT_TYPES
from compliance.web.access import member_required
from compliance.webhooks import (
    attempt_list,
    delivery_get,
    delivery_list,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_get,
    endpoint_list,
    endpoint_secret_rotate,
    endpoint_update,
)


def _endpoint(principal: Any, pk: int) -> WebhookEndpoint:
    try:
        return endpoint_get(principal=principal, pk=pk)
    except NotFound:
        raise Http404("No such webhook endpoint.") from None


def _delivery(principal: Any, endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    try:
        return delivery_get(principal=principal, endpoint=endpoint, pk=pk)
    except NotFound:
        raise Http404("No such delivery.") from None


def _errors(exc: DomainError) -> list[str]:
    found = [m for ms in (exc.errors or {}).values() for m in ms]
    return found or [exc.detail]


@require_http_methods(["GET", "POST"])
@member_required("webhook.read")
def webhook_list(request: HttpRequest) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    may_manage = policy.can(principal, "webhook.manage")
    context: dict[str, Any] = {
        "principal": principal,
        "may_manage": may_manage,
        "event_types": EVENT_TYPES,
        "form": {"url": "", "events": list(EVENT_TYPES), "description": ""},
    }
    status = 200
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied("Your role may not change webhooks.")
        form = {
            "url": request.POST.get("url", "").strip(),
            "events": request.POST.getlist("events"),
            "description": request.POST.get("description", ""),
        }
        try:
            endpoint, secret = endpoint_create(principal=principal, **form)
        except DomainError as exc:
            context["form"], context["errors"], status = form, _errors(exc), 400
        else:
            context["created"], context["secret"] = endpoint, secret
    context["endpoints"] = endpoint_list(principal=principal)
    return render(request, "webhooks/list.html", context, status=status)


@require_http_methods(["GET"])
@member_required("webhook.read")
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    endpoint = _endpoint(principal, pk)
    page = Paginator(delivery_list(principal=principal, endpoint=endpoint), 25)
    deliveries = page.get_page(request.GET.get("page"))
    for delivery in deliveries.object_list:
        delivery.log = list(attempt_list(delivery=delivery))
    return render(
        request,
        "webhooks/detail.html",
        {
            "principal": principal,
            "endpoint": endpoint,
            "page": deliveries,
            "may_manage": policy.can(principal, "webhook.manage"),
        },
    )


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("web:webhook-detail", kwargs={"pk": pk}))


@require_POST
@member_required("webhook.manage")
def webhook_change(request: HttpRequest, pk: int) -> HttpResponse:
    """POST action=disable|enable|rotate|delete."""
    principal = request.principal  # type: ignore[attr-defined]
    endpoint = _endpoint(principal, pk)
    action = request.POST.get("action", "")
    try:
        if action in ("disable", "enable"):
            endpoint_update(
                principal=principal,
                endpoint=endpoint,
                changes={"enabled": action == "enable"},
            )
            messages.success(request, f"Endpoint {action}d.")
        elif action == "rotate":
            secret = endpoint_secret_rotate(principal=principal, endpoint=endpoint)
            endpoint.refresh_from_db()
            return render(
                request,
                "webhooks/secret.html",
                {"principal": principal, "endpoint": endpoint, "secret": secret},
            )
        elif action == "delete":
            if request.POST.get("confirm") != "yes":  # say what it does, ask again
                return render(
                    request,
                    "webhooks/confirm_delete.html",
                    {"principal": principal, "endpoint": endpoint},
                )
            endpoint_delete(principal=principal, endpoint=endpoint)
            messages.success(request, "Endpoint deleted; its log stays here.")
        else:
            messages.error(request, "Choose disable, enable, rotate or delete.")
    except DomainError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    return _back(pk)


@require_POST
@member_required("webhook.manage")
def webhook_redeliver(request: HttpRequest, pk: int, delivery: int) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    endpoint = _endpoint(principal, pk)
    found = _delivery(principal, endpoint, delivery)
    try:
        delivery_redeliver(principal=principal, delivery=found)
    except DomainError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(
            request, f"Delivery {found.pk} ({found.event_type}) queued again."
        )
    return _back(pk)

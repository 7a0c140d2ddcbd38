"""Thin API views of webhooks: organisation admins register endpoints (the secret is
in the 201 answer only), change, disable, delete them, rotate secrets, read each
endpoint's delivery log and ask for redeliveries; auditors read."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from compliance.api.fields import RejectUnknownFieldsMixin, StrictCharField
from compliance.api.pagination import StandardPagination
from compliance.api.parsers import StrictJSONParser
from compliance.api.views import ERROR_RESPONSES, PrincipalMixin, _validated
from compliance.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from compliance.models.webhooks import EVENT_TYPES
from compliance.platform.text_limits import SHORT_TEXT
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
from compliance.webhooks.targets import MAX_URL

TAGS = ["webhooks"]
NOT_FOUND = {404: OpenApiResponse(description="No such endpoint or delivery")}


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        help_text="The events sent to this endpoint.",
    )
    deliveries = serializers.SerializerMethodField(
        help_text="Where the endpoint's delivery log is read."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "consecutive_failures",
            "failing_since",
            "created_by",
            "created_at",
            "updated_at",
            "deleted_at",
            "deliveries",
        ]
        read_only_fields = fields

    def get_deliveries(self, endpoint: WebhookEndpoint) -> str:
        return reverse("api:webhook-deliveries", kwargs={"pk": endpoint.pk})


class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (HMAC-SHA256). Shown this once: store it.",
    )

    class Meta(WebhookEndpointOutputSerializer.Meta):
        fields = [*WebhookEndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    url = StrictCharField(
        max_length=MAX_URL,
        help_text="The receiver: https:// on a public address.",
    )
    events = serializers.ListField(
        child=StrictCharField(max_length=40),
        max_length=len(EVENT_TYPES) * 2,
        help_text=f"One or more of: {', '.join(EVENT_TYPES)}.",
    )
    description = StrictCharField(
        required=False, allow_blank=True, max_length=SHORT_TEXT
    )


class WebhookEndpointChangeSerializer(WebhookEndpointInputSerializer):
    url = StrictCharField(max_length=MAX_URL, required=False)
    events = serializers.ListField(
        child=StrictCharField(max_length=40),
        max_length=len(EVENT_TYPES) * 2,
        required=False,
    )
    enabled = serializers.BooleanField(
        required=False,
        help_text="false stops deliveries; true starts afresh after a disabling.",
    )


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(
        read_only=True, help_text="The new secret, shown this once."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "at",
            "manual",
            "status_code",
            "error",
            "duration_ms",
            "response_excerpt",
        ]
        read_only_fields = fields


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "decision",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliveryOutputSerializer):
    body = serializers.JSONField(read_only=True, help_text="The document sent.")
    attempt_log = serializers.SerializerMethodField()

    class Meta(WebhookDeliveryOutputSerializer.Meta):
        fields = [*WebhookDeliveryOutputSerializer.Meta.fields, "body", "attempt_log"]
        read_only_fields = fields

    def to_representation(self, delivery: WebhookDelivery) -> dict[str, Any]:
        data = super().to_representation(delivery)
        data["body"] = json.loads(delivery.body)
        return data

    @extend_schema_field(WebhookAttemptSerializer(many=True))
    def get_attempt_log(self, delivery: WebhookDelivery) -> list[dict[str, Any]]:
        return list(
            WebhookAttemptSerializer(attempt_list(delivery=delivery), many=True).data
        )


def _endpoint(view: Any, pk: int) -> WebhookEndpoint:
    return endpoint_get(principal=view.principal, pk=pk)


class WebhookListApi(PrincipalMixin, generics.ListAPIView):
    """The organisation's webhook endpoints; POST registers one."""

    actions = {"GET": "webhook.read", "POST": "webhook.manage"}
    serializer_class = WebhookEndpointOutputSerializer
    parser_classes = [StrictJSONParser]
    model = WebhookEndpoint
    selector = endpoint_list

    @extend_schema(tags=TAGS, summary="List webhook endpoints")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        summary="Register a webhook endpoint",
        description="The answer carries the endpoint's signing secret, this once.",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = _validated(WebhookEndpointInputSerializer, request.data)
        endpoint, secret = endpoint_create(
            principal=self.principal,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
        )
        body = WebhookEndpointCreatedSerializer(endpoint).data
        body["secret"] = secret
        location = reverse("api:webhook-detail", kwargs={"pk": endpoint.pk})
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location)},
        )


class WebhookDetailApi(PrincipalMixin, generics.GenericAPIView):
    """One endpoint: read, change (url, events, description, enabled), delete."""

    actions = {
        "GET": "webhook.read",
        "PATCH": "webhook.manage",
        "DELETE": "webhook.manage",
    }
    serializer_class = WebhookEndpointOutputSerializer
    parser_classes = [StrictJSONParser]
    model = WebhookEndpoint
    selector = endpoint_list

    @extend_schema(
        tags=TAGS,
        summary="Read a webhook endpoint",
        responses={200: WebhookEndpointOutputSerializer, **NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookEndpointOutputSerializer(_endpoint(self, pk)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change a webhook endpoint",
        description="Re-enabling a disabled endpoint clears its run of failures.",
        request=WebhookEndpointChangeSerializer,
        responses={
            200: WebhookEndpointOutputSerializer,
            **ERROR_RESPONSES,
            **NOT_FOUND,
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        data = _validated(WebhookEndpointChangeSerializer, request.data)
        endpoint = endpoint_update(
            principal=self.principal, endpoint=_endpoint(self, pk), changes=data
        )
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a webhook endpoint",
        description="Deliveries stop; the delivery log stays readable.",
        responses={204: None, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        endpoint_delete(principal=self.principal, endpoint=_endpoint(self, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretApi(PrincipalMixin, generics.GenericAPIView):
    """POST: a new signing secret for the endpoint, shown once."""

    actions = {"POST": "webhook.manage"}
    serializer_class = WebhookSecretSerializer
    parser_classes = [StrictJSONParser]
    model = WebhookEndpoint
    selector = endpoint_list

    @extend_schema(
        tags=TAGS,
        summary="Rotate a webhook endpoint's secret",
        request=None,
        responses={200: WebhookSecretSerializer, **ERROR_RESPONSES, **NOT_FOUND},
    )
    def post(self, request: Request, pk: int) -> Response:
        secret = endpoint_secret_rotate(
            principal=self.principal, endpoint=_endpoint(self, pk)
        )
        return Response({"secret": secret})


class WebhookDeliveryListApi(PrincipalMixin, generics.ListAPIView):
    """The endpoint's delivery log, newest first."""

    actions = {"GET": "webhook.read"}
    serializer_class = WebhookDeliveryOutputSerializer
    pagination_class = StandardPagination
    model = WebhookDelivery
    selector = endpoint_list

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        endpoint = _endpoint(self, self.kwargs["pk"])
        return delivery_list(principal=self.principal, endpoint=endpoint)

    @extend_schema(tags=TAGS, summary="List an endpoint's deliveries")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class WebhookDeliveryDetailApi(PrincipalMixin, generics.GenericAPIView):
    """One delivery: the document sent and every attempt with its answer."""

    actions = {"GET": "webhook.read"}
    serializer_class = WebhookDeliveryDetailSerializer
    model = WebhookDelivery
    selector = endpoint_list

    @extend_schema(
        tags=TAGS,
        summary="Read a delivery and its attempts",
        responses={200: WebhookDeliveryDetailSerializer, **NOT_FOUND},
    )
    def get(self, request: Request, pk: int, delivery: int) -> Response:
        found = delivery_get(
            principal=self.principal, endpoint=_endpoint(self, pk), pk=delivery
        )
        return Response(WebhookDeliveryDetailSerializer(found).data)


class WebhookRedeliverApi(PrincipalMixin, generics.GenericAPIView):
    """POST: send the delivery again now, with the same event id and body."""

    actions = {"POST": "webhook.manage"}
    serializer_class = WebhookDeliveryOutputSerializer
    parser_classes = [StrictJSONParser]
    model = WebhookDelivery
    selector = endpoint_list

    @extend_schema(
        tags=TAGS,
        summary="Redeliver an event",
        request=None,
        responses={
            202: WebhookDeliveryOutputSerializer,
            409: OpenApiResponse(description="The endpoint is disabled or deleted"),
            **ERROR_RESPONSES,
            **NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int, delivery: int) -> Response:
        found = delivery_get(
            principal=self.principal, endpoint=_endpoint(self, pk), pk=delivery
        )
        found = delivery_redeliver(principal=self.principal, delivery=found)
        location = reverse(
            "api:webhook-delivery-detail", kwargs={"pk": pk, "delivery": found.pk}
        )
        return Response(
            WebhookDeliveryOutputSerializer(found).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(location)},
        )

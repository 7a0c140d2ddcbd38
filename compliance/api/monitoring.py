"""Thin API views of the monitoring figures (the organisation's people only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from compliance.api.views import ERROR_RESPONSES, PrincipalMixin, _validated
from compliance.errors import ValidationFailed
from compliance.models import AISystem
from compliance.monitoring import OversightRow, oversight_by_reviewer_month
from compliance.registry.selectors import ai_system_list


class OversightQuerySerializer(serializers.Serializer):
    ai_system = serializers.IntegerField(required=False, min_value=1)
    # "from" is a Python keyword: the field is renamed below
    since = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        renamed = {("since" if k == "from" else k): v for k, v in data.items()}
        try:
            return super().to_internal_value(renamed)
        except serializers.ValidationError as exc:  # errors named as the client did
            detail = exc.detail
            if isinstance(detail, dict):
                detail = {("from" if k == "since" else k): v for k, v in detail.items()}
            raise serializers.ValidationError(detail) from None


QUERY_PARAMETERS = [
    OpenApiParameter("ai_system", int, description="One of your AI systems."),
    OpenApiParameter(
        "from", OpenApiTypes.DATETIME, description="Reviews at or after (ISO 8601)."
    ),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="Reviews before."),
]


class OversightRowSerializer(serializers.Serializer):
    ai_system = serializers.IntegerField()
    reviewer = serializers.CharField()
    month = serializers.DateField()
    reviews = serializers.IntegerField()
    overrides = serializers.IntegerField()
    override_rate = serializers.FloatField(allow_null=True)
    override_interval = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="Wilson 95 % interval of the override rate: [low, high].",
    )
    preliminary_views = serializers.IntegerField()
    agreed_with_model = serializers.IntegerField()
    blind_agreement_rate = serializers.FloatField(allow_null=True)
    switched_to_model = serializers.IntegerField()
    switch_rate = serializers.FloatField(
        allow_null=True,
        help_text="Of the blind views that disagreed with the model, the share "
        "whose review then upheld it (automation bias).",
    )


class OversightApi(PrincipalMixin, generics.GenericAPIView):
    """Oversight per AI system, reviewer and month: reviews, overrides (rate and
    Wilson 95 % interval), blind-first agreement with the model and switches to the
    model's answer. ``?ai_system=&from=&to=`` (ISO date-times) narrow it."""

    actions = {"GET": "monitoring.read"}
    model = AISystem
    selector = ai_system_list
    serializer_class = OversightRowSerializer
    pagination_class = None

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        responses={200: OversightRowSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        query = _validated(OversightQuerySerializer, request.query_params)
        ai_system = None
        if "ai_system" in query:
            ai_system = (
                ai_system_list(principal=self.principal)
                .filter(pk=query["ai_system"])
                .first()
            )
            if ai_system is None:
                raise ValidationFailed(
                    "Unknown AI system.", {"ai_system": ["Unknown AI system."]}
                )
        rows = oversight_by_reviewer_month(
            principal=self.principal,
            ai_system=ai_system,
            since=query.get("since"),
            until=query.get("to"),
        )
        return Response(OversightRowSerializer([_row(r) for r in rows], many=True).data)


def _row(row: OversightRow) -> dict[str, Any]:
    interval = row.override_interval
    return {
        **vars(row),
        "override_rate": row.override_rate,
        "override_interval": list(interval) if interval is not None else None,
        "blind_agreement_rate": row.blind_agreement_rate,
        "switch_rate": row.switch_rate,
    }

"""Thin API views of the monitoring figures (the organisation's people only)."""

from __future__ import annotations

import dataclasses
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
from compliance.monitoring.drift import drift_report
from compliance.monitoring.fairness import fairness_report
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
    timed_reviews = serializers.IntegerField(
        help_text="Reviews whose time on the case is known (web reviews)."
    )
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)
    late_reviews = serializers.IntegerField(
        help_text="First reviews recorded later than the AI system's review SLA "
        "(REVIEW_SLA_HOURS unless set) after receipt."
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


class RatioSerializer(serializers.Serializer):
    ratio = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="Bootstrap 95 % interval.")
    high = serializers.FloatField(allow_null=True)


class GroupSerializer(serializers.Serializer):
    group = serializers.CharField()
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="n, fav_model, final, fav_final, adverse_final, adverse_overturned.",
    )
    conclusive = serializers.BooleanField(
        help_text="At least FAIRNESS_MIN_GROUP members: a ratio is read only then."
    )
    rates = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Per measure (model, final, override): the favourable rate.",
    )
    ratios = serializers.DictField(
        child=RatioSerializer(),
        help_text="Per measure: the adverse impact ratio to the most favoured group.",
    )
    alerts = serializers.ListField(child=serializers.CharField())


class _Labelled(serializers.Serializer):
    """A ``label`` field (declared in get_fields: the class attribute is Field's)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["label"] = serializers.CharField()
        return fields


class AttributeSerializer(_Labelled):
    name = serializers.CharField()
    groups = GroupSerializer(many=True)
    reference = serializers.DictField(child=serializers.CharField(allow_null=True))


class ChiSquareSerializer(serializers.Serializer):
    statistic = serializers.FloatField()
    dof = serializers.IntegerField()
    p_value = serializers.FloatField()
    min_expected = serializers.FloatField()


class ReasonTableSerializer(_Labelled):
    attribute = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.ListField(), help_text="[group, [count per reason]]."
    )
    test = ChiSquareSerializer(allow_null=True)


class FairnessSerializer(serializers.Serializer):
    ai_system = serializers.IntegerField()
    months = serializers.ListField(child=serializers.DateField())
    favourable = serializers.CharField()
    min_group = serializers.IntegerField()
    alert_ratio = serializers.FloatField()
    attributes = AttributeSerializer(many=True)
    intersections = AttributeSerializer(many=True)
    reasons = ReasonTableSerializer(many=True)
    note = serializers.CharField()


class FeatureDriftSerializer(_Labelled):
    name = serializers.CharField()
    psi = serializers.ListField(child=serializers.FloatField(allow_null=True))


class VersionDriftSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    version = serializers.CharField()
    reference = serializers.CharField()
    reference_rows = serializers.IntegerField()
    months = serializers.ListField(child=serializers.DateField())
    decisions = serializers.ListField(child=serializers.IntegerField())
    features = FeatureDriftSerializer(many=True)
    scores = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="Per month, the shares of scores in ten bins of 0.1.",
    )
    favourable_rate = serializers.ListField(
        child=serializers.FloatField(allow_null=True)
    )
    attribution_rank_correlation = serializers.ListField(
        child=serializers.FloatField(allow_null=True)
    )
    top_reason_shift = serializers.ListField(
        child=serializers.FloatField(allow_null=True)
    )
    top_reasons = serializers.ListField(
        child=serializers.DictField(child=serializers.IntegerField())
    )


class _SystemTopicApi(PrincipalMixin, generics.GenericAPIView):
    actions = {"GET": "monitoring.read"}
    model = AISystem
    selector = ai_system_list
    pagination_class = None

    def _query(self, request: Request) -> tuple[AISystem, dict[str, Any]]:
        query = _validated(OversightQuerySerializer, request.query_params)
        if "ai_system" not in query:
            raise ValidationFailed(
                "Name the AI system.", {"ai_system": ["This parameter is required."]}
            )
        ai_system = (
            ai_system_list(principal=self.principal)
            .filter(pk=query["ai_system"])
            .first()
        )
        if ai_system is None:
            raise ValidationFailed(
                "Unknown AI system.", {"ai_system": ["Unknown AI system."]}
            )
        return ai_system, query


class FairnessApi(_SystemTopicApi):
    """Fairness of outcomes of one AI system over whole months: per protected
    attribute and pair, the favourable rate per group and the adverse impact ratio
    (bootstrap 95 % interval) for the model's outcome, the final outcome and the
    overrides; top reasons per group with a chi-square test."""

    serializer_class = FairnessSerializer

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        responses={200: FairnessSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        ai_system, query = self._query(request)
        report = fairness_report(
            principal=self.principal,
            ai_system=ai_system,
            since=query.get("since"),
            until=query.get("to"),
        )
        return Response(FairnessSerializer(dataclasses.asdict(report)).data)


class DriftApi(_SystemTopicApi):
    """Drift of one AI system per model version and month: PSI per feature against
    the stored training distribution, score and outcome mix, attribution rank
    correlation and top-reason shift."""

    serializer_class = VersionDriftSerializer

    @extend_schema(
        parameters=QUERY_PARAMETERS,
        responses={200: VersionDriftSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        ai_system, query = self._query(request)
        versions = drift_report(
            principal=self.principal,
            ai_system=ai_system,
            since=query.get("since"),
            until=query.get("to"),
        )
        return Response(
            VersionDriftSerializer(
                [dataclasses.asdict(v) for v in versions], many=True
            ).data
        )

"""Thin API views of contests: the client system forwards what the person wrote; the
case reopens as contested. GET lists the decision's contests."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from compliance.api.fields import RejectUnknownFieldsMixin, StrictCharField
from compliance.api.parsers import StrictJSONParser
from compliance.api.views import ERROR_RESPONSES, PrincipalMixin, _validated
from compliance.decisions.selectors import decision_list
from compliance.models import Contest, Decision
from compliance.platform.text_limits import CONTEST_STATEMENT, SHORT_TEXT
from compliance.reviews.contests import contest_list, contest_submit


class ContestOutputSerializer(serializers.ModelSerializer):
    decision_status = serializers.CharField(
        source="decision.status", read_only=True, help_text="The case's status now."
    )

    class Meta:
        model = Contest
        fields = [
            "id",
            "decision",
            "statement",
            "reference",
            "previous_status",
            "decision_status",
            "created_at",
        ]
        read_only_fields = fields


class ContestInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    statement = StrictCharField(
        max_length=CONTEST_STATEMENT,
        help_text="What the person wrote, forwarded as they wrote it.",
    )
    reference = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=SHORT_TEXT,
        help_text="The reference the person quoted (their notice's or yours).",
    )


class DecisionContestsApi(PrincipalMixin, generics.GenericAPIView):
    """POST: the person contests the decision (201; the case reopens as contested in
    the review queue, audited). GET: the decision's contests, oldest first."""

    actions = {"GET": "contest.read", "POST": "contest.submit"}
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decision_list
    serializer_class = ContestOutputSerializer
    pagination_class = None

    @extend_schema(responses={200: ContestOutputSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        decision = self.get_object()
        rows = contest_list(principal=self.principal, decision=decision)
        return Response(ContestOutputSerializer(rows, many=True).data)

    @extend_schema(
        request=ContestInputSerializer,
        responses={201: ContestOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(ContestInputSerializer, request.data)
        contest = contest_submit(
            principal=self.principal,
            decision=self.get_object(),
            statement=data["statement"],
            reference=data.get("reference", ""),
        )
        location = reverse("api:decision-contests", kwargs={"pk": contest.decision_id})
        return Response(
            ContestOutputSerializer(contest).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location)},
        )

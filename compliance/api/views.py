"""Thin API views: authenticate, shape-check, call a selector or a service, serialize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.db.models import Model, QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from compliance import dossiers
from compliance.api.downloads import (
    PDF_RESPONSES,
    DownloadNegotiation,
    download_media_type,
)
from compliance.api.errors import flatten_errors
from compliance.api.fields import RejectUnknownFieldsMixin, StrictCharField
from compliance.api.filters import DecisionFilter, DossierFilter
from compliance.api.pagination import PageOrCursorPagination
from compliance.api.parsers import StrictJSONParser
from compliance.api.serializers import (
    AISystemInputSerializer,
    AISystemOutputSerializer,
    DecisionInputSerializer,
    DecisionOutputSerializer,
    DossierOutputSerializer,
    DossierVerifyInputSerializer,
    ExplanationOutputSerializer,
    ExplanationRequestInputSerializer,
    JobOutputSerializer,
    ModelVersionInputSerializer,
    ModelVersionOutputSerializer,
    ReviewOutputSerializer,
)
from compliance.decisions import (
    BULK_MAX,
    Submission,
    decision_submit,
    decisions_submit_bulk,
)
from compliance.decisions.selectors import decision_list
from compliance.dossiers.selectors import dossier_list, dossier_superseded
from compliance.errors import DomainError, ValidationFailed
from compliance.explanations import explanation_request
from compliance.explanations.selectors import explanation_list
from compliance.jobs.selectors import job_list
from compliance.models import AISystem, Decision, Dossier, Job, ModelVersion
from compliance.platform.throttles import PublicVerifyRateThrottle
from compliance.principals import Principal, principal_for_request
from compliance.registry.selectors import ai_system_list, model_version_list
from compliance.registry.services import ai_system_register, model_version_register
from compliance.reviews import review_list
from compliance.reviews.selectors import blind_pending_annotate, blind_pending_refuse

ERROR_RESPONSES = {
    400: OpenApiResponse(
        description="Invalid input: {code, detail, errors{field path: [messages]}}"
    ),
    401: OpenApiResponse(
        description="Missing, invalid, expired or revoked credentials"
    ),
    403: OpenApiResponse(description="Your role may not do this"),
}


def _created(request: Request, data: Any, name: str, pk: int) -> Response:
    """201 with the resource and its Location."""
    location = reverse(f"api:{name}-detail", kwargs={"pk": pk})
    return Response(
        data,
        status=status.HTTP_201_CREATED,
        headers={"Location": request.build_absolute_uri(location)},
    )


class PrincipalMixin:
    """Views whose rows come from a selector scoped to the caller's organisation."""

    # who may call a method is the policy's answer for ``actions[method]``
    # (PolicyAllowsMethod, the default permission class in settings)
    actions: dict[str, str] = {}
    model: type[Model]
    selector: Callable[..., QuerySet[Any]]

    @property
    def principal(self) -> Principal:
        return cast(Principal, principal_for_request(self.request))  # type: ignore[attr-defined]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return self.model._default_manager.none()
        return type(self).selector(principal=self.principal)


class AISystemListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "ai_system.read", "POST": "ai_system.register"}
    serializer_class = AISystemOutputSerializer
    parser_classes = [StrictJSONParser]
    model = AISystem
    selector = ai_system_list

    @extend_schema(
        request=AISystemInputSerializer,
        responses={201: AISystemOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        data = _validated(AISystemInputSerializer, request.data)
        ai_system = ai_system_register(principal=self.principal, **data)
        return _created(
            request, AISystemOutputSerializer(ai_system).data, "ai-system", ai_system.pk
        )


class AISystemDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "ai_system.read"}
    serializer_class = AISystemOutputSerializer
    model = AISystem
    selector = ai_system_list


class ModelVersionListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "model_version.read", "POST": "model_version.register"}
    serializer_class = ModelVersionOutputSerializer
    parser_classes = [MultiPartParser]
    model = ModelVersion
    selector = model_version_list

    @extend_schema(
        request={"multipart/form-data": ModelVersionInputSerializer},
        responses={
            201: ModelVersionOutputSerializer,
            409: OpenApiResponse(description="Version exists"),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(ModelVersionInputSerializer, request.data)
        ai_system = (
            ai_system_list(principal=self.principal)
            .filter(pk=data["ai_system"])
            .first()
        )
        if ai_system is None:
            raise ValidationFailed(
                "Unknown AI system.", {"ai_system": ["Unknown AI system."]}
            )
        weights, onnx = data.pop("weights"), data.pop("onnx")
        data.pop("ai_system")
        mv = model_version_register(
            principal=self.principal,
            ai_system=ai_system,
            weights=b"" if weights is None else weights.read(),
            onnx=None if onnx is None else onnx.read(),
            **data,
        )
        return _created(
            request, ModelVersionOutputSerializer(mv).data, "model-version", mv.pk
        )


class ModelVersionDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "model_version.read"}
    serializer_class = ModelVersionOutputSerializer
    model = ModelVersion
    selector = model_version_list


def decisions_as_read(*, principal: Principal) -> QuerySet[Decision]:
    """The caller's decisions, each with ``blind_pending`` (blind-first review: the
    serializer then hides the model's answer)."""
    return blind_pending_annotate(
        principal=principal, queryset=decision_list(principal=principal)
    )


class DecisionListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "decision.read", "POST": "decision.submit"}
    serializer_class = DecisionOutputSerializer
    filterset_class = DecisionFilter
    pagination_class = PageOrCursorPagination
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decisions_as_read

    @extend_schema(
        request=DecisionInputSerializer,
        responses={
            201: DecisionOutputSerializer,
            200: OpenApiResponse(
                DecisionOutputSerializer, description="Replay of the same submission"
            ),
            409: OpenApiResponse(
                description="external_id reused with a different payload"
            ),
            413: OpenApiResponse(description="Body over 1 MiB"),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        data = _validated(DecisionInputSerializer, request.data)
        submitted = decision_submit(
            principal=self.principal, submission=Submission.from_validated(data)
        )
        data = DecisionOutputSerializer(submitted.decision).data
        if not submitted.created:  # a replay: the stored decision again
            return Response(data, status=status.HTTP_200_OK)
        return _created(request, data, "decision", submitted.decision.pk)


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request.")
    status = serializers.IntegerField(
        help_text="201 stored, 200 replay of the same submission, 400 invalid, "
        "409 external_id reused with a different payload."
    )
    decision = DecisionOutputSerializer(allow_null=True)
    error = serializers.JSONField(
        allow_null=True,
        help_text="The error body (code, detail, errors by field path), as a single "
        "submission would answer it.",
    )


class BulkOutputSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
    stored = serializers.IntegerField()
    replayed = serializers.IntegerField()
    failed = serializers.IntegerField()


class DecisionBulkInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The request as the contract states it (each item a decision)."""

    decisions = serializers.ListField(
        child=DecisionInputSerializer(), max_length=BULK_MAX
    )


class BulkInputSerializer(serializers.Serializer):
    """The envelope as it is read: each item is then validated on its own, so that
    one bad item is answered in its place instead of failing the request."""

    decisions = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        max_length=BULK_MAX,
        help_text=f"Up to {BULK_MAX} decisions, each as POST /api/v1/decisions/ takes "
        "it (none: nothing to do, an empty answer).",
    )


class DecisionBulkApi(PrincipalMixin, generics.GenericAPIView):
    """Submit up to 1,000 decisions at once; each is answered on its own, in input
    order (stored in chunks of 100, one transaction each; idempotent per
    external_id like single submissions)."""

    actions = {"POST": "decision.submit"}
    serializer_class = BulkOutputSerializer
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decisions_as_read

    @extend_schema(
        request=DecisionBulkInputSerializer,
        responses={200: BulkOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationFailed(
                "Send an object with a list of decisions.",
                {"decisions": ['Send {"decisions": [...]}.']},
            )
        unknown = sorted(set(request.data) - {"decisions"})
        if unknown:
            raise ValidationFailed(
                "Unknown fields.", {name: ["Unknown field."] for name in unknown}
            )
        raw = _validated(BulkInputSerializer, request.data)["decisions"]
        items: list[Submission | DomainError] = []
        for item in raw:
            serializer = DecisionInputSerializer(data=item)
            if serializer.is_valid():
                items.append(Submission.from_validated(dict(serializer.validated_data)))
            else:
                items.append(
                    ValidationFailed(
                        "The decision is invalid; see errors.",
                        flatten_errors(serializer.errors),
                    )
                )
        answers = decisions_submit_bulk(principal=self.principal, items=items)
        results = [
            {
                "index": a.index,
                "status": a.status,
                "decision": DecisionOutputSerializer(a.decision).data
                if a.decision is not None
                else None,
                "error": None
                if a.decision is not None
                else {"code": a.code, "detail": a.detail, "errors": a.errors or {}},
            }
            for a in answers
        ]
        return Response(
            {
                "results": results,
                "stored": sum(1 for a in answers if a.status == 201),
                "replayed": sum(1 for a in answers if a.status == 200),
                "failed": sum(1 for a in answers if a.decision is None),
            }
        )


class DecisionDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "decision.read"}
    serializer_class = DecisionOutputSerializer
    model = Decision
    selector = decisions_as_read


def _job_accepted(request: Request, job: Job) -> Response:
    """202 with the job and its Location (the endpoint to poll)."""
    location = reverse("api:job-detail", kwargs={"pk": job.pk})
    return Response(
        JobOutputSerializer(job).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": request.build_absolute_uri(location)},
    )


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class DecisionExplanationsApi(PrincipalMixin, generics.GenericAPIView):
    """POST: queue explanations (202 + Location of the job). GET: the stored ones."""

    actions = {"GET": "explanation.read", "POST": "explanation.request"}
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decision_list
    serializer_class = ExplanationOutputSerializer
    pagination_class = None

    @extend_schema(responses={200: ExplanationOutputSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        decision = self.get_object()
        blind_pending_refuse(principal=self.principal, decision=decision)
        rows = explanation_list(principal=self.principal, decision=decision)
        return Response(ExplanationOutputSerializer(rows, many=True).data)

    @extend_schema(
        request=ExplanationRequestInputSerializer,
        responses={
            202: JobOutputSerializer,
            409: OpenApiResponse(description="The model version is retired"),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        decision = self.get_object()
        data = _validated(ExplanationRequestInputSerializer, request.data)
        job, _ = explanation_request(
            principal=self.principal,
            decision=decision,
            methods=data.get("methods"),
            parameters=data.get("parameters"),
        )
        return _job_accepted(request, job)


class JobDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "job.read"}
    serializer_class = JobOutputSerializer
    model = Job
    selector = job_list


class DecisionDossiersApi(PrincipalMixin, generics.GenericAPIView):
    """POST: issue a dossier (202 + Location of the job); refused when content is missing."""

    actions = {"POST": "dossier.request"}
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decision_list
    serializer_class = JobOutputSerializer

    class DossierIssueInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        # without it, unchanged content returns the version already issued
        reissue_reason = StrictCharField(
            required=False, allow_blank=True, max_length=2000
        )

    @extend_schema(
        request=DossierIssueInputSerializer,
        responses={
            200: OpenApiResponse(
                DossierOutputSerializer,
                description="The content has not changed since this version was "
                "issued: it is the answer (send a reissue_reason for a new one)",
            ),
            202: JobOutputSerializer,
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(self.DossierIssueInputSerializer, request.data)
        issued = dossiers.dossier_issue_request(
            principal=self.principal,
            decision=self.get_object(),
            reissue_reason=data.get("reissue_reason", ""),
        )
        if issued.existing is not None:
            location = reverse("api:dossier-detail", kwargs={"pk": issued.existing.pk})
            return Response(
                DossierOutputSerializer(issued.existing).data,
                status=status.HTTP_200_OK,
                headers={"Location": request.build_absolute_uri(location)},
            )
        assert issued.job is not None  # noqa: S101 (one of the two is set)
        return _job_accepted(request, issued.job)


class DossierListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "dossier.read"}
    serializer_class = DossierOutputSerializer
    filterset_class = DossierFilter
    model = Dossier
    selector = dossier_list


class DossierDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "dossier.read"}
    serializer_class = DossierOutputSerializer
    model = Dossier
    selector = dossier_list


class DossierPdfApi(PrincipalMixin, generics.GenericAPIView):
    """The stored bytes, exactly; each download is an audit event."""

    actions = {"GET": "dossier.download"}
    model = Dossier
    selector = dossier_list
    serializer_class = DossierOutputSerializer
    content_negotiation_class = DownloadNegotiation

    @extend_schema(responses=PDF_RESPONSES)
    def get(self, request: Request, pk: int) -> HttpResponse:
        dossier = self.get_object()
        blind_pending_refuse(principal=self.principal, decision=dossier.decision)
        data = dossiers.dossier_download(principal=self.principal, dossier=dossier)
        response = HttpResponse(
            data, content_type=download_media_type(request, "application/pdf")
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{dossier.public_id}-v{dossier.version}.pdf"'
        )
        response["X-Content-SHA256"] = dossier.sha256
        return response


_SHA256 = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
VERIFY_REQUEST = {
    "application/json": {
        "type": "object",
        "properties": {"sha256": _SHA256},
        "required": ["sha256"],
        "additionalProperties": False,
    },
    # exactly one of sha256 / pdf
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "sha256": _SHA256,
            "pdf": {"type": "string", "format": "binary"},
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    },
}


class DossierVerifyApi(PrincipalMixin, generics.GenericAPIView):
    """Which decision, version and issue time a PDF (or sha256) belongs to, if ours."""

    actions = {"POST": "dossier.verify"}
    parser_classes = [StrictJSONParser, MultiPartParser]
    model = Dossier
    selector = dossier_list
    serializer_class = DossierVerifyInputSerializer

    @extend_schema(request=VERIFY_REQUEST, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _validated(DossierVerifyInputSerializer, request.data)
        upload = data.get("pdf")
        dossier = dossiers.dossier_verify(
            principal=self.principal,
            sha256=data.get("sha256"),
            pdf=upload,  # hashed in chunks, never read whole
        )
        if dossier is None:
            return Response(
                {"verified": False, "detail": "Not issued by this service."}
            )
        return Response(
            {
                "verified": True,
                "dossier": dossier.pk,
                "public_id": dossier.public_id,
                "decision": dossier.decision_id,
                "version": dossier.version,
                "issued_at": dossier.issued_at,
                "sha256": dossier.sha256,
                "superseded": dossier_superseded(dossier),
            }
        )


class DecisionReviewsApi(PrincipalMixin, generics.GenericAPIView):
    """The decision's human reviews, oldest first (superseded ones included); its
    final outcome is on the decision itself."""

    actions = {"GET": "review.read"}
    model = Decision
    selector = decision_list
    serializer_class = ReviewOutputSerializer
    pagination_class = None

    @extend_schema(responses={200: ReviewOutputSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        decision = self.get_object()
        rows = review_list(principal=self.principal, decision=decision)
        return Response(ReviewOutputSerializer(rows, many=True).data)


class PublicDossierVerifyApi(generics.GenericAPIView):
    """For anyone, no key: is this PDF (or sha256) a dossier or a notice issued here
    (a notice's HTML hash counts too)? Only whether it is genuine, the issuing organisation, dossier id, version, issue time and
    whether a newer version supersedes it; never content. Rate-limited per IP."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicVerifyRateThrottle]
    parser_classes = [StrictJSONParser, MultiPartParser]
    serializer_class = DossierVerifyInputSerializer

    class PublicVerificationSerializer(serializers.Serializer):
        genuine = serializers.BooleanField()
        kind = serializers.ChoiceField(
            choices=["dossier", "notice"],
            allow_null=True,
            help_text="What the file is: a dossier, or a notice to the affected person.",
        )
        language = serializers.CharField(
            allow_null=True, help_text="Notices: the language it is written in."
        )
        organization = serializers.CharField(allow_null=True)
        dossier = serializers.CharField(
            allow_null=True,
            help_text="The document's public id printed on it (DOS-... or NOT-...).",
        )
        version = serializers.IntegerField(allow_null=True)
        issued_at = serializers.DateTimeField(allow_null=True)
        superseded = serializers.BooleanField(allow_null=True)

    @extend_schema(
        request=VERIFY_REQUEST,
        responses={
            200: PublicVerificationSerializer,
            400: ERROR_RESPONSES[400],
            429: OpenApiResponse(
                description="Too many verifications from your address"
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(DossierVerifyInputSerializer, request.data)
        upload = data.get("pdf")
        answer = dossiers.dossier_verify_public(
            sha256=data.get("sha256"),
            pdf=upload,  # hashed in chunks, never read whole
        )
        return Response(self.PublicVerificationSerializer(answer.as_dict()).data)

"""Thin API views of notices: issue one for a decision (a job), list, read, download
the PDF or HTML exactly as issued."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from compliance import notices
from compliance.api.downloads import (
    HTML_RESPONSES,
    PDF_RESPONSES,
    DownloadNegotiation,
    download_media_type,
)
from compliance.api.fields import RejectUnknownFieldsMixin
from compliance.api.filters import NoticeFilter
from compliance.api.parsers import StrictJSONParser
from compliance.api.serializers import JobOutputSerializer
from compliance.api.views import (
    ERROR_RESPONSES,
    PrincipalMixin,
    _job_accepted,
    _validated,
)
from compliance.decisions.selectors import decision_list
from compliance.models import Decision, Notice
from compliance.notices.render import notice_style_csp
from compliance.notices.selectors import notice_list
from compliance.reviews.selectors import blind_pending_refuse


class NoticeOutputSerializer(serializers.ModelSerializer):
    pdf = serializers.SerializerMethodField(help_text="Download URL of the PDF.")
    html = serializers.SerializerMethodField(help_text="Download URL of the HTML.")
    check = serializers.SerializerMethodField(
        help_text="The faithfulness check it passed: {passed, checks}."
    )

    class Meta:
        model = Notice
        fields = [
            "id",
            "public_id",
            "decision",
            "language",
            "version",
            "sha256",
            "html_sha256",
            "size_bytes",
            "pages",
            "issued_by",
            "issued_at",
            "warnings",
            "check",
            "pdf",
            "html",
        ]
        read_only_fields = fields

    def _url(self, name: str, obj: Notice) -> str:
        path = reverse(name, kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_pdf(self, obj: Notice) -> str:
        return self._url("api:notice-pdf", obj)

    def get_html(self, obj: Notice) -> str:
        return self._url("api:notice-html", obj)

    def get_check(self, obj: Notice) -> dict[str, Any]:
        result = obj.check_result or {}
        return {
            "passed": bool(result.get("passed")),
            "checks": result.get("checks", []),
        }


# settings.NOTICE_LANGUAGES, read when the module loads (the OpenAPI enum)
NOTICE_LANGUAGE_CHOICES = tuple(notices.notice_languages())
LANG_PARAMETER = OpenApiParameter(
    "lang",
    str,
    description="The notice's language (en, de); else the body's lang, else "
    "Accept-Language, else English.",
    required=False,
)


class DecisionNoticesApi(PrincipalMixin, generics.GenericAPIView):
    """POST: issue a notice to the person the decision is about, in their language
    (202 + Location of the job; 200 with the notice when the unchanged one exists)."""

    actions = {"POST": "notice.request"}
    parser_classes = [StrictJSONParser]
    model = Decision
    selector = decision_list
    serializer_class = JobOutputSerializer

    class NoticeIssueInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
        lang = serializers.ChoiceField(
            choices=list(NOTICE_LANGUAGE_CHOICES),
            required=False,
            error_messages={
                "invalid_choice": "Must be one of: "
                + ", ".join(NOTICE_LANGUAGE_CHOICES)
                + "."
            },
            help_text="The notice's language; else ?lang=, Accept-Language, English.",
        )

    @extend_schema(
        request=NoticeIssueInputSerializer,
        parameters=[LANG_PARAMETER],
        responses={
            200: OpenApiResponse(
                NoticeOutputSerializer,
                description="Nothing changed since this notice was issued: it is "
                "the answer",
            ),
            202: JobOutputSerializer,
            **ERROR_RESPONSES,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _validated(self.NoticeIssueInputSerializer, request.data)
        decision = self.get_object()
        language = notices.notice_language(
            request.query_params.get("lang") or data.get("lang"),
            request.headers.get("Accept-Language", ""),
        )
        issued = notices.notice_request(
            principal=self.principal, decision=decision, language=language
        )
        if issued.existing is not None:
            location = reverse("api:notice-detail", kwargs={"pk": issued.existing.pk})
            return Response(
                NoticeOutputSerializer(
                    issued.existing, context={"request": request}
                ).data,
                status=status.HTTP_200_OK,
                headers={"Location": request.build_absolute_uri(location)},
            )
        assert issued.job is not None  # noqa: S101 (one of the two is set)
        return _job_accepted(request, issued.job)


class NoticeListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "notice.read"}
    serializer_class = NoticeOutputSerializer
    filterset_class = NoticeFilter
    model = Notice
    selector = notice_list


class NoticeDetailApi(PrincipalMixin, generics.RetrieveAPIView):
    actions = {"GET": "notice.read"}
    serializer_class = NoticeOutputSerializer
    model = Notice
    selector = notice_list


class _NoticeDownload(PrincipalMixin, generics.GenericAPIView):
    actions = {"GET": "notice.download"}
    model = Notice
    selector = notice_list
    serializer_class = NoticeOutputSerializer
    content_negotiation_class = DownloadNegotiation
    form = "pdf"

    def get(self, request: Request, pk: int) -> HttpResponse:
        notice = notice_list(principal=self.principal).defer(None).filter(pk=pk).first()
        if notice is None:
            notice = self.get_object()  # the 404 every other read gives
        blind_pending_refuse(principal=self.principal, decision=notice.decision)
        data = notices.notice_download(
            principal=self.principal, notice=notice, form=self.form
        )
        if self.form == "pdf":
            response = HttpResponse(
                data, content_type=download_media_type(request, "application/pdf")
            )
            response["X-Content-SHA256"] = notice.sha256
        else:
            response = HttpResponse(
                data,
                content_type=download_media_type(request, "text/html; charset=utf-8"),
            )
            response["X-Content-SHA256"] = notice.html_sha256
            response["Content-Security-Policy"] = notice_style_csp()
        response["Content-Disposition"] = (
            f'attachment; filename="{notice.public_id}-v{notice.version}-'
            f'{notice.language}.{self.form}"'
        )
        response["Content-Language"] = notice.language
        return response


class NoticePdfApi(_NoticeDownload):
    """The stored PDF, exactly; each download is an audit event."""

    form = "pdf"

    @extend_schema(responses=PDF_RESPONSES)
    def get(self, request: Request, pk: int) -> HttpResponse:
        return super().get(request, pk)


class NoticeHtmlApi(_NoticeDownload):
    """The stored HTML, exactly (self-contained); each download is an audit event."""

    form = "html"

    @extend_schema(responses=HTML_RESPONSES)
    def get(self, request: Request, pk: int) -> HttpResponse:
        return super().get(request, pk)

"""Thin API views of lists a client walks in full: jobs and the audit trail, with an
opaque cursor that does not drift while rows are written."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from compliance.api.pagination import StableCursorPagination
from compliance.api.serializers import JobOutputSerializer
from compliance.api.views import PrincipalMixin
from compliance.audit.selectors import audit_event_list
from compliance.jobs.selectors import job_list
from compliance.models import AuditEvent, Job

_INTEGER = re.compile(r"-?[0-9]{1,18}")


class AuditEventOutputSerializer(serializers.ModelSerializer):
    payload = serializers.JSONField(help_text="What the event records (no secrets).")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "chain",
            "sequence",
            "at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "payload",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


def _choice(request: Request, name: str, allowed: Any) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1 or values[0] not in allowed:
        raise ValidationError({name: [f"Use one of: {', '.join(allowed)}."]})
    return values[0]


def _text(request: Request, name: str, limit: int = 200) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1 or len(values[0]) > limit or "\x00" in values[0]:
        raise ValidationError(
            {name: [f"Give one value of at most {limit} characters."]}
        )
    return values[0]


class JobListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "job.read"}
    serializer_class = JobOutputSerializer
    pagination_class = StableCursorPagination
    model = Job
    selector = job_list

    def get_queryset(self) -> QuerySet[Any]:
        jobs = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return jobs
        request = self.request
        kind = _choice(request, "kind", Job.Kind.values)
        state = _choice(request, "status", Job.Status.values)
        decision = _text(request, "decision", 20)
        if kind:
            jobs = jobs.filter(kind=kind)
        if state:
            jobs = jobs.filter(status=state)
        if decision is not None:
            if not _INTEGER.fullmatch(decision):
                raise ValidationError({"decision": ["Use a decision id (an integer)."]})
            jobs = jobs.filter(decision_id=int(decision))
        return jobs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Job.Kind.values),
            OpenApiParameter("status", str, enum=Job.Status.values),
            OpenApiParameter("decision", int, description="Jobs about this decision."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AuditEventListApi(PrincipalMixin, generics.ListAPIView):
    actions = {"GET": "audit.read"}
    serializer_class = AuditEventOutputSerializer
    pagination_class = StableCursorPagination
    model = AuditEvent
    selector = audit_event_list

    def get_queryset(self) -> QuerySet[Any]:
        events = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return events
        for name in ("action", "object_type", "object_id"):
            value = _text(self.request, name)
            if value is not None:
                events = events.filter(**{name: value})
        return events

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str),
            OpenApiParameter("object_type", str),
            OpenApiParameter("object_id", str),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

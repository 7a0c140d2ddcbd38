"""Refuse oversized request bodies before anything reads them (413, JSON body)."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

MODEL_UPLOAD_PATHS = ("/api/v1/model-versions/", "/api/v1/dossiers/verify")


def _json_error(status: int, code: str, detail: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"code": code, "detail": detail, "errors": {}}),
        status=status,
        content_type="application/json",
    )


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return _json_error(
                400, "bad_request", "The Content-Length header is not a number."
            )
        if length < 0:
            return _json_error(
                400, "bad_request", "The Content-Length header is negative."
            )
        limit = settings.REQUEST_BODY_MAX_BYTES
        if request.method == "POST" and request.path in MODEL_UPLOAD_PATHS:
            limit = settings.MODEL_UPLOAD_MAX_BYTES
        if length > limit:
            return _json_error(
                413,
                "request_too_large",
                f"The request body is {length} bytes; the limit here is {limit} bytes.",
            )
        return self.get_response(request)

"""Refuse oversized request bodies before anything reads them (413, JSON body)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from compliance.platform.dependencies import (
    DEPENDENCY_ERRORS,
    DEPENDENCY_RETRY_AFTER_SECONDS,
)

request_logger = logging.getLogger("django.request")

MODEL_UPLOAD_PATHS = ("/api/v1/model-versions/",)
# POSTs that carry a dossier to verify: bounded by DOSSIER_VERIFY_MAX_BYTES (plus room
# for the multipart envelope, so a file just under the limit passes)
DOSSIER_VERIFY_PATHS = (
    "/api/v1/dossiers/verify/",
    "/api/v1/public/verify/",
    "/dossiers/verify",
    "/verify/",
)
MULTIPART_ENVELOPE_BYTES = 64 * 1024


def size_text(limit: int) -> str:
    """A byte limit as people read it: "5 MiB (5242880 bytes)"."""
    mib = limit / (1024 * 1024)
    shown = f"{mib:g} MiB" if mib >= 1 else f"{limit / 1024:g} KiB"
    return f"{shown} ({limit} bytes)"


def dossier_verify_limit_message() -> str:
    return (
        "The file is larger than any dossier we issue; the largest file that can be "
        f"verified is {size_text(settings.DOSSIER_VERIFY_MAX_BYTES)}."
    )


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
        if (
            request.method == "POST"
            and request.path in DOSSIER_VERIFY_PATHS
            and request.content_type == "multipart/form-data"
        ):  # a file upload; a sha256 (JSON or form) keeps the ordinary limit
            if length > settings.DOSSIER_VERIFY_MAX_BYTES + MULTIPART_ENVELOPE_BYTES:
                if request.path.startswith("/api/"):
                    return _json_error(
                        413, "request_too_large", dossier_verify_limit_message()
                    )
                return HttpResponse(
                    "<!doctype html><title>File too large</title><h1>File too large"
                    f"</h1><p>{dossier_verify_limit_message()}</p>"
                    f'<p><a href="{request.path}">Back</a></p>',
                    status=413,
                    content_type="text/html; charset=utf-8",
                )
            return self.get_response(request)
        if length > limit:
            return _json_error(
                413,
                "request_too_large",
                f"The request body is {length} bytes; the limit here is {limit} bytes.",
            )
        return self.get_response(request)


# pages and API answers that carry an organisation's data (ASVS 8.2.1): a shared or
# browser cache must not keep them; the schema, docs and static files may be cached
PRIVATE_PREFIXES = ("/api/v1/", "/cases/", "/dossiers/", "/audit/", "/admin/")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response under ``PRIVATE_PREFIXES`` that
    does not set its own caching policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(PRIVATE_PREFIXES) and not response.has_header(
            "Cache-Control"
        ):
            response["Cache-Control"] = "no-store"
        return response


class ApiNotFoundMiddleware:
    """Under /api/, a path no route takes is a JSON 404 at once (never Django's HTML
    page in DEBUG, never the trailing-slash redirect that turns a POST into a GET or,
    in DEBUG, a 500). When the other slash form is a route, the answer names it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/api/"):
            try:
                resolve(path)
            except Resolver404:
                other = path[:-1] if path.endswith("/") else path + "/"
                try:
                    resolve(other)
                except Resolver404:
                    return _json_error(404, "not_found", "No such endpoint.")
                return _json_error(
                    404,
                    "not_found",
                    f"No such endpoint; the API's path is {other} "
                    "(mind the trailing slash).",
                )
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        """In DEBUG too, an unexpected error under /api/ is the JSON envelope, not
        Django's technical page (outside DEBUG, handler500 answers the same)."""
        if not (settings.DEBUG and request.path_info.startswith("/api/")):
            return None
        if isinstance(exception, DEPENDENCY_ERRORS):
            response = _json_error(
                503,
                "unavailable",
                "A service this request needs is unavailable; try again shortly.",
            )
            response["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
            return response
        request_logger.error(
            "Internal Server Error: %s", request.path, exc_info=exception
        )
        return _json_error(500, "server_error", "Internal error; it has been logged.")

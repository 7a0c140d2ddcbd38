"""``Idempotency-Key`` on every POST of the API: the first response to a caller's key
is kept, and the same key with the same request gets it again (marked
``Idempotent-Replayed: true``) without running anything twice; the same key with
another request (method, path, query, content type or body) is a 409.

Keyed per caller: a hash of the ``Authorization`` header (an API key), the signed-in
person, or for anonymous callers the client address; never a secret in clear.
Responses that say nothing about the request itself (401, 403, 429, 5xx) are not kept,
so a retry runs again. A key is remembered for ``IDEMPOTENCY_KEY_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from compliance.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY = re.compile(r"\A[\x21-\x7e]{1,255}\Z")  # printable ASCII, no spaces
NOT_KEPT = frozenset({401, 403, 429})
KEPT_HEADERS = ("Content-Type", "Location", "X-Content-SHA256")


def _json_error(status: int, code: str, detail: str, field: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"code": code, "detail": detail, "errors": {field: [detail]}}),
        status=status,
        content_type="application/json",
    )


def _caller(request: HttpRequest) -> str:
    authorization = request.headers.get("Authorization")
    user = getattr(request, "user", None)
    if authorization:
        who = f"authorization:{authorization}"
    elif user is not None and user.is_authenticated:
        who = f"user:{user.pk}"
    else:
        who = f"address:{request.META.get('REMOTE_ADDR', '')}"
    return hashlib.sha256(who.encode()).hexdigest()


def _body(request: HttpRequest) -> bytes:
    """The raw body, left readable for the view. ``request.body`` refuses bodies over
    DATA_UPLOAD_MAX_MEMORY_SIZE, but the body-limit middleware has already bounded
    this one (model uploads may be larger): read it once as ``request.body`` would."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or length <= limit:
        return request.body
    data = request.read()
    request._body = data  # noqa: SLF001 (as Django does)
    request._stream = io.BytesIO(data)  # noqa: SLF001
    return data


def _request_sha256(request: HttpRequest, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (
        request.method or "",
        request.path,
        request.META.get("QUERY_STRING", ""),
        request.content_type or "",
    ):
        digest.update(part.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(caller: str, key: str, request_sha256: str) -> IdempotencyKey | None:
    """Register the key for this request; None when it was registered before. The
    caller's expired keys go first, so the register holds about one TTL of keys."""
    expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    IdempotencyKey.objects.filter(caller=caller, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                caller=caller, key=key, request_sha256=request_sha256
            )
    except IntegrityError:
        return None


class IdempotencyKeyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if (
            key is None
            or request.method != "POST"
            or not request.path.startswith("/api/")
        ):
            return self.get_response(request)
        if not KEY.match(key):
            return _json_error(
                400,
                "invalid_idempotency_key",
                "An Idempotency-Key is 1 to 255 printable ASCII characters.",
                HEADER,
            )
        caller = _caller(request)
        request_sha256 = _request_sha256(request, _body(request))
        record = _claim(caller, key, request_sha256)
        if record is None:
            return self._answer_again(caller, key, request_sha256)
        try:
            response = self.get_response(request)
        except BaseException:
            record.delete()
            raise
        self._keep(record, response)
        return response

    def _answer_again(self, caller: str, key: str, request_sha256: str) -> HttpResponse:
        earlier = IdempotencyKey.objects.filter(caller=caller, key=key).first()
        if earlier is None:  # its first request failed meanwhile: let the client retry
            return _json_error(
                409,
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is being answered; retry shortly.",
                HEADER,
            )
        if earlier.request_sha256 != request_sha256:
            return _json_error(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
                HEADER,
            )
        if earlier.status_code is None:
            return _json_error(
                409,
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is being answered; retry shortly.",
                HEADER,
            )
        return _replay(earlier)

    @staticmethod
    def _keep(record: IdempotencyKey, response: HttpResponse) -> None:
        if (
            response.status_code >= 500
            or response.status_code in NOT_KEPT
            or getattr(response, "streaming", False)
        ):
            record.delete()  # nothing learned about this request: a retry runs again
            return
        record.status_code = response.status_code
        record.response_body = bytes(response.content)
        record.response_headers = {
            name: response[name] for name in KEPT_HEADERS if response.has_header(name)
        }
        record.save(update_fields=["status_code", "response_body", "response_headers"])


def document_idempotency_key(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every POST takes the header and may
    answer 409 for a reused key."""
    for path_item in result.get("paths", {}).values():
        operation = path_item.get("post")
        if operation is None:
            continue
        operation.setdefault("parameters", []).append(
            {
                "in": "header",
                "name": HEADER,
                "required": False,
                "description": "Same key and same request: the first response again "
                "(Idempotent-Replayed: true). Same key, other request: 409.",
                "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
            }
        )
        operation.setdefault("responses", {}).setdefault(
            "409",
            {
                "description": "The Idempotency-Key was used for another request, "
                "or its first request is still being answered"
            },
        )
    return result

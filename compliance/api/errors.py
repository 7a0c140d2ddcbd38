"""Every API error is JSON: {"code", "detail", "errors": {"<field path>": [messages]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from compliance.errors import DomainError
from compliance.platform.dependencies import (
    DEPENDENCY_ERRORS,
    DEPENDENCY_RETRY_AFTER_SECONDS,
)

logger = logging.getLogger(__name__)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"a.b[0].c": ["message", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            if key == "non_field_errors" and prefix:
                path = prefix
            elif key == "non_field_errors":
                path = "non_field_errors"
            else:
                path = f"{prefix}.{key}" if prefix else key
            for p, msgs in flatten_errors(value, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(
                str(item) for item in detail
            )
        else:
            for i, item in enumerate(detail):
                for p, msgs in flatten_errors(item, f"{prefix}[{i}]").items():
                    out.setdefault(p, []).extend(msgs)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def error_response(
    status_code: int,
    code: str,
    detail: str,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    return Response(
        {"code": code, "detail": detail, "errors": errors or {}},
        status=status_code,
        headers=headers,
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return error_response(exc.status_code, exc.code, exc.detail, exc.errors)
    if isinstance(exc, DEPENDENCY_ERRORS):
        set_rollback()
        logger.warning(
            "A dependency is unavailable (%s); answered 503.",
            type(exc).__name__,
            exc_info=exc,
        )
        return error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "unavailable",
            "A service this request needs is unavailable; try again shortly.",
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "validation_error",
            "detail": "The request is invalid; see errors.",
            "errors": flatten_errors(exc.detail),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {
            "code": code if isinstance(code, str) else "error",
            "detail": str(detail),
            "errors": {},
        }
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = response.get("WWW-Authenticate", "Api-Key")
    response.data = body
    return response

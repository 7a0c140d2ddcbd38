"""Server-rendered pages. The officer and auditor UI grows here."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from compliance.platform.dependencies import (
    DEPENDENCY_ERRORS,
    DEPENDENCY_RETRY_AFTER_SECONDS,
)
from compliance.principals import principal_for_request


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """People with a role land on the case queue; others see what the service is."""
    if principal_for_request(request) is not None:
        return redirect("web:case-list")
    return render(request, "home.html", {"principal": None})


def forbidden(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _wants_json(request):
        return HttpResponse(
            json.dumps(
                {"code": "permission_denied", "detail": "Forbidden.", "errors": {}}
            ),
            status=403,
            content_type="application/json",
        )
    return render(
        request, "errors/403.html", {"reason": str(exception or "")}, status=403
    )


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up (liveness)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers (503 when not). The broker is reported but does
    not decide: without it the API still answers (wake-ups wait for the sweeper,
    throttles fail open), and failing readiness on it would take every replica out of
    the load balancer at once."""
    database = _database_ready()
    ready = database == "ok"
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "database": database,
            "broker": _broker_ready(),
        },
        status=200 if ready else 503,
    )


def _database_ready() -> str:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "not ready"
        return f"error: {type(exc).__name__}"


def _broker_ready() -> str:
    from pathlib import Path

    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            client.ping()
            return "ok"
        except redis.RedisError as exc:
            return f"error: {type(exc).__name__}"
        finally:
            client.close()
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    folder.mkdir(parents=True, exist_ok=True)
    return "ok" if folder.is_dir() else "error: broker folder missing"


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _wants_json(request):
        return HttpResponse(
            json.dumps({"code": "not_found", "detail": "Not found.", "errors": {}}),
            status=404,
            content_type="application/json",
        )
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # called while the exception is being handled: a dependency that is away (the
    # database during a restart, Redis) is a 503 to retry, not a 500
    if isinstance(sys.exc_info()[1], DEPENDENCY_ERRORS):
        return _unavailable(request)
    if _wants_json(request):
        return HttpResponse(
            json.dumps(
                {
                    "code": "server_error",
                    "detail": "Internal error; it has been logged.",
                    "errors": {},
                }
            ),
            status=500,
            content_type="application/json",
        )
    return render(request, "errors/500.html", status=500)


def _unavailable(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        response = HttpResponse(
            json.dumps(
                {
                    "code": "unavailable",
                    "detail": "A service this request needs is unavailable; "
                    "try again shortly.",
                    "errors": {},
                }
            ),
            status=503,
            content_type="application/json",
        )
    else:
        # a page that needs neither the database nor the session
        response = render(request, "errors/503.html", status=503)
    response["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
    return response

"""Server-rendered pages. The officer and auditor UI grows here."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from compliance.principals import principal_for_request


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


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


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

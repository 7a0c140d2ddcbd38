"""Access rules of the web UI: who may see a page, and which organisation's rows."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from compliance.principals import (
    ADMIN,
    AUDITOR,
    OFFICER,
    Principal,
    principal_for_request,
)

PEOPLE = frozenset({OFFICER, AUDITOR, ADMIN})
REVIEWERS = frozenset({OFFICER, ADMIN})


def member_required(
    roles: frozenset[str] = PEOPLE,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Signed-in person with one of ``roles`` in an organisation; else login or 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            principal = principal_for_request(request)
            if principal is None or principal.role not in roles:
                raise PermissionDenied("Your role may not use this page.")
            request.principal = principal  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def can_review(principal: Principal) -> bool:
    return principal.role in REVIEWERS

"""Access to the web UI's pages: a signed-in person whose role the policy lets do the
page's action; rows come from selectors scoped to their organisation."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from compliance import policy
from compliance.principals import Principal, principal_for_request


def member_required(
    action: str = "case.read",
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Signed-in person the policy allows ``action``; else the login page or 403."""

    def decorator(
        view: Callable[..., HttpResponseBase],
    ) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            principal = principal_for_request(request)
            if not policy.can(principal, action):
                raise PermissionDenied("Your role may not use this page.")
            request.principal = principal  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def can_review(principal: Principal) -> bool:
    return policy.can(principal, "review.record")

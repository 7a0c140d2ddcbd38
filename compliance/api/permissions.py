"""Small permission classes (DRF style) that ask ``compliance.policy``. Object scoping
happens in selectors; role rules live only in the policy."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from compliance import policy
from compliance.principals import principal_for_request


class IsOrganizationMember(BasePermission):
    """The caller is a client system or a person with a role in an organisation."""

    message = "You have no role in any organisation."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return principal_for_request(request) is not None


class PolicyAllowsMethod(IsOrganizationMember):
    """Allow a method when the policy lets the caller do the view's action for it
    (``view.actions``: method -> policy action). HEAD and OPTIONS follow GET; a
    method missing from the map is refused."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 Method Not Allowed
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        action = getattr(view, "actions", {}).get(method)
        principal = principal_for_request(request)
        if principal is None or action is None or not policy.can(principal, action):
            role = principal.role if principal is not None else "none"
            self.message = f"Your role ({role}) may not do this."
            return False
        return True

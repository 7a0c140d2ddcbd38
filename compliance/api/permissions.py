"""Small permission classes (DRF style). Object scoping happens in selectors."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from compliance.principals import ADMIN, AUDITOR, CLIENT, OFFICER, principal_for_request

EVERY_ROLE = frozenset({CLIENT, OFFICER, AUDITOR, ADMIN})


class IsOrganizationMember(BasePermission):
    """The caller is a client system or a person with a role in an organisation."""

    message = "You have no role in any organisation."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        return principal_for_request(request) is not None


class HasRoleForMethod(IsOrganizationMember):
    """Allow a method only to the roles listed in ``view.roles_by_method``.

    HEAD and OPTIONS follow GET. A method missing from the map is refused.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 Method Not Allowed
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        allowed = getattr(view, "roles_by_method", {}).get(method, frozenset())
        role = principal_for_request(request).role
        if role not in allowed:
            self.message = f"Your role ({role}) may not do this."
            return False
        return True

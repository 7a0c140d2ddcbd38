"""Who is asking: a person with a membership, or a client system with an API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compliance.models import ClientSystem, Membership, Organization

CLIENT = "client"
OFFICER = Membership.Role.OFFICER.value
AUDITOR = Membership.Role.AUDITOR.value
ADMIN = Membership.Role.ADMIN.value


@dataclass(frozen=True)
class Principal:
    organization: Organization
    role: str
    user: Any = None
    client_system: ClientSystem | None = None

    @property
    def is_client(self) -> bool:
        return self.role == CLIENT

    @property
    def actor(self) -> str:
        from compliance.audit import actor_label

        return actor_label(user=self.user, client_system=self.client_system)


class ClientSystemUser:
    """The request.user of an API-key request: authenticated, never staff."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, client_system: ClientSystem):
        self.client_system = client_system
        self.pk = None
        self.id = None

    def get_username(self) -> str:
        return f"client_system:{self.client_system.pk}"

    def __str__(self) -> str:
        return self.get_username()


def principal_for_request(request: Any) -> Principal | None:
    """Resolve the request's principal, or None when it has no organisation role."""
    cached = getattr(request, "_inspectoscope_principal", False)
    if cached is not False:
        return cached
    principal: Principal | None = None
    user = getattr(request, "user", None)
    if isinstance(user, ClientSystemUser):
        cs = user.client_system
        principal = Principal(
            organization=cs.organization, role=CLIENT, client_system=cs
        )
    elif user is not None and user.is_authenticated:
        membership = (
            Membership.objects.select_related("organization").filter(user=user).first()
        )
        if membership is not None and user.is_active:
            principal = Principal(
                organization=membership.organization, role=membership.role, user=user
            )
    request._inspectoscope_principal = principal
    inner = getattr(request, "_request", None)  # DRF wraps Django's request
    if inner is not None:
        inner._inspectoscope_principal = principal  # seen by the access-log middleware
    return principal

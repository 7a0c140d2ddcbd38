"""Who is asking: a person with a membership, a client system with an API key, or a
platform operator (Django admin superuser, a management command, a worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from compliance.models import ClientSystem, Membership, Organization

CLIENT = "client"
OFFICER = Membership.Role.OFFICER.value
AUDITOR = Membership.Role.AUDITOR.value
ADMIN = Membership.Role.ADMIN.value
# platform roles: no organisation of their own
PLATFORM_ADMIN = "platform_admin"
SYSTEM = "system"
SYSTEM_ACTOR = "system"


def actor_label(*, user: Any = None, client_system: Any = None) -> str:
    """How the audit trail names who acted."""
    if client_system is not None:
        return f"client_system:{client_system.pk}:{client_system.name}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}:{user.get_username()}"
    return SYSTEM_ACTOR


@dataclass(frozen=True)
class Principal:
    """A caller acting inside one organisation."""

    organization: Organization
    role: str
    user: Any = None
    client_system: ClientSystem | None = None

    @property
    def is_client(self) -> bool:
        return self.role == CLIENT

    @property
    def actor(self) -> str:
        return actor_label(user=self.user, client_system=self.client_system)


@dataclass(frozen=True)
class Operator:
    """A platform operator: a superuser in Django admin (``user``) or the system itself
    (management commands, the demo seed; ``user`` is None)."""

    role: str = SYSTEM
    user: Any = None
    label: str = SYSTEM_ACTOR

    @classmethod
    def for_user(cls, user: Any) -> Operator:
        role = PLATFORM_ADMIN if getattr(user, "is_superuser", False) else "staff"
        return cls(role=role, user=user, label=actor_label(user=user))

    @property
    def actor(self) -> str:
        return self.label


SYSTEM_OPERATOR = Operator()


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
        return cast(Principal | None, cached)
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


def principal_for_user(user: Any) -> Principal | None:
    """A signed-in person's principal (the same rules as for a request)."""
    membership = (
        Membership.objects.select_related("organization").filter(user=user).first()
    )
    if membership is None or not user.is_active:
        return None
    return Principal(
        organization=membership.organization, role=membership.role, user=user
    )

"""Organisations, their members, client systems and API keys (the platform operator's
work, from Django admin and management commands). Each write is audited in its
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.errors import Conflict, ValidationFailed
from compliance.models import ApiKey, ClientSystem, Membership, Organization
from compliance.policy import require
from compliance.principals import SYSTEM_OPERATOR, Operator, actor_label


@transaction.atomic
def organization_create(
    *, name: str, slug: str, jurisdiction: str, operator: Operator = SYSTEM_OPERATOR
) -> Organization:
    require(operator, "organization.create")
    org = Organization.objects.create(name=name, slug=slug, jurisdiction=jurisdiction)
    audit_event_append(
        actor=operator.actor,
        organization=org,
        action="organization.created",
        object_type="organization",
        object_id=org.pk,
        payload={"name": name, "slug": slug, "jurisdiction": jurisdiction},
    )
    return org


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    username: str,
    password: str,
    role: str,
    email: str = "",
    operator: Operator = SYSTEM_OPERATOR,
) -> Membership:
    require(operator, "membership.create")
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email
    )
    membership = Membership.objects.create(
        user=user, organization=organization, role=role
    )
    audit_event_append(
        actor=operator.actor,
        organization=organization,
        action="membership.created",
        object_type="membership",
        object_id=membership.pk,
        payload={"username": username, "role": role},
    )
    return membership


@transaction.atomic
def client_system_create(
    *, organization: Organization, name: str, operator: Operator = SYSTEM_OPERATOR
) -> ClientSystem:
    require(operator, "client_system.create")
    if ClientSystem.objects.filter(organization=organization, name=name).exists():
        raise Conflict(
            f"A client system named '{name}' already exists in {organization.slug}."
        )
    cs = ClientSystem.objects.create(organization=organization, name=name)
    audit_event_append(
        actor=operator.actor,
        organization=organization,
        action="client_system.created",
        object_type="client_system",
        object_id=cs.pk,
        payload={"name": name},
    )
    return cs


@transaction.atomic
def api_key_create(
    *,
    client_system: ClientSystem,
    name: str,
    expires_at: datetime | None = None,
    operator: Operator = SYSTEM_OPERATOR,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored."""
    require(operator, "api_key.create")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.",
            {"expires_at": ["Must be in the future."]},
        )
    created, key = ApiKey.objects.create_key(
        client_system=client_system, name=name[:50], expiry_date=expires_at
    )
    api_key = cast(ApiKey, created)  # the manager is the abstract model's
    audit_event_append(
        actor=operator.actor,
        organization=client_system.organization,
        action="api_key.created",
        object_type="api_key",
        object_id=api_key.prefix,
        payload={
            "client_system": client_system.pk,
            "name": api_key.name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, operator: Operator = SYSTEM_OPERATOR) -> ApiKey:
    require(operator, "api_key.revoke")
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked:
        return api_key
    api_key.revoked = True
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked", "revoked_at"])
    audit_event_append(
        actor=operator.actor,
        organization=api_key.client_system.organization,
        action="api_key.revoked",
        object_type="api_key",
        object_id=api_key.prefix,
        payload={"client_system": api_key.client_system_id},
    )
    return api_key


@transaction.atomic
def login_record(*, user: Any) -> None:
    membership = (
        Membership.objects.select_related("organization").filter(user=user).first()
    )
    audit_event_append(
        actor=actor_label(user=user),
        organization=membership.organization if membership else None,
        action="user.login",
        object_type="user",
        object_id=user.pk,
        payload={},
    )

"""Organisations, their members, client systems and API keys (the platform operator's
work, from Django admin and management commands). Each write is audited in its
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.audit import audit_event_append
from compliance.errors import Conflict, ValidationFailed
from compliance.models import ApiKey, ClientSystem, Membership, Organization
from compliance.policy import require
from compliance.principals import SYSTEM_ACTOR, SYSTEM_OPERATOR, Operator, actor_label


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
    return membership_grant(
        user=user, organization=organization, role=role, operator=operator
    )


@transaction.atomic
def membership_grant(
    *,
    user: Any,
    organization: Organization,
    role: str,
    operator: Operator = SYSTEM_OPERATOR,
) -> Membership:
    """Give an existing account a role in an organisation (one organisation each)."""
    require(operator, "membership.create")
    if role not in Membership.Role.values:
        raise ValidationFailed(
            "Unknown role.", {"role": [f"One of {', '.join(Membership.Role)}."]}
        )
    if Membership.objects.filter(user=user).exists():
        raise Conflict(
            f"{user.get_username()} already belongs to an organisation.",
            {"user": ["Already a member of an organisation."]},
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
        payload={"username": user.get_username(), "role": role},
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
        payload={
            "client_system": api_key.client_system_id,
            "old": {"revoked": False},
            "new": {"revoked": True, "revoked_at": api_key.revoked_at.isoformat()},
        },
    )
    return api_key


@transaction.atomic
def api_key_expire(
    *,
    api_key: ApiKey,
    expires_at: datetime | None = None,
    operator: Operator = SYSTEM_OPERATOR,
) -> ApiKey:
    """Set a key's expiry (default: now, which ends it at once)."""
    require(operator, "api_key.expire")
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    old = api_key.expiry_date
    new = expires_at or timezone.now()
    api_key.expiry_date = new
    api_key.save(update_fields=["expiry_date"])
    audit_event_append(
        actor=operator.actor,
        organization=api_key.client_system.organization,
        action="api_key.expiry_changed",
        object_type="api_key",
        object_id=api_key.prefix,
        payload={
            "client_system": api_key.client_system_id,
            "old": {"expires_at": old.isoformat() if old else None},
            "new": {"expires_at": new.isoformat()},
        },
    )
    return api_key


def _changes(obj: Any, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply ``changes`` to ``obj``; return the fields that changed, old and new."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field, value in changes.items():
        if getattr(obj, field) != value:
            old[field] = getattr(obj, field)
            new[field] = value
            setattr(obj, field, value)
    return {"old": old, "new": new}


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    name: str | None = None,
    jurisdiction: str | None = None,
    operator: Operator = SYSTEM_OPERATOR,
    **notice_details: Any,
) -> Organization:
    """Rename an organisation, change its jurisdiction (which decides the regimes a
    dossier names) or the details its notices print (``postal_address``,
    ``contact``, ``contest_days``, ``regulator``, ``credit_agency``). The slug never
    changes: it identifies the organisation."""
    require(operator, "organization.update")
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    wanted: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ValidationFailed("A name is required.", {"name": ["Required."]})
        wanted["name"] = name.strip()
    if jurisdiction is not None:
        if jurisdiction not in Organization.Jurisdiction.values:
            raise ValidationFailed(
                "Unknown jurisdiction.",
                {"jurisdiction": [f"One of {', '.join(Organization.Jurisdiction)}."]},
            )
        wanted["jurisdiction"] = jurisdiction
    wanted.update(_notice_details(notice_details))
    change = _changes(organization, wanted)
    if change["new"]:
        organization.save(update_fields=list(change["new"]))
        audit_event_append(
            actor=operator.actor,
            organization=organization,
            action="organization.updated",
            object_type="organization",
            object_id=organization.pk,
            payload=change,
        )
    return organization


NOTICE_TEXT_LIMITS = {
    "postal_address": 1000,
    "contact": 200,
    "regulator": 1000,
    "credit_agency": 1000,
}
MAX_CONTEST_DAYS = 365


def _notice_details(details: dict[str, Any]) -> dict[str, Any]:
    """The notice details given, checked: texts within their limits, a contest
    period of 1 to 365 days."""
    unknown = set(details) - set(NOTICE_TEXT_LIMITS) - {"contest_days"}
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    wanted: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in details.items():
        if value is None:
            continue
        if name == "contest_days":
            if not (isinstance(value, int) and 1 <= value <= MAX_CONTEST_DAYS):
                errors[name] = [f"A whole number of days from 1 to {MAX_CONTEST_DAYS}."]
            else:
                wanted[name] = value
        elif len(str(value)) > NOTICE_TEXT_LIMITS[name]:
            errors[name] = [f"At most {NOTICE_TEXT_LIMITS[name]} characters."]
        else:
            wanted[name] = str(value).strip()
    if errors:
        raise ValidationFailed("Invalid notice details.", errors)
    return wanted


@transaction.atomic
def membership_role_change(
    *, membership: Membership, role: str, operator: Operator = SYSTEM_OPERATOR
) -> Membership:
    require(operator, "membership.update")
    if role not in Membership.Role.values:
        raise ValidationFailed(
            "Unknown role.", {"role": [f"One of {', '.join(Membership.Role)}."]}
        )
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "organization")
        .get(pk=membership.pk)
    )
    change = _changes(membership, {"role": role})
    if change["new"]:
        membership.save(update_fields=["role"])
        audit_event_append(
            actor=operator.actor,
            organization=membership.organization,
            action="membership.role_changed",
            object_type="membership",
            object_id=membership.pk,
            payload={"username": membership.user.get_username(), **change},
        )
    return membership


@transaction.atomic
def membership_remove(
    *, membership: Membership, operator: Operator = SYSTEM_OPERATOR
) -> None:
    """End a person's membership: they keep their account (their reviews name it)
    but no longer act in the organisation."""
    require(operator, "membership.remove")
    membership = Membership.objects.select_related("user", "organization").get(
        pk=membership.pk
    )
    organization, pk = membership.organization, membership.pk
    old = {"username": membership.user.get_username(), "role": membership.role}
    membership.delete()
    audit_event_append(
        actor=operator.actor,
        organization=organization,
        action="membership.removed",
        object_type="membership",
        object_id=pk,
        payload={"old": old, "new": None},
    )


@transaction.atomic
def client_system_rename(
    *, client_system: ClientSystem, name: str, operator: Operator = SYSTEM_OPERATOR
) -> ClientSystem:
    """Rename a client system. Its organisation never changes: its keys and its
    decisions belong to that organisation."""
    require(operator, "client_system.rename")
    client_system = ClientSystem.objects.select_for_update().get(pk=client_system.pk)
    name = name.strip()
    if not name:
        raise ValidationFailed("A name is required.", {"name": ["Required."]})
    if (
        ClientSystem.objects.filter(organization=client_system.organization, name=name)
        .exclude(pk=client_system.pk)
        .exists()
    ):
        raise Conflict(f"A client system named '{name}' already exists.")
    change = _changes(client_system, {"name": name})
    if change["new"]:
        client_system.save(update_fields=["name"])
        audit_event_append(
            actor=operator.actor,
            organization=client_system.organization,
            action="client_system.renamed",
            object_type="client_system",
            object_id=client_system.pk,
            payload=change,
        )
    return client_system


USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
)


@transaction.atomic
def user_save(*, user: Any, operator: Operator = SYSTEM_OPERATOR) -> Any:
    """Save an account edited in Django admin (a new one, or changes to an existing
    one); the event holds the old and new value of each field that changed. A new
    password is recorded by the password hook, never its value."""
    require(operator, "user.update")
    model = get_user_model()
    before = model.objects.filter(pk=user.pk).first() if user.pk else None
    user.save()
    if before is None:
        action = "user.created"
        change: dict[str, Any] = {
            "old": None,
            "new": {f: getattr(user, f) for f in USER_FIELDS},
        }
    else:
        action = "user.updated"
        changed = [f for f in USER_FIELDS if getattr(before, f) != getattr(user, f)]
        change = {
            "old": {f: getattr(before, f) for f in changed},
            "new": {f: getattr(user, f) for f in changed},
        }
        if not changed:
            return user
    audit_event_append(
        actor=operator.actor,
        organization=_user_organization(user),
        action=action,
        object_type="user",
        object_id=user.pk,
        payload=change,
    )
    return user


# --- sign-in events (from django.contrib.auth's signals, see compliance/receivers.py)


def _user_organization(user: Any) -> Organization | None:
    membership = (
        Membership.objects.select_related("organization").filter(user=user).first()
    )
    return membership.organization if membership else None


def _user_event(user: Any, action: str, payload: dict[str, Any]) -> None:
    with transaction.atomic():
        audit_event_append(
            actor=actor_label(user=user),
            organization=_user_organization(user),
            action=action,
            object_type="user",
            object_id=user.pk,
            payload=payload,
        )


def login_record(*, user: Any) -> None:
    _user_event(user, "user.login", {})


def logout_record(*, user: Any) -> None:
    _user_event(user, "user.logout", {})


def password_change_record(*, user: Any) -> None:
    """A password was set (changed by its owner, reset, or set by an operator)."""
    _user_event(user, "user.password_changed", {})


USERNAME_KEPT = 150


def _typed_username_event(action: str, username: str, payload: dict[str, Any]) -> None:
    """A sign-in event about a username as typed (cut to 150 characters); in the
    user's organisation's trail when the username is one of its members'."""
    # NUL is the one character PostgreSQL's text and jsonb refuse
    typed = str(username or "")[:USERNAME_KEPT].replace("\x00", "\ufffd")
    user = get_user_model().objects.filter(username=typed).first()
    with transaction.atomic():
        audit_event_append(
            actor=SYSTEM_ACTOR,
            organization=_user_organization(user) if user is not None else None,
            action=action,
            object_type="user",
            object_id=user.pk if user is not None else "",
            payload={"username": typed, **payload},
        )


def login_failure_record(*, username: str, address: str = "") -> None:
    """A failed sign-in, with the username as typed."""
    _typed_username_event("user.login_failed", username, {"address": address[:64]})


def login_lockout_record(*, username: str, scope: str, address: str = "") -> None:
    """A failed sign-in used up a limit (``scope``: "address" for the address and
    account, "account" for the account's hourly one): further attempts are refused
    for a while. One event per lockout, not per refused attempt."""
    _typed_username_event(
        "user.login_locked", username, {"scope": scope, "address": address[:64]}
    )


def two_factor_record(*, user: Any, action: str, payload: dict[str, Any]) -> None:
    """A two-factor event of a signed-in person: ``user.two_factor_enrolled``,
    ``user.two_factor_verified``, ``user.two_factor_failed``."""
    _user_event(user, action, payload)


@transaction.atomic
def two_factor_reset(*, user: Any, operator: Operator = SYSTEM_OPERATOR) -> int:
    """Remove a person's two-factor devices (a lost phone): their next sign-in sets
    up a new one (required for admins). Returns how many were removed."""
    require(operator, "user.update")
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    audit_event_append(
        actor=operator.actor,
        organization=_user_organization(user),
        action="user.two_factor_reset",
        object_type="user",
        object_id=user.pk,
        payload={"old": {"devices": removed}, "new": {"devices": 0}},
    )
    return int(removed)

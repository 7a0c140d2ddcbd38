"""Organisations, their members and their client systems (API keys)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class Organization(models.Model):
    class Jurisdiction(models.TextChoices):
        EU = "EU", "European Union"
        US = "US", "United States"
        EU_US = "EU+US", "European Union and United States"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    jurisdiction = models.CharField(
        max_length=8, choices=Jurisdiction.choices, default=Jurisdiction.EU
    )
    # what a notice to an affected person states: who decided, where to write, how
    # long they have to contest, and whom they may complain to (for US credit, the
    # federal agency that administers compliance with the ECOA for this creditor)
    postal_address = models.TextField(
        blank=True, help_text="Name and postal address printed on notices."
    )
    contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where a person asks questions or contests a decision (e-mail or "
        "telephone).",
    )
    contest_days = models.PositiveSmallIntegerField(
        default=30, help_text="Days a person has to contest a decision after a notice."
    )
    regulator = models.TextField(
        blank=True,
        help_text="The authority a person may complain to (a data protection "
        "authority), name and address.",
    )
    credit_agency = models.TextField(
        blank=True,
        help_text="US credit: the federal agency that administers compliance with the "
        "ECOA for this creditor, name and address (empty: the CFPB).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role in one organisation. A user belongs to at most one organisation."""

    class Role(models.TextChoices):
        OFFICER = "officer", "Compliance officer"
        AUDITOR = "auditor", "Auditor"
        ADMIN = "admin", "Administrator"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"


class ClientSystem(models.Model):
    """A machine client (a bank's loan engine) that submits decisions with an API key."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="client_systems"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="uniq_client_system_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization.slug})"


class ApiKeyManager(APIKeyManager):
    def assign_key(self, obj: AbstractAPIKey) -> str:
        key = super().assign_key(obj)
        # the library's id is "prefix.hash": ours is the public prefix alone, so admin
        # URLs, admin log entries and form values never carry the key's hash
        obj.id = obj.prefix
        return str(key)


class ApiKey(AbstractAPIKey):
    """Hashed API key (sha512 of a high-entropy secret); the key itself is shown once.
    Its id is its prefix (migration 0016 moved older keys' ids off "prefix.hash")."""

    objects = ApiKeyManager()  # type: ignore[misc]

    client_system = models.ForeignKey(
        ClientSystem, on_delete=models.PROTECT, related_name="api_keys"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

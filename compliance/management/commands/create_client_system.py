from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance.errors import DomainError
from compliance.models import Organization
from compliance.principals import SYSTEM, Operator
from compliance.tenancy import services


class Command(BaseCommand):
    help = "Create a client system and print its new API key (alone on the last line, shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True, help="client system name")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="key lifetime"
        )

    def handle(
        self,
        *args: Any,
        org: str,
        name: str,
        expires_in_days: int | None,
        **options: Any,
    ) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organisation with slug '{org}'.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        expires_at = (
            timezone.now() + timedelta(days=expires_in_days)
            if expires_in_days
            else None
        )
        try:
            client = services.client_system_create(
                organization=organization,
                name=name,
                operator=Operator(role=SYSTEM, label="cli"),
            )
            _, key = services.api_key_create(
                client_system=client,
                name=f"{name} key",
                expires_at=expires_at,
                operator=Operator(role=SYSTEM, label="cli"),
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"Created client system {client.pk} '{name}' in {org}.")
        self.stdout.write("Its API key follows; it is shown only once:")
        self.stdout.write(key)

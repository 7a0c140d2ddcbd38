"""`make demo`: register the demo receiver as demo-bank's webhook endpoint (every
event), as its admin would, and write the secret for the receiver to check with.
Run again, it rotates the secret of the endpoint already registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compliance.models import Membership, WebhookEndpoint
from compliance.models.webhooks import EVENT_TYPES
from compliance.principals import ADMIN, Principal
from compliance.webhooks import endpoint_create, endpoint_secret_rotate


class Command(BaseCommand):
    help = "Register the demo's webhook receiver for an organisation."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--org", default="demo-bank")
        parser.add_argument("--url", required=True)
        parser.add_argument("--secret-file", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        membership = (
            Membership.objects.select_related("organization", "user")
            .filter(organization__slug=options["org"], role=ADMIN)
            .first()
        )
        if membership is None:
            raise CommandError(f"No admin of {options['org']!r}; run seed_demo first.")
        principal = Principal(
            organization=membership.organization, role=ADMIN, user=membership.user
        )
        existing = WebhookEndpoint.objects.filter(
            organization=membership.organization,
            url=options["url"],
            deleted_at__isnull=True,
        ).first()
        if existing is None:
            _, secret = endpoint_create(
                principal=principal,
                url=options["url"],
                events=list(EVENT_TYPES),
                description="make demo's receiver (python -m demo.webhook_receiver)",
            )
        else:
            secret = endpoint_secret_rotate(principal=principal, endpoint=existing)
        path = Path(options["secret_file"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret)
        path.chmod(0o600)
        self.stdout.write(f"Webhook endpoint for {options['org']}: {options['url']}")

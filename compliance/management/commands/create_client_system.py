from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from compliance.errors import DomainError
from compliance.models import Organization
from compliance.principals import SYSTEM, Operator
from compliance.tenancy import services


def key_file_write(path: Path, key: str) -> None:
    """Write a new key to a new file only its owner can read (mode 0600, created so:
    never readable by others, not even for a moment; an existing file is refused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(path, 0o600)  # whatever the umask


class Command(BaseCommand):
    help = (
        "Create a client system and its API key. The key goes to a new file of mode "
        "0600 (--key-file, default <data dir>/keys/<org>-<name>.key), or with "
        "--print-key to standard output (alone on the last line). It is shown once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True, help="client system name")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="key lifetime"
        )
        parser.add_argument(
            "--print-key",
            action="store_true",
            help="print the key on standard output instead of writing a file",
        )
        parser.add_argument(
            "--key-file",
            type=Path,
            default=None,
            help="where to write the key (a new file, mode 0600)",
        )

    def handle(
        self,
        *args: Any,
        org: str,
        name: str,
        expires_in_days: int | None,
        print_key: bool,
        key_file: Path | None,
        **options: Any,
    ) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organisation with slug '{org}'.")
        if expires_in_days is not None and expires_in_days <= 0:
            raise CommandError("--expires-in-days must be positive.")
        if print_key and key_file is not None:
            raise CommandError("Give either --print-key or --key-file, not both.")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        target = key_file or (
            Path(settings.DATA_DIR) / "keys" / f"{organization.slug}-{safe}.key"
        )
        if not print_key and target.exists():
            raise CommandError(f"{target} exists; give another --key-file.")
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
        if print_key:
            self.stdout.write("Its API key follows; it is shown only once:")
            self.stdout.write(key)
            return
        key_file_write(target, key)
        self.stdout.write(
            f"Its API key is in {target} (mode 0600, shown nowhere else); "
            "hand it to the client system and delete the file."
        )

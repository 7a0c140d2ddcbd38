from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.management.demo_seed import demo_seed


def summary_write(path: Path, summary: dict[str, Any]) -> None:
    """The summary holds passwords, API keys and two-factor secrets: mode 0600, from
    its creation on (an older, wider file is tightened before it is rewritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)


class Command(BaseCommand):
    help = (
        "Create (idempotently) the demo organisations demo-bank and demo-clinic, one user per "
        "role, a client system with an API key each, and register the demo models."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--models", type=Path, default=None, help="folder of demo.train output"
        )
        parser.add_argument(
            "--password", default="inspectoscope-demo", help="password of demo users"
        )
        parser.add_argument("--allow-production", action="store_true")

    def handle(
        self,
        *args: Any,
        models: Path | None,
        password: str,
        allow_production: bool,
        **options: Any,
    ) -> None:
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "seed_demo creates well-known logins; it runs only with DEBUG on."
            )
        if models is not None and not models.is_dir():
            raise CommandError(
                f"{models} is not a folder; run `python -m demo.train` first."
            )
        data_dir = Path(settings.DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        report = demo_seed(data_dir=data_dir, password=password, models_dir=models)
        for item in report.created:
            self.stdout.write(f"created {item}")
        if not report.created:
            self.stdout.write("demo data already present; nothing created")
        summary_write(
            data_dir / "demo_summary.json",
            {
                "logins": report.logins,
                "keys": report.keys,
                "two_factor": report.two_factor,
                "model_versions": report.model_versions,
            },
        )
        self.stdout.write("\nLogins (user / password / role / organisation):")
        for username, pw, role, org in report.logins:
            self.stdout.write(f"  {username:22} {pw:20} {role:34} {org}")
        self.stdout.write(
            "\nTwo-factor codes (admins and the superuser): add the otpauth URI to an "
            "authenticator app (FreeOTP, Aegis, Google Authenticator, ...) or run "
            "`oathtool --totp -b <secret>`:"
        )
        for username, uri in report.two_factor.items():
            secret = parse_qs(urlparse(uri).query).get("secret", [""])[0]
            self.stdout.write(f"  {username:22} {secret}  {uri}")
        self.stdout.write("\nClient-system API keys (Authorization: Api-Key <key>):")
        for slug, key in report.keys.items():
            self.stdout.write(f"  {slug:12} {key}")

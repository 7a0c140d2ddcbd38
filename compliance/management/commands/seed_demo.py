from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.management.demo_seed import demo_seed


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
        (data_dir / "demo_summary.json").write_text(
            json.dumps(
                {
                    "logins": report.logins,
                    "keys": report.keys,
                    "model_versions": report.model_versions,
                },
                indent=2,
            )
        )
        self.stdout.write("\nLogins (user / password / role / organisation):")
        for username, pw, role, org in report.logins:
            self.stdout.write(f"  {username:22} {pw:20} {role:34} {org}")
        self.stdout.write("\nClient-system API keys (Authorization: Api-Key <key>):")
        for slug, key in report.keys.items():
            self.stdout.write(f"  {slug:12} {key}")

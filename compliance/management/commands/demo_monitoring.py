"""``manage.py demo_monitoring --models DIR``: simulate six months of review of the
demo bank's credit decisions (compliance.management.demo_oversight). Demo only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.management.demo_oversight import simulate
from compliance.models import AISystem


class Command(BaseCommand):
    help = "Simulate the demo officers' reviews for the monitoring demo (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--models", required=True, type=Path)

    def handle(self, *args: Any, models: Path, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_monitoring runs only with DEBUG on (a demo).")
        manifest = json.loads((models / "credit.json").read_text())
        ai_system = AISystem.objects.get(
            organization__slug=manifest["organization"],
            name=manifest["ai_system"]["name"],
        )
        actual = {
            d["external_id"]: d["actual"] for d in manifest["population_decisions"]
        }

        def say(text: str) -> None:
            self.stdout.write(text, ending="")
            self.stdout.flush()

        report = simulate(ai_system=ai_system, actual=actual, say=say)
        if report.skipped:
            self.stdout.write(f"Monitoring demo: nothing to do ({report.skipped}).")
            return
        self.stdout.write(
            f"Monitoring demo: {report.reviews} reviews by three officers over six "
            f"months ({report.overturns} overturns), {report.drills} training drills, "
            f"{len(report.alerts)} alerts raised; the oversight report is job "
            f"{report.report_job}."
        )
        for message in report.alerts:
            self.stdout.write(f"  alert: {message}")

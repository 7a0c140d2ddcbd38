from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from compliance.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 naming the first broken sequence number."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_chain_verify()
        if result.ok:
            self.stdout.write(f"OK {result.events_checked} events")
            return
        self.stderr.write(
            f"BROKEN at sequence {result.first_broken_sequence}: {result.problem} "
            f"({result.events_checked} events verified before it)"
        )
        sys.exit(1)

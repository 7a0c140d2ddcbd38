from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.audit import ChainVerification, audit_chain_verify, audit_chains_verify
from compliance.models import Organization


class Command(BaseCommand):
    help = (
        "Verify the audit chains and their anchors; exit 1 naming the first broken "
        "sequence number. --org SLUG checks one organisation's chain, --platform the "
        "platform's; without either, every chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--org", metavar="SLUG", help="one organisation's chain")
        scope.add_argument(
            "--platform", action="store_true", help="the platform events' chain"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organisation {options['org']!r}.")
            results = [audit_chain_verify(organization=organization)]
        elif options["platform"]:
            results = [audit_chain_verify(platform=True)]
        else:
            results = audit_chains_verify()
        broken = [r for r in results if not r.ok]
        for result in results:
            (self.stderr if not result.ok else self.stdout).write(_line(result))
        if broken:
            sys.exit(1)
        if len(results) > 1 or not results:
            total = sum(r.events_checked for r in results)
            self.stdout.write(f"OK {total} events in {len(results)} chains")


def _line(result: ChainVerification) -> str:
    anchors = f"{result.anchors_checked} anchors"
    if result.anchors_unsigned:
        anchors += f", {result.anchors_unsigned} unsigned (no TSA token)"
    if result.anchors_unvalidated:
        anchors += (
            f", {result.anchors_unvalidated} with a token not checked "
            "(no TSA_CA_CERT_FILE)"
        )
    if result.unanchored:
        anchors += f"; {result.unanchored} events after the last anchor"
    if result.ok:
        return f"OK {result.chain}: {result.events_checked} events, {anchors}"
    lines = [
        f"BROKEN {result.chain} at sequence {result.first_broken_sequence}: "
        f"{result.problem} ({result.events_checked} events verified before it; "
        f"{anchors})"
    ]
    lines += [f"  also: {p}" for p in result.problems[1:]]
    return "\n".join(lines)

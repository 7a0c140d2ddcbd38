from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from compliance.audit import audit_chains_anchor
from compliance.principals import SYSTEM_OPERATOR


class Command(BaseCommand):
    help = (
        "Anchor every audit chain's head now: an RFC 3161 token from TSA_URL when set, "
        "else an unsigned anchor (hash and time)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = audit_chains_anchor(operator=SYSTEM_OPERATOR)
        for anchor in anchors:
            state = "signed" if anchor.tsa_token else "UNSIGNED"
            note = f" ({anchor.note})" if anchor.note else ""
            self.stdout.write(
                f"{anchor.chain} #{anchor.sequence} {anchor.head_hash[:16]}… "
                f"{state}{note}"
            )
        self.stdout.write(f"{len(anchors)} anchors recorded")

"""Reserved for signed dossiers, public verification, idempotent issuing (issue 12 parts 6-8)."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compliance", "0011_audit_chains")]

    operations: list[migrations.operations.base.Operation] = []

"""Reserved for the per-organisation audit chains, keyed hashes and anchors (issue 12 part 1-3)."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compliance", "0010_drop_copied_explanation_fields")]

    operations: list[migrations.operations.base.Operation] = []

"""Reserved for audited administration and final decisions (issue 12 parts 4-5)."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compliance", "0012_dossier_signing")]

    operations: list[migrations.operations.base.Operation] = []

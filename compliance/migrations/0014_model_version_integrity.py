"""Model version integrity: a version whose weights on disk no longer match their
recorded sha256 is suspended (decisions still accepted, each flagged for review)."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0013_decision_lifecycle"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="integrity_suspended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="integrity_suspended_reason",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
    ]

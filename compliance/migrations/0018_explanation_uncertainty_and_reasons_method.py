"""What the engine reports since issue 14, kept: each sampled method's per-feature
standard errors, why a method gives no reasons, and which method a run's reasons come
from. Rows stored before keep nulls / empty strings and still render."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0017_model_version_proxy_analysis"),
    ]

    operations = [
        migrations.AddField(
            model_name="explanation",
            name="reasons_note",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="explanation",
            name="standard_errors",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="explanationrun",
            name="reasons_method",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]

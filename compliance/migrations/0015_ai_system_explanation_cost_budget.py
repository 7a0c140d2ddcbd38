"""AI systems may lower or raise (up to the platform maximum) the cost budget of an
explanation request."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0014_model_version_integrity"),
    ]

    operations = [
        migrations.AddField(
            model_name="aisystem",
            name="explanation_cost_budget",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Most model evaluations one explanation request may cost "
                "per decision; empty = the platform default.",
                null=True,
            ),
        ),
    ]

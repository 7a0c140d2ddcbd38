"""Final decisions (issue 12 part 5): a decision's final outcome, who gave it and when;
reviews that supersede a reviewer's earlier one; four-eyes confirmations of overturns;
the AI system's four-eyes flag (unset: on for Annex III systems).

Decisions already reviewed under the old rules (every review stood alone, no four-eyes)
become final with the outcome of their latest uphold or overturn.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _finalize_reviewed(apps: Any, schema_editor: Any) -> None:
    Decision = apps.get_model("compliance", "Decision")
    Review = apps.get_model("compliance", "Review")
    for decision in Decision.objects.filter(status="reviewed").iterator():
        last = (
            Review.objects.filter(decision_id=decision.pk)
            .order_by("-created_at", "-id")
            .first()
        )
        if last is None or last.action not in ("uphold", "overturn"):
            continue
        Decision.objects.filter(pk=decision.pk).update(
            status="final",
            final_outcome=last.human_outcome or decision.outcome,
            final_outcome_by_id=last.reviewer_id,
            finalized_at=last.created_at,
        )


def _unfinalize(apps: Any, schema_editor: Any) -> None:
    Decision = apps.get_model("compliance", "Decision")
    Decision.objects.filter(status="final").update(status="reviewed")


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0012_dossier_signing"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="aisystem",
            name="four_eyes_overturn",
            field=models.BooleanField(
                blank=True,
                default=None,
                help_text="An overturn waits for a second officer's confirmation; "
                "unset: on for Annex III systems.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="decision",
            name="status",
            field=models.CharField(
                choices=[
                    ("unreviewed", "Unreviewed"),
                    ("needs_review", "Needs review"),
                    ("reviewed", "Reviewed"),
                    ("escalated", "Escalated"),
                    ("final", "Final"),
                ],
                default="unreviewed",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="final_outcome",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="decision",
            name="final_outcome_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="finalized_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="review",
            name="supersedes",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="superseded_by",
                to="compliance.review",
            ),
        ),
        migrations.AddField(
            model_name="review",
            name="supersede_reason",
            field=models.TextField(blank=True),
        ),
        migrations.CreateModel(
            name="ReviewConfirmation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("note", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "confirmed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "review",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="confirmation",
                        to="compliance.review",
                    ),
                ),
            ],
        ),
        migrations.RunPython(_finalize_reviewed, _unfinalize),
    ]

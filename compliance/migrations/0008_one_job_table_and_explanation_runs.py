"""One Job table for every kind of background work (was ExplanationJob, with dossier
jobs in it under a second lease protocol); decision-level explanation results stored
once per run (ExplanationRun) instead of copied into every method's row; the method id
``shapley_sampling`` of stored rows renamed ``kernel_shap`` (what always ran under it).
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("compliance", "0007_audit_chain_head_function")]

    operations = [
        migrations.RenameModel("ExplanationJob", "Job"),
        migrations.RemoveConstraint("job", "uniq_explanation_job_per_request"),
        migrations.RemoveIndex("job", "compliance__status_12120a_idx"),
        migrations.RemoveIndex("job", "compliance__status_42ee33_idx"),
        migrations.RenameField("job", "methods", "old_methods"),
        migrations.RenameField("job", "parameters", "old_parameters"),
        migrations.RenameField("job", "model_version", "old_model_version"),
        migrations.AddField("job", "payload", models.JSONField(default=dict)),
        migrations.AddField(
            "job", "batch_key", models.CharField(blank=True, max_length=100)
        ),
        migrations.AddField(
            "job", "requested_by", models.CharField(blank=True, max_length=200)
        ),
        migrations.AddField(
            "job", "available_at", models.DateTimeField(blank=True, null=True)
        ),
        migrations.AlterField(
            "job",
            "kind",
            models.CharField(
                choices=[("explanation", "Explanation"), ("dossier", "Dossier")],
                max_length=12,
            ),
        ),
        migrations.AlterField(
            "job",
            "decision",
            models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="jobs",
                to="compliance.decision",
            ),
        ),
        migrations.CreateModel(
            name="ExplanationRun",
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
                ("primary_method", models.CharField(max_length=40)),
                ("prediction", models.FloatField()),
                ("output", models.FloatField()),
                ("output_units", models.CharField(default="logit", max_length=40)),
                ("predicted_outcome", models.CharField(max_length=100)),
                ("counterfactual", models.JSONField(blank=True, null=True)),
                ("counterfactual_note", models.TextField(blank=True)),
                ("agreement", models.JSONField(default=dict)),
                ("warnings", models.JSONField(default=list)),
                ("needs_review", models.BooleanField(default=False)),
                ("needs_review_reasons", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "decision",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="explanation_runs",
                        to="compliance.decision",
                    ),
                ),
                (
                    "job",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="explanation_run",
                        to="compliance.job",
                    ),
                ),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.AddField(
            "explanation",
            "run",
            models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="explanations",
                to="compliance.explanationrun",
            ),
        ),
    ]

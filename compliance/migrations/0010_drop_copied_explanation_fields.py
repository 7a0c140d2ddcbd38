"""After 0009: drop the per-method copies of decision-level results and the old job
columns."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

RUN_FIELDS = (
    "prediction",
    "output_units",
    "counterfactual",
    "counterfactual_note",
    "agreement",
    "warnings",
    "needs_review",
    "needs_review_reasons",
)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0009_job_payloads_and_runs_data")]

    operations = [
        migrations.AlterField(
            "explanation",
            "run",
            models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="explanations",
                to="compliance.explanationrun",
            ),
        ),
        *[
            migrations.RemoveField("explanation", name)
            for name in (*RUN_FIELDS,)
            if name != "warnings"
        ],
        migrations.RemoveField("job", "old_methods"),
        migrations.RemoveField("job", "old_parameters"),
        migrations.RemoveField("job", "old_model_version"),
        migrations.AddConstraint(
            "job",
            models.UniqueConstraint(
                fields=("decision", "request_sha256"), name="uniq_job_per_request"
            ),
        ),
        migrations.AddIndex(
            "job",
            models.Index(
                fields=["kind", "status", "batch_key", "created_at"],
                name="job_claim_idx",
            ),
        ),
        migrations.AddIndex(
            "job",
            models.Index(fields=["status", "lease_until"], name="job_lease_idx"),
        ),
    ]

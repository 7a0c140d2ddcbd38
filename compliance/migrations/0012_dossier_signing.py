"""Signed dossiers, public verification, idempotent issuing (issue 12 parts 6-8): what
a dossier's content was made from and why a version was reissued; the API's
Idempotency-Key register."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("compliance", "0011_audit_chains")]

    operations: list[migrations.operations.base.Operation] = [
        migrations.AddField(
            model_name="dossier",
            name="content_sha256",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="dossier",
            name="reissue_reason",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.CreateModel(
            name="IdempotencyKey",
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
                ("caller", models.CharField(max_length=100)),
                ("key", models.CharField(max_length=255)),
                ("request_sha256", models.CharField(max_length=64)),
                (
                    "status_code",
                    models.PositiveSmallIntegerField(blank=True, null=True),
                ),
                ("response_body", models.BinaryField(default=b"")),
                ("response_headers", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["created_at"], name="idempotency_created_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("caller", "key"),
                        name="uniq_idempotency_key_per_caller",
                    )
                ],
            },
        ),
    ]

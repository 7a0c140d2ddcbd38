"""Per-organisation audit chains, keyed hashes and anchors (issue 12 parts 1-3).

An organisation's chain verification becomes a kind of job (``audit_verify``), about no
decision (``Job.decision`` is nullable).

Existing events are not re-chained: rewriting history would be exactly what the chain
exists to reveal. They keep their sequence numbers and plain-sha256 hashes as the
``"legacy"`` chain (the column's default for rows already there), which this migration
closes with an anchor over its head; every new event goes to its organisation's keyed
chain (or the platform's), numbered from 1. ``audit_anchor`` later timestamps the
legacy head with the TSA like any other chain head.

On PostgreSQL: one SQL function per chain head (the advisory lock is per chain, so
tenants do not wait for each other), and the anchors table is append-only like the
events.
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION inspectoscope_audit_chain_head(
    lock_class integer, lock_id integer, chain_key varchar)
RETURNS TABLE (head_sequence bigint, head_hash varchar) AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_class, lock_id);
    RETURN QUERY
        SELECT sequence, hash FROM compliance_auditevent
        WHERE chain = chain_key ORDER BY sequence DESC LIMIT 1;
END;
$$ LANGUAGE plpgsql VOLATILE;

CREATE OR REPLACE FUNCTION inspectoscope_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chain_anchor_append_only ON compliance_chainanchor;
CREATE TRIGGER chain_anchor_append_only BEFORE UPDATE OR DELETE
    ON compliance_chainanchor
    FOR EACH ROW EXECUTE FUNCTION inspectoscope_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS chain_anchor_append_only ON compliance_chainanchor;
DROP FUNCTION IF EXISTS inspectoscope_append_only();
DROP FUNCTION IF EXISTS inspectoscope_audit_chain_head(integer, integer, varchar);
"""


def _functions(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def _functions_drop(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


def _close_legacy_chain(apps, schema_editor):  # noqa: ANN001
    from django.utils import timezone

    event_model = apps.get_model("compliance", "AuditEvent")
    anchor_model = apps.get_model("compliance", "ChainAnchor")
    head = event_model.objects.filter(chain="legacy").order_by("-sequence").first()
    if head is not None:
        anchor_model.objects.create(
            chain="legacy",
            sequence=head.sequence,
            head_hash=head.hash,
            anchored_at=timezone.now(),
            note="legacy chain closed by migration 0011",
        )


class Migration(migrations.Migration):
    dependencies = [("compliance", "0010_drop_copied_explanation_fields")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.CharField(default="legacy", max_length=40),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["id"]},
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="compliance__organiz_70691f_idx",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "id"], name="audit_org_id_idx"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "sequence"), name="uniq_audit_chain_sequence"
            ),
        ),
        migrations.CreateModel(
            name="ChainAnchor",
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
                ("chain", models.CharField(max_length=40)),
                ("sequence", models.PositiveBigIntegerField()),
                ("head_hash", models.CharField(max_length=64)),
                ("anchored_at", models.DateTimeField()),
                ("tsa_url", models.CharField(blank=True, max_length=300)),
                ("tsa_token", models.BinaryField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=300)),
                (
                    "organization",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="compliance.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["chain", "sequence", "id"],
                "indexes": [
                    models.Index(
                        fields=["chain", "sequence"], name="audit_anchor_chain_idx"
                    )
                ],
            },
        ),
        # an organisation's chain verification is a job about no decision
        migrations.AlterField(
            model_name="job",
            name="decision",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="jobs",
                to="compliance.decision",
            ),
        ),
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(
                choices=[
                    ("explanation", "Explanation"),
                    ("dossier", "Dossier"),
                    ("audit_verify", "Audit chain verification"),
                ],
                max_length=12,
            ),
        ),
        migrations.RunPython(_functions, _functions_drop),
        migrations.RunPython(_close_legacy_chain, migrations.RunPython.noop),
    ]

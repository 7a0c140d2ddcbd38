"""On PostgreSQL, refuse UPDATE and DELETE on the audit table at the database level,
so raw SQL cannot silently rewrite history. (TRUNCATE is left to the table owner:
the test runner uses it, and it is not a silent row edit.)"""

from __future__ import annotations

from django.db import migrations

TABLE = "compliance_auditevent"

CREATE = f"""
CREATE OR REPLACE FUNCTION inspectoscope_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % on {TABLE} refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_append_only ON {TABLE};
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION inspectoscope_audit_append_only();
"""

DROP = f"""
DROP TRIGGER IF EXISTS audit_event_append_only ON {TABLE};
DROP FUNCTION IF EXISTS inspectoscope_audit_append_only();
"""


def _forwards(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def _backwards(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(_forwards, _backwards)]

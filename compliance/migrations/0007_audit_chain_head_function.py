"""On PostgreSQL, one round trip takes the appenders' lock and reads the chain's head.

A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement it runs, so the
SELECT after the lock sees every append committed before the lock was granted: the same
guarantee as the two statements it replaces, in one call per audited request.
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inspectoscope_audit_chain_head(lock_key bigint)
RETURNS TABLE (head_sequence bigint, head_hash varchar) AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
        SELECT sequence, hash FROM compliance_auditevent
        ORDER BY sequence DESC LIMIT 1;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP = "DROP FUNCTION IF EXISTS inspectoscope_audit_chain_head(bigint);"


def _forwards(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CREATE)


def _backwards(apps, schema_editor):  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0006_drop_redundant_indexes")]
    operations = [migrations.RunPython(_forwards, _backwards)]

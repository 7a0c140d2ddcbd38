"""What an attacker who holds the database owner's role (but not the HMAC key) does."""

from __future__ import annotations

from typing import Any

from django.db import connection

from compliance.models import AuditEvent

TABLE = AuditEvent._meta.db_table


def tamper(*statements: Any) -> None:
    """Run raw SQL with the append-only trigger disabled, as the table's owner can.

    ``tamper(sql, params)`` or ``tamper((sql, params), (sql, params), ...)``.
    """
    if len(statements) == 2 and isinstance(statements[1], list):
        statements = ((statements[0], statements[1]),)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # deferred FK checks from the fixture's inserts would block ALTER TABLE
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_event_append_only"
            )
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, [])
            cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(
                f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_event_append_only"
            )

"""Least privilege on PostgreSQL: the role the web and worker processes connect as.

Run as the owner of the tables (the role ``migrate`` runs as), after every ``migrate``:

    manage.py audit_db_roles --role inspectoscope_app [--create] [--password-file F]

The app role owns nothing, so it cannot run DDL, disable the audit tables' append-only
triggers or TRUNCATE; it may read and write the application's tables, but only SELECT
and INSERT on the audit events and anchors, and only read the migration history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from compliance.models import AuditEvent, ChainAnchor

APPEND_ONLY_TABLES = (AuditEvent._meta.db_table, ChainAnchor._meta.db_table)
READ_ONLY_TABLES = ("django_migrations",)


def app_role_statements(role: str, database: str) -> list[str]:
    """The grants, in order (idempotent: everything is revoked first)."""
    quote = connection.ops.quote_name
    r, db = quote(role), quote(database)
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {r}",
        # no DDL in the schema for anyone but its owner (PostgreSQL < 15 lets PUBLIC)
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE CREATE ON SCHEMA public FROM {r}",
        f"GRANT CONNECT ON DATABASE {db} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
        *(
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {r}"
            for table in APPEND_ONLY_TABLES
        ),
        *(
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {r}"
            for table in READ_ONLY_TABLES
        ),
    ]


class Command(BaseCommand):
    help = (
        "PostgreSQL: grant the web/worker role least privilege (run as the tables' "
        "owner after every migrate)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", default="inspectoscope_app")
        parser.add_argument(
            "--create", action="store_true", help="create the role if it is missing"
        )
        parser.add_argument(
            "--password-file", type=Path, help="LOGIN password for a created role"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL matter.")
        role = options["role"]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            exists = cursor.fetchone() is not None
            cursor.execute(
                "SELECT 1 FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename = %s AND tableowner = %s",
                [AuditEvent._meta.db_table, role],
            )
            if cursor.fetchone() is not None:
                raise CommandError(f"{role} owns the tables: use another role.")
            if not exists:
                if not options["create"]:
                    raise CommandError(f"No role {role!r} (use --create).")
                quoted = connection.ops.quote_name(role)
                cursor.execute(
                    f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB "
                    "NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
                )
                if options["password_file"]:
                    password = options["password_file"].read_text().strip()
                    # ALTER ROLE takes no bind parameters: quote the literal
                    literal = "'" + password.replace("'", "''") + "'"
                    cursor.execute(f"ALTER ROLE {quoted} PASSWORD {literal}")
            for statement in app_role_statements(
                role, connection.settings_dict["NAME"]
            ):
                cursor.execute(statement)
        self.stdout.write(
            f"{role}: DML on the app's tables; SELECT and INSERT only on "
            f"{', '.join(APPEND_ONLY_TABLES)}; owns nothing"
        )

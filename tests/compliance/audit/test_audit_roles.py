"""Least privilege: the role the web and workers connect as cannot rewrite history."""

from __future__ import annotations

import os

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from compliance.audit import audit_chain_verify, audit_event_append
from compliance.models import AuditEvent, ChainAnchor, Decision

pytestmark = pytest.mark.postgres
EVENTS = AuditEvent._meta.db_table
ANCHORS = ChainAnchor._meta.db_table


@pytest.fixture
def app_role(world):
    """A fresh app role for this test (roles are cluster-wide, and CREATE ROLE is
    transactional: the test's rollback removes it), then SET ROLE to it."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "database roles exist on PostgreSQL; set DATABASE_URL=postgres://..."
        )
    role = f"inspectoscope_app_test_{os.getpid()}"
    call_command("audit_db_roles", "--role", role, "--create")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing deferred to the owner
        cursor.execute(f"SET ROLE {role}")
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


@pytest.mark.parametrize(
    "statement, error",
    [
        (f"DELETE FROM {EVENTS}", "permission denied"),
        (f"UPDATE {EVENTS} SET actor = 'x'", "permission denied"),
        (f"TRUNCATE {EVENTS}", "permission denied"),
        (f"ALTER TABLE {EVENTS} DISABLE TRIGGER audit_event_append_only", "owner"),
        (f"ALTER TABLE {EVENTS} DISABLE TRIGGER ALL", "owner"),
        (f"DROP TRIGGER audit_event_append_only ON {EVENTS}", "owner"),
        (f"DELETE FROM {ANCHORS}", "permission denied"),
        (f"TRUNCATE {ANCHORS}", "permission denied"),
        ("CREATE TABLE evil (id int)", "permission denied"),
        ("DELETE FROM django_migrations", "permission denied"),
    ],
)
def test_the_app_role_cannot_rewrite_the_audit_trail(app_role, statement, error):
    with pytest.raises(DatabaseError, match=error), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)


def test_the_app_role_does_its_work(app_role, world):
    """It appends events (the per-chain lock and head function included) and writes
    the application's other tables."""
    with transaction.atomic():
        Decision.objects.filter(pk=world.decision.pk).update(subject_ref="role-test")
        audit_event_append(
            actor="app",
            organization=world.org,
            action="test.as_app_role",
            object_type="test",
            object_id=1,
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
    assert audit_chain_verify(organization=world.org).ok

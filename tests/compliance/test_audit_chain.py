from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from compliance.audit import GENESIS_HASH, audit_chain_verify
from compliance.models import AuditEvent

TABLE = AuditEvent._meta.db_table


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # deferred FK checks from the fixture's inserts would block ALTER TABLE
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_event_append_only"
            )
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(
                f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_event_append_only"
            )


def test_every_write_appended_a_linked_event(world):
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    actions = {e.action for e in events}
    assert {
        "organization.created",
        "membership.created",
        "client_system.created",
        "api_key.created",
        "ai_system.registered",
        "model_version.registered",
        "decision.submitted",
    } <= actions


def test_the_chain_verifies(world, capsys):
    result = audit_chain_verify()
    assert result.ok and result.events_checked == AuditEvent.objects.count()
    call_command("audit_verify")
    assert capsys.readouterr().out.strip() == f"OK {AuditEvent.objects.count()} events"


def test_a_changed_payload_is_detected_at_its_sequence(world, capsys):
    target = AuditEvent.objects.get(
        action="decision.submitted", object_id=str(world.decision.pk)
    )
    _tamper(
        f"UPDATE {TABLE} SET payload = %s WHERE sequence = %s",
        ['{"outcome": "good"}', target.sequence],
    )
    result = audit_chain_verify()
    assert not result.ok
    assert result.first_broken_sequence == target.sequence
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1
    assert f"sequence {target.sequence}" in capsys.readouterr().err


def test_a_rewritten_hash_is_detected_at_the_next_link(world):
    target = AuditEvent.objects.order_by("sequence")[3]
    _tamper(
        f"UPDATE {TABLE} SET actor = %s, hash = %s WHERE sequence = %s",
        ["someone-else", "f" * 64, target.sequence],
    )
    result = audit_chain_verify()
    assert result.first_broken_sequence == target.sequence


def test_a_deleted_event_is_detected(world):
    target = AuditEvent.objects.order_by("sequence")[5]
    _tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [target.sequence])
    result = audit_chain_verify()
    assert not result.ok and result.first_broken_sequence == target.sequence


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET actor = 'x' WHERE sequence = 1",
        f"DELETE FROM {TABLE} WHERE sequence = 1",
    ],
)
def test_postgres_refuses_raw_updates_and_deletes(world, statement):
    if connection.vendor != "postgresql":
        pytest.skip(
            "the append-only trigger exists on PostgreSQL; set DATABASE_URL=postgres://..."
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)
    assert audit_chain_verify().ok

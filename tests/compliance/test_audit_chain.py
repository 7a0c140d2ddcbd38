from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from compliance.audit import (
    GENESIS_HASH,
    audit_chain_verify,
    audit_event_append,
    chain_key,
)
from compliance.audit.keys import audit_keys
from compliance.models import AuditEvent
from tests.compliance.audit.tampering import tamper

TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def platform_events(world):
    """Two events of the platform (no organisation): their own chain."""
    for n in range(2):
        with transaction.atomic():
            audit_event_append(
                actor="system",
                organization=None,
                action="test.platform",
                object_type="test",
                object_id=n,
            )


def test_each_organisation_has_its_own_gapless_keyed_chain(world):
    for org in (world.org, world.other_org, None):
        chain = chain_key(org.pk if org else None)
        events = list(AuditEvent.objects.filter(chain=chain).order_by("sequence"))
        assert events, chain
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == GENESIS_HASH
        assert all(
            b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False)
        )
        assert {e.organization_id for e in events} == {org.pk if org else None}
        assert {e.key_id for e in events} == {audit_keys().current_id}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "organization.created",
        "membership.created",
        "client_system.created",
        "api_key.created",
        "ai_system.registered",
        "model_version.registered",
        "decision.submitted",
    } <= actions


def test_the_chains_verify(world, capsys):
    result = audit_chain_verify()
    assert result.ok and result.events_checked == AuditEvent.objects.count()
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert f"OK {AuditEvent.objects.count()} events in 3 chains" in out


def test_an_organisations_check_counts_only_its_own_events(world, capsys):
    own = AuditEvent.objects.filter(organization=world.org).count()
    result = audit_chain_verify(organization=world.org)
    assert result.ok and result.events_checked == own
    assert result.chain == f"org:{world.org.pk}"
    call_command("audit_verify", "--org", world.org.slug)
    out = capsys.readouterr().out
    assert out.startswith(f"OK org:{world.org.pk}: {own} events")
    platform = AuditEvent.objects.filter(organization=None).count()
    assert audit_chain_verify(platform=True).events_checked == platform


def test_a_changed_payload_is_detected_at_its_sequence(world, capsys):
    target = AuditEvent.objects.get(
        action="decision.submitted", object_id=str(world.decision.pk)
    )
    tamper(
        f"UPDATE {TABLE} SET payload = %s WHERE id = %s",
        ['{"outcome": "good"}', target.pk],
    )
    result = audit_chain_verify(organization=world.org)
    assert not result.ok
    assert result.first_broken_sequence == target.sequence
    # the other organisation's chain is untouched
    assert audit_chain_verify(organization=world.other_org).ok
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify", "--org", world.org.slug)
    assert exit_info.value.code == 1
    assert f"sequence {target.sequence}" in capsys.readouterr().err


def test_a_rewritten_hash_is_detected_at_its_link(world):
    target = AuditEvent.objects.filter(chain=f"org:{world.org.pk}").order_by(
        "sequence"
    )[3]
    tamper(
        f"UPDATE {TABLE} SET actor = %s, hash = %s WHERE id = %s",
        ["someone-else", "f" * 64, target.pk],
    )
    result = audit_chain_verify(organization=world.org)
    assert result.first_broken_sequence == target.sequence


def test_a_deleted_event_is_detected(world):
    target = AuditEvent.objects.filter(chain=f"org:{world.org.pk}").order_by(
        "sequence"
    )[2]
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [target.pk])
    result = audit_chain_verify(organization=world.org)
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

"""Migration 0011 keeps the events already written: the closed, verifiable legacy chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from compliance.audit import (
    GENESIS_HASH,
    LEGACY_CHAIN,
    audit_chain_verify,
    audit_event_append,
    canonical_json,
)
from compliance.models import AuditEvent, ChainAnchor, Organization

BEFORE = [("compliance", "0010_drop_copied_explanation_fields")]


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_existing_events_become_the_closed_legacy_chain():
    latest = _latest()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    old_org = old_apps.get_model("compliance", "Organization")
    old_event = old_apps.get_model("compliance", "AuditEvent")
    orgs = [
        old_org.objects.create(name=f"Old {n}", slug=f"old-{n}", jurisdiction="EU")
        for n in range(2)
    ]
    prev = GENESIS_HASH
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for sequence in range(1, 6):  # one global chain, as before 0011
        org = orgs[sequence % 2]
        document = {
            "sequence": sequence,
            "at": at.isoformat(timespec="microseconds"),
            "actor": "system",
            "organization": org.pk,
            "action": "old.event",
            "object_type": "test",
            "object_id": str(sequence),
            "payload": {},
        }
        digest = hashlib.sha256((prev + canonical_json(document)).encode()).hexdigest()
        old_event.objects.create(
            sequence=sequence,
            at=at,
            actor="system",
            organization=org,
            action="old.event",
            object_type="test",
            object_id=str(sequence),
            payload={},
            prev_hash=prev,
            hash=digest,
        )
        prev = digest

    MigrationExecutor(connection).migrate(latest)

    assert set(AuditEvent.objects.values_list("chain", "key_id")) == {
        (LEGACY_CHAIN, "")
    }
    anchor = ChainAnchor.objects.get(chain=LEGACY_CHAIN)
    assert (anchor.sequence, anchor.head_hash) == (5, prev)
    first = Organization.objects.get(slug="old-0")
    assert audit_chain_verify().ok
    result = audit_chain_verify(organization=first)
    assert result.ok and result.events_checked == 2  # sequences 2 and 4
    # new events start the organisation's own keyed chain at 1
    with transaction.atomic():
        event = audit_event_append(
            actor="system",
            organization=first,
            action="new.event",
            object_type="test",
            object_id=1,
        )
    assert (event.chain, event.sequence) == (f"org:{first.pk}", 1)
    assert audit_chain_verify(organization=first).events_checked == 3

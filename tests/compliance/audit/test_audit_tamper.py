"""The attacks anchors and keyed hashes are for, each detected at the right sequence.

On PostgreSQL the attacker holds the table owner's role: the append-only trigger is
disabled for the tampering (tests/compliance/audit/tampering.py). Without the HMAC key
they can still run the app's own hash function, with a key of their choosing.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from compliance.audit import audit_chain_verify, audit_chains_anchor, audit_event_append
from compliance.audit.chain import audit_event_hash
from compliance.models import AuditEvent, ChainAnchor
from compliance.principals import SYSTEM_OPERATOR
from tests.compliance.audit.tampering import TABLE, tamper

EXTRA = 6  # events appended after the anchor


@pytest.fixture
def anchored(world, settings):
    """The world's chains anchored (unsigned: no TSA here), then EXTRA more events of
    the organisation and one more anchor over them."""
    settings.TSA_URL = None
    audit_chains_anchor(operator=SYSTEM_OPERATOR)
    for n in range(EXTRA):
        with transaction.atomic():
            audit_event_append(
                actor="acme-officer",
                organization=world.org,
                action="test.event",
                object_type="test",
                object_id=n,
                payload={"n": n},
            )
    audit_chains_anchor(operator=SYSTEM_OPERATOR)
    return world


def _chain(world):
    return AuditEvent.objects.filter(chain=f"org:{world.org.pk}").order_by("sequence")


def test_anchored_chains_verify_and_say_their_anchors_are_unsigned(anchored, capsys):
    result = audit_chain_verify(organization=anchored.org)
    assert result.ok
    assert result.anchors_checked == 2 and result.anchors_unsigned == 2
    assert result.unanchored == 0
    call_command("audit_verify", "--org", anchored.org.slug)
    assert "2 unsigned (no TSA token)" in capsys.readouterr().out


def test_events_after_the_last_anchor_are_counted(anchored, capsys):
    with transaction.atomic():
        audit_event_append(
            actor="acme-officer",
            organization=anchored.org,
            action="test.late",
            object_type="test",
            object_id=1,
        )
    assert audit_chain_verify(organization=anchored.org).unanchored == 1
    call_command("audit_verify", "--org", anchored.org.slug)
    assert "1 events after the last anchor" in capsys.readouterr().out


def test_anchoring_again_without_new_events_adds_nothing(anchored):
    before = ChainAnchor.objects.count()
    assert audit_chains_anchor(operator=SYSTEM_OPERATOR) == []
    assert ChainAnchor.objects.count() == before


@pytest.mark.parametrize("deleted", [1, 3])
def test_deleting_the_last_events_is_detected_at_the_first_deleted(anchored, deleted):
    head = _chain(anchored).last().sequence
    tamper(
        f"DELETE FROM {TABLE} WHERE chain = %s AND sequence > %s",
        [f"org:{anchored.org.pk}", head - deleted],
    )
    result = audit_chain_verify(organization=anchored.org)
    assert not result.ok
    assert result.first_broken_sequence == head - deleted + 1
    assert "missing" in result.problem


def test_truncate_is_detected_at_sequence_one_of_every_anchored_chain(anchored):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # TRUNCATE fires no row trigger
            # the fixture's deferred FK checks are pending trigger events
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {TABLE}")
    else:
        tamper(f"DELETE FROM {TABLE}")  # SQLite has no TRUNCATE
    for org in (anchored.org, anchored.other_org):
        result = audit_chain_verify(organization=org)
        assert not result.ok and result.first_broken_sequence == 1, result
    result = audit_chain_verify()
    assert not result.ok and result.first_broken_sequence == 1


def test_an_edit_with_every_later_hash_recomputed_without_the_key_is_detected(
    anchored,
):
    events = list(_chain(anchored))
    target = events[4]
    target.payload = {"outcome": "good"}
    statements: list[tuple[str, list]] = [
        (
            f"UPDATE {TABLE} SET payload = %s WHERE id = %s",
            ['{"outcome": "good"}', target.pk],
        )
    ]
    prev_hash = events[3].hash
    for event in events[4:]:
        event.prev_hash = prev_hash
        event.hash = audit_event_hash(event, prev_hash, key=b"a guess, not the key" * 2)
        prev_hash = event.hash
        statements.append(
            (
                f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s",
                [event.prev_hash, event.hash, event.pk],
            )
        )
    tamper(*statements)
    result = audit_chain_verify(organization=anchored.org)
    assert not result.ok
    assert result.first_broken_sequence == target.sequence
    assert "contents do not match" in result.problem


def test_an_edit_rehashed_with_the_key_is_caught_by_the_anchor(anchored):
    """Whoever also stole the key can make the links consistent; the anchors were
    taken before, so the rewrite shows between the last matching anchor and the
    first that no longer matches."""
    events = list(_chain(anchored))
    anchors = list(
        ChainAnchor.objects.filter(chain=f"org:{anchored.org.pk}").order_by("sequence")
    )
    first_anchor = anchors[0].sequence
    target = events[first_anchor + 1]  # after the first anchor, before the second
    statements = []
    prev_hash = events[first_anchor + 0].hash
    for event in events[first_anchor + 1 :]:
        if event.pk == target.pk:
            event.actor = "someone-else"
        event.prev_hash = prev_hash
        event.hash = audit_event_hash(event, prev_hash)  # the real key
        prev_hash = event.hash
        statements.append(
            (
                f"UPDATE {TABLE} SET actor = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [event.actor, event.prev_hash, event.hash, event.pk],
            )
        )
    tamper(*statements)
    result = audit_chain_verify(organization=anchored.org)
    assert not result.ok
    assert result.first_broken_sequence == first_anchor + 1
    assert "does not match the anchor" in result.problem


def test_two_reordered_events_are_detected_at_the_first_of_them(anchored):
    events = list(_chain(anchored))
    first, second = events[2], events[3]
    tamper(
        (f"UPDATE {TABLE} SET sequence = %s WHERE id = %s", [10**9, first.pk]),
        (
            f"UPDATE {TABLE} SET sequence = %s WHERE id = %s",
            [first.sequence, second.pk],
        ),
        (
            f"UPDATE {TABLE} SET sequence = %s WHERE id = %s",
            [second.sequence, first.pk],
        ),
    )
    result = audit_chain_verify(organization=anchored.org)
    assert not result.ok
    assert result.first_broken_sequence == first.sequence


def test_an_unkeyed_event_in_a_keyed_chain_is_refused(anchored):
    """Re-hashing with the legacy (plain sha256) function needs no key: refused."""
    events = list(_chain(anchored))
    target = events[-1]
    target.key_id = ""
    target.actor = "someone-else"
    new_hash = audit_event_hash(target, target.prev_hash)
    tamper(
        f"UPDATE {TABLE} SET key_id = '', actor = %s, hash = %s WHERE id = %s",
        ["someone-else", new_hash, target.pk],
    )
    result = audit_chain_verify(organization=anchored.org)
    assert result.first_broken_sequence == target.sequence
    assert "unkeyed" in result.problem

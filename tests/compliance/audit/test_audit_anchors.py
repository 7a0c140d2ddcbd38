"""Anchors timestamped by the test TSA; legacy events; rotating the HMAC key."""

from __future__ import annotations

import hashlib
import json

import pytest
from asn1crypto import cms
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from compliance.audit import (
    LEGACY_CHAIN,
    anchor_digest,
    anchor_token_check,
    audit_chain_verify,
    audit_chains_anchor,
    audit_event_append,
    canonical_json,
)
from compliance.audit.keys import _keys, key_id_of
from compliance.models import AuditEvent, ChainAnchor
from compliance.principals import SYSTEM_OPERATOR
from demo.pki import pki_ensure


def test_an_anchors_token_verifies_against_the_test_tsas_certificate(
    world, tsa, settings
):
    settings.TSA_URL = tsa.url
    settings.TSA_CA_CERT_FILE = str(tsa.root_ca_pem_path)
    anchors = audit_chains_anchor(operator=SYSTEM_OPERATOR)
    assert {a.chain for a in anchors} == {
        f"org:{world.org.pk}",
        f"org:{world.other_org.pk}",
    }
    for anchor in anchors:
        assert anchor.tsa_token and anchor.tsa_url == tsa.url and not anchor.note
        check = anchor_token_check(anchor)
        assert check.valid and check.validated, check.problem
        token = cms.ContentInfo.load(bytes(anchor.tsa_token))
        tst_info = token["content"]["encap_content_info"]["content"].parsed
        assert tst_info["message_imprint"]["hashed_message"].native == anchor_digest(
            anchor.chain, anchor.sequence, anchor.head_hash
        )
    result = audit_chain_verify(organization=world.org)
    assert result.ok and result.anchors_checked == 1 and result.anchors_unsigned == 0
    assert result.anchors_unvalidated == 0


def test_a_token_for_another_head_is_reported(world, tsa, settings):
    settings.TSA_URL = tsa.url
    settings.TSA_CA_CERT_FILE = str(tsa.root_ca_pem_path)
    (anchor,) = [
        a
        for a in audit_chains_anchor(operator=SYSTEM_OPERATOR)
        if a.chain == f"org:{world.org.pk}"
    ]
    # a forged anchor: another organisation's genuine token pasted onto this head
    other = ChainAnchor.objects.exclude(pk=anchor.pk).get()
    with transaction.atomic():
        ChainAnchor.objects.create(
            chain=anchor.chain,
            sequence=anchor.sequence,
            head_hash=anchor.head_hash,
            anchored_at=timezone.now(),
            tsa_url=tsa.url,
            tsa_token=other.tsa_token,
        )
    result = audit_chain_verify(organization=world.org)
    assert not result.ok and result.first_broken_sequence == anchor.sequence
    assert "token covers another head" in result.problem


def test_a_token_from_an_untrusted_tsa_is_reported(world, tsa, settings, tmp_path):
    settings.TSA_URL = tsa.url
    settings.TSA_CA_CERT_FILE = str(tsa.root_ca_pem_path)
    audit_chains_anchor(operator=SYSTEM_OPERATOR)
    # verified against another PKI's root
    other_pki = pki_ensure(tmp_path / "other-pki", {})
    settings.TSA_CA_CERT_FILE = str(other_pki.root_ca_pem_path)
    result = audit_chain_verify(organization=world.org)
    assert not result.ok and "bad timestamp token" in result.problem


def test_an_unreachable_tsa_leaves_the_anchor_unsigned_with_the_reason(world, settings):
    settings.TSA_URL = "http://127.0.0.1:9/tsa"  # discard port: nothing listens
    settings.TSA_TIMEOUT_SECONDS = 2
    anchors = audit_chains_anchor(operator=SYSTEM_OPERATOR)
    assert anchors and all(not a.tsa_token and "unreachable" in a.note for a in anchors)
    result = audit_chain_verify(organization=world.org)
    assert result.ok and result.anchors_unsigned == 1


def test_audit_anchor_command_without_a_tsa_records_unsigned_anchors(
    world, settings, capsys
):
    settings.TSA_URL = None
    call_command("audit_anchor")
    out = capsys.readouterr().out
    assert "UNSIGNED" in out and "2 anchors recorded" in out
    call_command("audit_verify", "--org", world.org.slug)
    assert "1 unsigned" in capsys.readouterr().out


def _legacy_event(sequence, prev_hash, organization, action):
    """An event as written before migration 0011: global chain, plain sha256."""
    event = AuditEvent(
        chain=LEGACY_CHAIN,
        sequence=sequence,
        at=timezone.now(),
        actor="system",
        organization=organization,
        action=action,
        object_type="test",
        object_id=str(sequence),
        payload={},
        prev_hash=prev_hash,
        key_id="",
    )
    document = {
        "sequence": event.sequence,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "organization": event.organization_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
    }
    event.hash = hashlib.sha256(
        (prev_hash + canonical_json(json.loads(json.dumps(document)))).encode()
    ).hexdigest()
    event.save()
    return event


def test_legacy_events_verify_as_the_closed_legacy_chain(world, settings):
    settings.TSA_URL = None
    prev = "0" * 64
    for sequence, org in enumerate([world.org, world.other_org, world.org], start=1):
        prev = _legacy_event(sequence, prev, org, "legacy.event").hash
    # what migration 0011 does: close the legacy chain with an anchor of its head
    ChainAnchor.objects.create(
        chain=LEGACY_CHAIN, sequence=3, head_hash=prev, anchored_at=timezone.now()
    )
    own = AuditEvent.objects.filter(organization=world.org).count()
    result = audit_chain_verify(organization=world.org)
    assert result.ok, result.problem
    assert result.events_checked == own  # its 2 legacy events, not the other's
    # a legacy event added after the close is not ours
    _legacy_event(4, prev, world.org, "legacy.forged")
    result = audit_chain_verify(organization=world.org)
    assert not result.ok and result.first_broken_sequence == 4


def test_a_rotated_key_still_verifies_the_events_it_hashed(world, settings, tmp_path):
    old_key = settings.AUDIT_HMAC_KEY_FILE
    new_key = tmp_path / "new.key"
    new_key.write_text("a-new-audit-key-for-the-rotation-test-0123456789\n")
    settings.AUDIT_HMAC_KEY_FILE = str(new_key)
    settings.AUDIT_HMAC_RETIRED_KEY_FILES = [old_key]
    _keys.cache_clear()
    try:
        with transaction.atomic():
            event = audit_event_append(
                actor="system",
                organization=world.org,
                action="test.after_rotation",
                object_type="test",
                object_id=1,
            )
        assert event.key_id == key_id_of(new_key.read_bytes().strip())
        assert audit_chain_verify(organization=world.org).ok
        # without the retired key the older events cannot be checked
        settings.AUDIT_HMAC_RETIRED_KEY_FILES = []
        _keys.cache_clear()
        result = audit_chain_verify(organization=world.org)
        assert not result.ok and result.first_broken_sequence == 1
        assert "not configured" in result.problem
    finally:
        settings.AUDIT_HMAC_KEY_FILE = old_key
        settings.AUDIT_HMAC_RETIRED_KEY_FILES = []
        _keys.cache_clear()


def test_with_no_events_there_is_nothing_to_anchor(db, settings):
    settings.TSA_URL = None
    assert audit_chains_anchor(operator=SYSTEM_OPERATOR) == []


@pytest.mark.postgres
def test_postgres_refuses_to_change_or_delete_an_anchor(world, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL")
    settings.TSA_URL = None
    audit_chains_anchor(operator=SYSTEM_OPERATOR)
    table = ChainAnchor._meta.db_table
    for statement in (
        f"UPDATE {table} SET head_hash = 'x'",
        f"DELETE FROM {table}",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)

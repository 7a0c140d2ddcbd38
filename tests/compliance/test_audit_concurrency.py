"""Concurrent appenders, each on its own connection and transaction, never fork a chain
(one per organisation, one for the platform; each chain has its own lock)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from compliance.audit import audit_chain_verify, audit_event_append, chain_key
from compliance.models import AuditEvent
from tests import factories

THREADS, APPENDS = 4, 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_form_unbroken_chains():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises writers itself; the lock under test is PostgreSQL's "
            "(set DATABASE_URL=postgres://...)"
        )
    organizations = [factories.make_org("chain-a"), factories.make_org("chain-b"), None]
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            start.wait()
            for i in range(APPENDS):
                with transaction.atomic():
                    audit_event_append(
                        actor=f"thread-{n}",
                        organization=organizations[(n + i) % 3],
                        action="test.appended",
                        object_type="test",
                        object_id=f"{n}-{i}",
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert (
        AuditEvent.objects.filter(action="test.appended").count() == THREADS * APPENDS
    )
    verification = audit_chain_verify()
    assert verification.ok, verification.problem
    for organization in organizations:
        chain = chain_key(organization.pk if organization else None)
        sequences = AuditEvent.objects.filter(chain=chain).order_by("sequence")
        assert list(sequences.values_list("sequence", flat=True)) == list(
            range(1, sequences.count() + 1)
        )

"""The hash-chained audit trail: one chain per organisation, one for the platform.

Each event's hash is ``HMAC-SHA256(key, prev_hash + canonical JSON of the event)``, the
first event of a chain chaining from 64 zeros; the key comes from a file the database
never holds (compliance.audit.keys), so whoever can write the table cannot recompute
a consistent chain. Events written before the per-organisation chains form the closed
``legacy`` chain, hashed with plain sha256 and checked as they were written.

Appending is serialised per chain (an advisory lock keyed by the organisation on
PostgreSQL, IMMEDIATE transactions on SQLite) so a chain never forks and tenants do not
wait for each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from compliance.audit.keys import audit_keys
from compliance.models import AuditEvent, Organization

GENESIS_HASH = "0" * 64
PLATFORM_CHAIN = "platform"
LEGACY_CHAIN = "legacy"
_ADVISORY_LOCK_CLASS = 0x1A5D17  # first half of every chain's lock key


class UnknownAuditKey(LookupError):
    """An event names a key that is not configured (retired and not kept?)."""


def chain_key(organization_id: int | None) -> str:
    """The chain an organisation's events (or, for None, the platform's) go to."""
    return PLATFORM_CHAIN if organization_id is None else f"org:{organization_id}"


def canonical_json(data: Any) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _json_safe(value: Any) -> Any:
    """Floats become their repr: jsonb may re-spell numbers, which would break hashes."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _event_document(event: AuditEvent) -> dict[str, Any]:
    document = {
        "sequence": event.sequence,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "organization": event.organization_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
    }
    if event.key_id:  # keyed events also bind their chain and key
        document["chain"] = event.chain
        document["key_id"] = event.key_id
    return document


def audit_event_hash(
    event: AuditEvent, prev_hash: str, *, key: bytes | None = None
) -> str:
    """The event's hash: HMAC with the key its ``key_id`` names (or ``key``, given);
    plain sha256 for legacy events (no ``key_id``)."""
    message = (prev_hash + canonical_json(_event_document(event))).encode()
    if not event.key_id:
        return hashlib.sha256(message).hexdigest()
    if key is None:
        try:
            key = audit_keys().by_id[event.key_id]
        except KeyError:
            raise UnknownAuditKey(
                f"audit key {event.key_id} is not configured"
            ) from None
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _chain_head_locked(organization_id: int | None) -> tuple[int, str]:
    """The chain's last sequence and hash, read after taking that chain's lock.

    Written in SQL: it runs on every audited request, and compiling the ORM query cost
    more CPU than the rest of the append. On PostgreSQL one function call (migration
    0011) takes the chain's lock and then reads its head with a fresh snapshot, which
    needs READ COMMITTED (Django's default; under REPEATABLE READ the read would miss
    appends committed while this transaction waited for the lock, and the chain would
    fork).
    """
    chain = chain_key(organization_id)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT * FROM inspectoscope_audit_chain_head(%s, %s, %s)",
                [_ADVISORY_LOCK_CLASS, (organization_id or 0) & 0x7FFFFFFF, chain],
            )
        else:  # SQLite: the IMMEDIATE transaction already holds the write lock
            table = connection.ops.quote_name(AuditEvent._meta.db_table)
            cursor.execute(
                f"SELECT sequence, hash FROM {table} WHERE chain = %s "  # noqa: S608
                "ORDER BY sequence DESC LIMIT 1",
                [chain],
            )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def audit_event_append(
    *,
    actor: str,
    organization: Organization | None,
    action: str,
    object_type: str,
    object_id: Any,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to its organisation's chain. Must run inside the caller's
    transaction."""
    return audit_events_append(
        [
            {
                "actor": actor,
                "organization": organization,
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "payload": payload,
            }
        ]
    )[0]


def audit_events_append(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events in order, with one read of each chain's end and one insert.

    Each item has the keyword arguments of ``audit_event_append``. Must run inside the
    caller's transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events must be appended inside transaction.atomic().")
    if not events:
        return []
    keys = audit_keys()
    org_ids = [
        item["organization"].pk if item["organization"] is not None else None
        for item in events
    ]
    # chains locked in one order by every appender: two transactions that append to
    # the same two chains cannot deadlock
    heads = {
        org_id: _chain_head_locked(org_id)
        for org_id in sorted(set(org_ids), key=lambda pk: -1 if pk is None else pk)
    }
    now = timezone.now()
    created = []
    for item, org_id in zip(events, org_ids, strict=True):
        sequence, prev_hash = heads[org_id]
        event = AuditEvent(
            chain=chain_key(org_id),
            sequence=sequence + 1,
            at=now,
            actor=item["actor"],
            organization=item["organization"],
            action=item["action"],
            object_type=item["object_type"],
            object_id=str(item["object_id"]),
            payload=_json_safe(item.get("payload") or {}),
            prev_hash=prev_hash,
            key_id=keys.current_id,
        )
        event.hash = audit_event_hash(event, prev_hash, key=keys.current)
        heads[org_id] = (event.sequence, event.hash)
        created.append(event)
    AuditEvent.objects.bulk_create(created)
    for listener in _listeners:
        listener(created)
    return created


# functions told of every batch of events appended, inside the appending transaction
# (the webhooks' outbox: a delivery is stored with the event it reports, or not at all)
AuditListener = Callable[[list[AuditEvent]], object]
_listeners: list[AuditListener] = []


def audit_listener_register(listener: AuditListener) -> None:
    """Call ``listener`` with the events of every append, in its transaction (an error
    it raises rolls the append back). Registered once (``AppConfig.ready``)."""
    if listener not in _listeners:
        _listeners.append(listener)

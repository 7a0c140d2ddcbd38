"""The hash-chained audit trail.

Each event's hash is ``sha256(prev_hash + canonical JSON of the event)``, the first
event chaining from 64 zeros. Appending is serialised (an advisory lock on
PostgreSQL, IMMEDIATE transactions on SQLite) so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from compliance.models import AuditEvent, Organization

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x1A5D17  # any constant shared by every appender


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
    return {
        "sequence": event.sequence,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "organization": event.organization_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
    }


def audit_event_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256(
        (prev_hash + canonical_json(_event_document(event))).encode()
    ).hexdigest()


def _chain_head_locked() -> tuple[int, str]:
    """The last event's sequence and hash, read after taking the appenders' lock.

    Written in SQL: it runs on every audited request, and compiling the ORM query cost
    more CPU than the rest of the append. On PostgreSQL one function call (migration
    0007) takes the lock and then reads the head with a fresh snapshot, which needs READ
    COMMITTED (Django's default; under REPEATABLE READ the read would miss appends
    committed while this transaction waited for the lock, and the chain would fork).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT * FROM inspectoscope_audit_chain_head(%s)", [_ADVISORY_LOCK_KEY]
            )
        else:  # SQLite: the IMMEDIATE transaction already holds the write lock
            table = connection.ops.quote_name(AuditEvent._meta.db_table)
            cursor.execute(
                f"SELECT sequence, hash FROM {table} ORDER BY sequence DESC LIMIT 1"  # noqa: S608
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
    """Append one event to the chain. Must run inside the caller's transaction."""
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
    """Append several events in order, with one read of the chain's end and one insert.

    Each item has the keyword arguments of ``audit_event_append``. Must run inside the
    caller's transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events must be appended inside transaction.atomic().")
    if not events:
        return []
    sequence, prev_hash = _chain_head_locked()
    now = timezone.now()
    created = []
    for item in events:
        sequence += 1
        event = AuditEvent(
            sequence=sequence,
            at=now,
            actor=item["actor"],
            organization=item["organization"],
            action=item["action"],
            object_type=item["object_type"],
            object_id=str(item["object_id"]),
            payload=_json_safe(item.get("payload") or {}),
            prev_hash=prev_hash,
        )
        event.hash = audit_event_hash(event, prev_hash)
        prev_hash = event.hash
        created.append(event)
    AuditEvent.objects.bulk_create(created)
    return created


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    events_checked: int
    first_broken_sequence: int | None = None
    problem: str = ""


def audit_chain_verify(*, batch_size: int = 2000) -> ChainVerification:
    """Walk the whole chain in sequence order; report the first broken link."""
    prev_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    queryset = AuditEvent.objects.order_by("sequence")
    for event in queryset.iterator(chunk_size=batch_size):
        if event.sequence != expected_sequence:
            return ChainVerification(
                False,
                checked,
                expected_sequence,
                f"sequence {expected_sequence} is missing (next present is {event.sequence})",
            )
        if event.prev_hash != prev_hash:
            return ChainVerification(
                False,
                checked,
                event.sequence,
                "prev_hash does not match the previous event's hash",
            )
        if audit_event_hash(event, prev_hash) != event.hash:
            return ChainVerification(
                False,
                checked,
                event.sequence,
                "contents do not match the recorded hash",
            )
        prev_hash = event.hash
        expected_sequence += 1
        checked += 1
    return ChainVerification(True, checked)

"""The hash-chained audit trail: append (in the caller's transaction) and verify."""

from __future__ import annotations

from compliance.audit.chain import (
    GENESIS_HASH,
    ChainVerification,
    audit_chain_verify,
    audit_event_append,
    audit_event_hash,
    audit_events_append,
    canonical_json,
)

__all__ = [
    "GENESIS_HASH",
    "ChainVerification",
    "audit_chain_verify",
    "audit_event_append",
    "audit_event_hash",
    "audit_events_append",
    "canonical_json",
]

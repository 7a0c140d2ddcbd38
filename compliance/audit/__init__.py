"""The hash-chained audit trail: per-organisation keyed chains, append (in the caller's
transaction), anchors (RFC 3161) and verify."""

from __future__ import annotations

from compliance.audit.anchors import (
    TimestampError,
    anchor_digest,
    anchor_token_check,
    audit_chains_anchor,
    tsa_timestamp,
)
from compliance.audit.chain import (
    GENESIS_HASH,
    LEGACY_CHAIN,
    PLATFORM_CHAIN,
    UnknownAuditKey,
    audit_event_append,
    audit_event_hash,
    audit_events_append,
    audit_listener_register,
    canonical_json,
    chain_key,
)
from compliance.audit.verify import (
    ChainVerification,
    audit_chain_verify,
    audit_chains_verify,
)

__all__ = [
    "GENESIS_HASH",
    "LEGACY_CHAIN",
    "PLATFORM_CHAIN",
    "ChainVerification",
    "TimestampError",
    "UnknownAuditKey",
    "anchor_digest",
    "anchor_token_check",
    "audit_chain_verify",
    "audit_chains_anchor",
    "audit_chains_verify",
    "audit_event_append",
    "audit_event_hash",
    "audit_events_append",
    "audit_listener_register",
    "canonical_json",
    "chain_key",
    "tsa_timestamp",
]

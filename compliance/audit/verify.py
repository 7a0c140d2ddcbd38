"""Verify audit chains and their anchors; name the first sequence affected.

The walk checks each link (numbering without gaps, ``prev_hash``, the keyed hash);
then every anchor of the chain: the anchored event must still be there with the
anchored hash (else events were deleted, or the chain was rewritten, after the last
anchor that still matches), and its token must cover that head and be signed by the
configured TSA. A legacy (pre-0011) chain is closed: nothing may follow its last anchor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance.audit.anchors import anchor_token_check
from compliance.audit.chain import (
    GENESIS_HASH,
    LEGACY_CHAIN,
    UnknownAuditKey,
    audit_event_hash,
    chain_key,
)
from compliance.models import AuditEvent, ChainAnchor, Organization

_EVERY_ORGANIZATION = -1


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    events_checked: int
    first_broken_sequence: int | None = None
    problem: str = ""
    chain: str = ""
    anchors_checked: int = 0
    anchors_unsigned: int = 0
    # signed anchors whose token could not be checked against a TSA certificate
    anchors_unvalidated: int = 0
    problems: tuple[str, ...] = field(default=())
    # events after the last sound anchor: protected by the key only until the next one
    unanchored: int = 0


@dataclass
class _Walk:
    checked: int = 0  # events counted for the report
    last_sequence: int = 0  # the last sequence verified in order
    broken: tuple[int, str] | None = None
    hashes: dict[int, str] = field(default_factory=dict)  # at anchored sequences


def _walk(
    chain: str, anchored: set[int], count_organization: int | None, batch_size: int
) -> _Walk:
    walk = _Walk()
    prev_hash = GENESIS_HASH
    keyed = chain != LEGACY_CHAIN
    events = AuditEvent.objects.filter(chain=chain).order_by("sequence")
    for event in events.iterator(chunk_size=batch_size):
        expected = walk.last_sequence + 1
        if event.sequence != expected:
            walk.broken = (
                expected,
                f"sequence {expected} is missing (next present is {event.sequence})",
            )
            return walk
        if event.prev_hash != prev_hash:
            walk.broken = (
                expected,
                "prev_hash does not match the previous event's hash",
            )
            return walk
        if keyed != bool(event.key_id):
            walk.broken = (
                expected,
                "unkeyed event in a keyed chain" if keyed else "keyed legacy event",
            )
            return walk
        try:
            recomputed = audit_event_hash(event, prev_hash)
        except UnknownAuditKey as exc:
            walk.broken = (expected, str(exc))
            return walk
        if recomputed != event.hash:
            walk.broken = (expected, "contents do not match the recorded hash")
            return walk
        if event.sequence in anchored:
            walk.hashes[event.sequence] = event.hash
        prev_hash = event.hash
        walk.last_sequence = event.sequence
        if count_organization in (_EVERY_ORGANIZATION, event.organization_id):
            walk.checked += 1
    return walk


def _chain_verify(
    chain: str, *, count_organization: int | None, batch_size: int
) -> ChainVerification:
    anchors = list(ChainAnchor.objects.filter(chain=chain).order_by("sequence", "id"))
    walk = _walk(chain, {a.sequence for a in anchors}, count_organization, batch_size)
    issues: list[tuple[int, str]] = [walk.broken] if walk.broken else []
    unsigned = unvalidated = 0
    good_through = 0  # the last sequence a sound anchor vouches for
    for anchor in anchors:
        when = anchor.anchored_at.isoformat(timespec="seconds")
        if walk.broken and anchor.sequence >= walk.broken[0]:
            issues.append(
                (
                    walk.broken[0],
                    f"the anchor of {when} covers sequence {anchor.sequence}, "
                    "past the broken link",
                )
            )
            continue
        if anchor.sequence > walk.last_sequence:
            issues.append(
                (
                    walk.last_sequence + 1,
                    f"events {walk.last_sequence + 1} to {anchor.sequence} are "
                    f"missing: the anchor of {when} covers sequence {anchor.sequence}",
                )
            )
            continue
        if walk.hashes.get(anchor.sequence) != anchor.head_hash:
            issues.append(
                (
                    good_through + 1,
                    f"event {anchor.sequence} does not match the anchor of {when}: "
                    f"the chain was rewritten after sequence {good_through}",
                )
            )
            continue
        if anchor.tsa_token:
            token = anchor_token_check(anchor)
            if not token.valid:
                issues.append(
                    (
                        min(good_through + 1, anchor.sequence),
                        f"the anchor of {when} at sequence {anchor.sequence} has a "
                        f"bad timestamp token ({token.problem})",
                    )
                )
                continue
            unvalidated += not token.validated
        else:
            unsigned += 1
        good_through = max(good_through, anchor.sequence)
    if chain == LEGACY_CHAIN and not walk.broken and walk.last_sequence > good_through:
        issues.append(
            (
                good_through + 1,
                f"the legacy chain was closed at sequence {good_through}; "
                "later legacy events are not ours",
            )
        )
    issues.sort(key=lambda issue: issue[0])
    first = issues[0] if issues else None
    return ChainVerification(
        ok=not issues,
        events_checked=walk.checked,
        first_broken_sequence=first[0] if first else None,
        problem=first[1] if first else "",
        chain=chain,
        anchors_checked=len(anchors),
        anchors_unsigned=unsigned,
        anchors_unvalidated=unvalidated,
        problems=tuple(text for _, text in issues),
        unanchored=max(walk.last_sequence - good_through, 0),
    )


def _combine(results: list[ChainVerification], chain: str) -> ChainVerification:
    broken = [r for r in results if not r.ok]
    first = broken[0] if broken else None
    return ChainVerification(
        ok=not broken,
        events_checked=sum(r.events_checked for r in results),
        first_broken_sequence=first.first_broken_sequence if first else None,
        problem=(f"{first.chain}: {first.problem}" if first else ""),
        chain=first.chain if first else chain,
        anchors_checked=sum(r.anchors_checked for r in results),
        anchors_unsigned=sum(r.anchors_unsigned for r in results),
        anchors_unvalidated=sum(r.anchors_unvalidated for r in results),
        problems=tuple(f"{r.chain}: {p}" for r in broken for p in r.problems),
        unanchored=sum(r.unanchored for r in results),
    )


def audit_chains_verify(*, batch_size: int = 2000) -> list[ChainVerification]:
    """Every chain (the platform's job: reads every tenant's events)."""
    chains = sorted(
        set(AuditEvent.objects.values_list("chain", flat=True).distinct())
        | set(ChainAnchor.objects.values_list("chain", flat=True).distinct())
    )
    return [
        _chain_verify(
            chain, count_organization=_EVERY_ORGANIZATION, batch_size=batch_size
        )
        for chain in chains
    ]


def audit_chain_verify(
    *,
    organization: Organization | None = None,
    platform: bool = False,
    batch_size: int = 2000,
) -> ChainVerification:
    """One organisation's chain (or, with ``platform``, the platform's), with its
    anchors, counting only that organisation's events; with neither, every chain (the
    platform's check: it reads every tenant's events).

    An organisation's events from before migration 0011 are in the legacy chain, which
    is checked whole (a link cannot be checked without its neighbours, whoever's they
    are) but counted only for that organisation's events.
    """
    if organization is None and not platform:
        return _combine(audit_chains_verify(batch_size=batch_size), "")
    org_id = organization.pk if organization is not None else None
    chain = chain_key(org_id)
    results = [_chain_verify(chain, count_organization=org_id, batch_size=batch_size)]
    own = {"organization_id": org_id} if org_id else {"organization__isnull": True}
    if AuditEvent.objects.filter(chain=LEGACY_CHAIN, **own).exists():
        results.append(
            _chain_verify(
                LEGACY_CHAIN, count_organization=org_id, batch_size=batch_size
            )
        )
    return _combine(results, chain)

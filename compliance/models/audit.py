"""The audit trail's events."""

from __future__ import annotations

from django.db import models

from compliance.models.tenancy import Organization


class AuditEvent(models.Model):
    """One link of a tamper-evident audit chain.

    One chain per organisation (``chain = "org:<id>"``) and one for platform events
    (``"platform"``), each numbered from 1. ``hash = HMAC-SHA256(key, prev_hash +
    canonical JSON of the event)`` with the key ``key_id`` names (never stored in the
    database). Events from before migration 0011 form the closed ``"legacy"`` chain,
    global and hashed with plain sha256 (``key_id`` empty); see compliance.audit.
    """

    chain = models.CharField(max_length=40)
    sequence = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,  # led by the (organization, sequence) index
    )
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["id"]
        # constraints rather than unique=True: PostgreSQL then builds no second
        # (pattern-ops) index on hash, which every audited request would write
        constraints = [
            models.UniqueConstraint(fields=["hash"], name="uniq_audit_hash"),
            models.UniqueConstraint(
                fields=["chain", "sequence"], name="uniq_audit_chain_sequence"
            ),
        ]
        indexes = [
            # an organisation's events in the order they were written (its legacy
            # events, then its own chain)
            models.Index(fields=["organization", "id"], name="audit_org_id_idx"),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return (
            f"{self.chain} #{self.sequence} {self.action} "
            f"{self.object_type}:{self.object_id}"
        )


class ChainAnchor(models.Model):
    """A chain's head at a point in time, with an RFC 3161 timestamp token when a Time
    Stamping Authority was configured: deleting or rewriting anchored events is then
    detectable even by someone who holds the database and the HMAC key.

    The token's message imprint is ``sha256("inspectoscope-anchor:<chain>:<sequence>:
    <head_hash>")`` (compliance.audit.anchors). Append-only like the events.
    """

    chain = models.CharField(max_length=40)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # anchors are read per chain
    )
    sequence = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    anchored_at = models.DateTimeField()
    tsa_url = models.CharField(max_length=300, blank=True)
    tsa_token = models.BinaryField(null=True, blank=True)
    # why a configured TSA gave no token (the anchor is then unsigned)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["chain", "sequence", "id"]
        indexes = [
            models.Index(fields=["chain", "sequence"], name="audit_anchor_chain_idx")
        ]

    def __str__(self) -> str:
        signed = "signed" if self.tsa_token else "unsigned"
        return f"anchor {self.chain} #{self.sequence} ({signed})"

"""The audit trail's events."""

from __future__ import annotations

from django.db import models

from compliance.models.tenancy import Organization


class AuditEvent(models.Model):
    """One link of the tamper-evident audit chain.

    ``hash = sha256(prev_hash + canonical JSON of the event)``; see compliance.audit.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
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

    class Meta:
        ordering = ["sequence"]
        # a constraint rather than unique=True: PostgreSQL then builds no second
        # (pattern-ops) index on hash, which every audited request would write
        constraints = [models.UniqueConstraint(fields=["hash"], name="uniq_audit_hash")]
        indexes = [
            models.Index(fields=["organization", "sequence"]),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"

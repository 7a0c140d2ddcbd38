"""Webhooks: endpoints an organisation's admins register, and the deliveries of events
to them (an outbox: a delivery row is written in the transaction of the audit event it
reports, then sent by jobs of the job engine)."""

from __future__ import annotations

from django.db import models

from compliance.models.decisions import Decision
from compliance.models.jobs import Job
from compliance.models.tenancy import Organization

EVENT_TYPES = (
    "decision.received",
    "explanation.completed",
    "explanation.failed",
    "dossier.issued",
    "notice.issued",
    "review.recorded",
    "decision.finalized",
)


class WebhookEndpoint(models.Model):
    """Where an organisation wants its events sent, and which ones."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # event types, a subset of EVENT_TYPES
    # signs every delivery (HMAC-SHA256); shown once, when created or rotated
    secret = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # the current run of failed attempts: since when, how many (reset by a success)
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # kept for its log

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["organization", "enabled"], name="webhook_org_idx")
        ]

    def __str__(self) -> str:
        return f"Webhook {self.pk} ({self.url})"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the body is fixed when the event happens, so every
    attempt and every redelivery sends the same bytes with the same event id."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    body = models.TextField()  # the JSON document sent, byte for byte
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="uniq_webhook_delivery_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> endpoint {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One try of a delivery: when, what the receiver answered, how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.PROTECT, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    job = models.ForeignKey(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    manual = models.BooleanField(default=False)  # a redelivery somebody asked for
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

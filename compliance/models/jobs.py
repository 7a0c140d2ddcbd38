"""One table for every kind of background work, with one lease protocol
(compliance.jobs.engine)."""

from __future__ import annotations

from django.db import models

from compliance.models.decisions import Decision
from compliance.models.tenancy import Organization


class Job(models.Model):
    """A unit of background work. The table is the source of truth: a broker message
    only wakes a worker, which claims jobs here with a token-based lease."""

    class Kind(models.TextChoices):
        EXPLANATION = "explanation", "Explanation"
        DOSSIER = "dossier", "Dossier"
        NOTICE = "notice", "Notice"
        AUDIT_VERIFY = "audit_verify", "Audit chain verification"
        REPORT = "report", "Oversight report"
        WEBHOOK = "webhook", "Webhook delivery"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    # the decision the job is about; none for an organisation's chain verification
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="jobs", null=True, blank=True
    )
    # jobs with the same batch key may be claimed and run together (explanations: one
    # model version)
    batch_key = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    request_sha256 = models.CharField(max_length=64)
    requested_by = models.CharField(max_length=200, blank=True)
    dossier = models.ForeignKey(
        "Dossier", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notice = models.ForeignKey(
        "Notice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    lease_token = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # not claimed before this time (back-off after a transient failure)
    available_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "request_sha256"],
                name="uniq_job_per_request",
            )
        ]
        indexes = [
            models.Index(
                fields=["kind", "status", "batch_key", "created_at"],
                name="job_claim_idx",
            ),
            models.Index(fields=["status", "lease_until"], name="job_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} job {self.pk} ({self.status})"

    @property
    def subject_decision(self) -> Decision:
        """The decision the job is about: every kind has one but ``audit_verify``."""
        if self.decision is None:
            raise LookupError(f"{self} is about no decision.")
        return self.decision

    @property
    def methods(self) -> list[str]:
        """The explanation methods asked for (explanation jobs)."""
        return list(self.payload.get("methods", []))

"""What jobs produce: explanations (per run and per method), dossiers and notices."""

from __future__ import annotations

from django.db import models

from compliance.models.decisions import Decision
from compliance.models.jobs import Job
from compliance.models.tenancy import Organization


class ExplanationRun(models.Model):
    """The decision-level results of one explanation job: stored once per run, not
    copied into each method's row. Immutable."""

    job = models.OneToOneField(
        Job, on_delete=models.PROTECT, related_name="explanation_run"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="explanation_runs"
    )
    primary_method = models.CharField(max_length=40)
    prediction = models.FloatField()
    output = models.FloatField()
    output_units = models.CharField(max_length=40, default="logit")
    predicted_outcome = models.CharField(max_length=100)
    counterfactual = models.JSONField(null=True, blank=True)
    counterfactual_note = models.TextField(blank=True)
    agreement = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    needs_review = models.BooleanField(default=False)
    needs_review_reasons = models.JSONField(default=list)
    # the first requested method that drives reasons; "" when none does (then each
    # method's reasons_note says why) and on runs stored before it was recorded
    reasons_method = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Explanation run {self.pk} of decision {self.decision_id}"


class Explanation(models.Model):
    """One method's explanation of a decision within a run. Immutable."""

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="explanations")
    run = models.ForeignKey(
        ExplanationRun, on_delete=models.PROTECT, related_name="explanations"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="explanations"
    )
    method = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    attributions = models.JSONField()
    output = models.FloatField()
    baseline_output = models.FloatField()
    baseline = models.JSONField()
    baseline_kind = models.CharField(max_length=20)
    convergence_delta = models.FloatField(null=True, blank=True)
    n_steps = models.PositiveIntegerField(null=True, blank=True)
    # from this method's own attributions
    reasons = models.JSONField(default=list)
    # why this method gives no reasons (saliency, input x gradient); "" when it does
    reasons_note = models.TextField(blank=True, default="")
    # sampled methods: {feature: standard error} (0 where exact, null where unknown);
    # null for deterministic methods and for explanations stored before it was kept
    standard_errors = models.JSONField(null=True, blank=True)
    warnings = models.JSONField(default=list)
    quality = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # a job's result per method is stored once, even if two workers race
            models.UniqueConstraint(
                fields=["job", "method"], name="uniq_explanation_per_job_method"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} explanation of decision {self.decision_id}"


class Dossier(models.Model):
    """An issued explanation dossier (PDF). Immutable: a reissue is a new version."""

    public_id = models.CharField(max_length=40, unique=True)
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="dossiers"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField()
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.PositiveIntegerField()
    pages = models.PositiveIntegerField()
    issued_by = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    # what the content was made from (decision state, explanations, reviews): issuing
    # again with the same content returns this version instead of a new one
    content_sha256 = models.CharField(max_length=64, blank=True, default="")
    # why a version with unchanged content was issued anyway (empty otherwise)
    reissue_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["decision", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "version"], name="uniq_dossier_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} v{self.version}"


class Notice(models.Model):
    """An issued notice to the person a decision is about, in one language (HTML and
    PDF). Immutable: a reissue is a new version. ``content`` holds every fact the
    notice states (reasons, values, the counterfactual), as the checker verified it
    against the stored explanation."""

    public_id = models.CharField(max_length=40, unique=True)
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="notices"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    language = models.CharField(max_length=8)
    version = models.PositiveIntegerField()
    html = models.TextField()
    html_sha256 = models.CharField(max_length=64)
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.PositiveIntegerField()
    pages = models.PositiveIntegerField()
    content = models.JSONField()
    # the faithfulness check that passed before it was issued
    check_result = models.JSONField(default=dict)
    # texts that had no variant in the notice's language (the base text was used)
    warnings = models.JSONField(default=list)
    issued_by = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["decision", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "language", "version"],
                name="uniq_notice_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} v{self.version} ({self.language})"

"""Domain models. Writes go through compliance.services, never .save() from views."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Organization(models.Model):
    class Jurisdiction(models.TextChoices):
        EU = "EU", "European Union"
        US = "US", "United States"
        EU_US = "EU+US", "European Union and United States"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    jurisdiction = models.CharField(
        max_length=8, choices=Jurisdiction.choices, default=Jurisdiction.EU
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role in one organisation. A user belongs to at most one organisation."""

    class Role(models.TextChoices):
        OFFICER = "officer", "Compliance officer"
        AUDITOR = "auditor", "Auditor"
        ADMIN = "admin", "Administrator"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"


class ClientSystem(models.Model):
    """A machine client (a bank's loan engine) that submits decisions with an API key."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="client_systems"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="uniq_client_system_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization.slug})"


class ApiKey(AbstractAPIKey):
    """Hashed API key (sha512 of a high-entropy secret); the key itself is shown once."""

    client_system = models.ForeignKey(
        ClientSystem, on_delete=models.PROTECT, related_name="api_keys"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class AISystem(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="ai_systems"
    )
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=200)
    intended_purpose = models.TextField()
    annex_iii_category = models.CharField(max_length=200, blank=True)
    deployer = models.CharField(max_length=200, blank=True)
    instructions_for_use = models.TextField(blank=True)
    known_limitations = models.TextField(blank=True)
    explain_on_receipt = models.BooleanField(
        default=False, help_text="Queue an explanation job for every decision received."
    )
    blind_first_review = models.BooleanField(
        default=False,
        help_text="Reviewers record a preliminary view before the model's output is shown.",
    )
    default_explanation_methods = models.JSONField(
        default=list,
        blank=True,
        help_text="Methods for explain-on-receipt; empty = default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "AI system"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="uniq_ai_system_name_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


def _weights_upload_to(instance: ModelVersion, filename: str) -> str:
    return f"weights/{instance.weights_sha256}.safetensors"


class ModelVersion(models.Model):
    """A trained model. Immutable once a decision references it.

    ``class_labels`` is ``[negative, positive]``; the model outputs the probability of
    the positive ("scored") class, and ``score`` in a decision is that probability.
    """

    ai_system = models.ForeignKey(
        AISystem, on_delete=models.PROTECT, related_name="model_versions"
    )
    version = models.CharField(max_length=50)
    architecture = models.CharField(max_length=50)
    hyperparameters = models.JSONField(default=dict, blank=True)
    weights = models.FileField(upload_to=_weights_upload_to)
    weights_sha256 = models.CharField(max_length=64)
    feature_schema = models.JSONField()
    class_labels = models.JSONField()
    favourable_class = models.CharField(max_length=100)
    decision_threshold = models.FloatField(default=0.5)
    training_data_summary = models.TextField(blank=True)
    performance_metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ai_system", "version"], name="uniq_model_version_per_ai_system"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ai_system.name} {self.version}"

    @property
    def scored_class(self) -> str:
        return self.class_labels[-1]


class Decision(models.Model):
    class Status(models.TextChoices):
        UNREVIEWED = "unreviewed", "Unreviewed"
        NEEDS_REVIEW = "needs_review", "Needs review"
        REVIEWED = "reviewed", "Reviewed"
        ESCALATED = "escalated", "Escalated"

    # no single-column indexes where a composite one below leads with the column: every
    # index is written on each submission
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    ai_system = models.ForeignKey(
        AISystem, on_delete=models.PROTECT, related_name="decisions"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="decisions"
    )
    client_system = models.ForeignKey(
        ClientSystem,
        on_delete=models.PROTECT,
        related_name="decisions",
        db_index=False,
    )
    external_id = models.CharField(max_length=200)
    subject_ref = models.CharField(max_length=200)
    features = models.JSONField()
    score = models.FloatField(
        help_text="Probability of the model version's scored class."
    )
    outcome = models.CharField(max_length=100)
    decided_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.UNREVIEWED
    )
    prediction_consistent = models.BooleanField(
        null=True,
        help_text="Whether re-running the model reproduced the reported score.",
    )
    reproduced_score = models.FloatField(null=True, blank=True)
    submission_sha256 = models.CharField(
        max_length=64, help_text="Canonical hash of the submission."
    )

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_system", "external_id"],
                name="uniq_decision_external_id_per_client",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "-decided_at"]),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return f"Decision {self.pk} ({self.external_id})"


class Review(models.Model):
    """A human review; append-only."""

    class Action(models.TextChoices):
        UPHOLD = "uphold", "Uphold"
        OVERTURN = "overturn", "Overturn"
        ESCALATE = "escalate", "Escalate"

    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    justification = models.TextField()
    human_outcome = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of decision {self.decision_id}"


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


class ExplanationJob(models.Model):
    """A request for explanations of one decision. The table is the source of truth for
    work: a Celery message only wakes a worker, which claims jobs here with a lease."""

    class Kind(models.TextChoices):
        EXPLANATION = "explanation", "Explanation"
        DOSSIER = "dossier", "Dossier"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="explanation_jobs"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(
        max_length=12, choices=Kind.choices, default=Kind.EXPLANATION
    )
    methods = models.JSONField()
    parameters = models.JSONField(default=dict)
    request_sha256 = models.CharField(max_length=64)
    dossier = models.ForeignKey(
        "Dossier", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    lease_token = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
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
                name="uniq_explanation_job_per_request",
            )
        ]
        indexes = [
            models.Index(fields=["status", "model_version", "created_at"]),
            models.Index(fields=["status", "lease_until"]),
        ]

    def __str__(self) -> str:
        return f"Explanation job {self.pk} ({self.status})"


class Explanation(models.Model):
    """One method's explanation of a decision, as computed by a job. Immutable."""

    job = models.ForeignKey(
        ExplanationJob, on_delete=models.PROTECT, related_name="explanations"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="explanations"
    )
    method = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    attributions = models.JSONField()
    output = models.FloatField()
    baseline_output = models.FloatField()
    output_units = models.CharField(max_length=40, default="logit")
    prediction = models.FloatField()
    baseline = models.JSONField()
    baseline_kind = models.CharField(max_length=20)
    convergence_delta = models.FloatField(null=True, blank=True)
    n_steps = models.PositiveIntegerField(null=True, blank=True)
    reasons = models.JSONField(default=list)
    counterfactual = models.JSONField(null=True, blank=True)
    counterfactual_note = models.TextField(blank=True)
    quality = models.JSONField(default=dict)
    agreement = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    needs_review = models.BooleanField(default=False)
    needs_review_reasons = models.JSONField(default=list)
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

    class Meta:
        ordering = ["decision", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "version"], name="uniq_dossier_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} v{self.version}"


class PreliminaryView(models.Model):
    """A reviewer's view of a case recorded before seeing the model's output (blind-first
    review, against automation bias). One per reviewer and decision; immutable."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=100)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "reviewer"], name="uniq_preliminary_view"
            )
        ]

    def __str__(self) -> str:
        return f"Preliminary view on decision {self.decision_id}"

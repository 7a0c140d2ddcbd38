"""Decisions received from client systems, and the human reviews of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from compliance.models.registry import AISystem, ModelVersion
from compliance.models.tenancy import ClientSystem, Organization


class Decision(models.Model):
    class Status(models.TextChoices):
        UNREVIEWED = "unreviewed", "Unreviewed"
        NEEDS_REVIEW = "needs_review", "Needs review"
        # reviewed, not yet final: an overturn waiting for a second officer (four-eyes)
        REVIEWED = "reviewed", "Reviewed"
        ESCALATED = "escalated", "Escalated"
        FINAL = "final", "Final"
        # the person contested it (GDPR Art. 22(3), AI Act Art. 86): open for review
        # again, whatever its status was; the final outcome stays until a new review
        CONTESTED = "contested", "Contested"

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
    # the outcome that stands after human review (the model's, or the one an overturn
    # gave); set only by compliance.reviews when the decision becomes final
    final_outcome = models.CharField(max_length=100, blank=True)
    final_outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    finalized_at = models.DateTimeField(null=True, blank=True)
    # a training drill (compliance.reviews.drills): a copy of a real case with a known
    # correct answer, never shown to client systems, never in real statistics
    is_drill = models.BooleanField(default=False)
    # case management: the reviewer who works the case (an officer or admin of the
    # organisation); set only by compliance.reviews.assignment, each change audited.
    # A drill's reviewer is its Drill.assigned_to (compliance.reviews.drills).
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

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
            # the monitoring's monthly GROUP BYs read one system's months
            models.Index(fields=["ai_system", "decided_at"]),
        ]

    def __str__(self) -> str:
        return f"Decision {self.pk} ({self.external_id})"


class Review(models.Model):
    """A human review; append-only. A reviewer who changes their mind records a new
    review that ``supersedes`` their earlier one, with a reason."""

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
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
    )
    supersede_reason = models.TextField(blank=True)
    # when the reviewer opened the case (the case page's signed stamp), and the time
    # from then to this review; null where unknown (API reviews)
    opened_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of decision {self.decision_id}"


class ReviewConfirmation(models.Model):
    """A second officer's confirmation of an overturn (four-eyes); immutable."""

    review = models.OneToOneField(
        Review, on_delete=models.PROTECT, related_name="confirmation"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Confirmation of review {self.review_id}"


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
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"Preliminary view on decision {self.decision_id}"


class Contest(models.Model):
    """A person's contest of a decision, as their client system forwarded it. It
    reopens the case for review; immutable."""

    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="contests"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    statement = models.TextField()
    # the reference the person quoted (their notice's, or the client's)
    reference = models.CharField(max_length=200, blank=True)
    received_from = models.CharField(max_length=200)
    previous_status = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Contest of decision {self.decision_id}"


class Drill(models.Model):
    """A training drill against automation bias: a copy of a real case (``decision``,
    ``is_drill``) with a known correct answer, built by an administrator and put in
    a reviewer's queue at the AI system's drill rate. Immutable but for the
    assignment."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+"
    )
    ai_system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="+")
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="drill"
    )
    correct_outcome = models.CharField(max_length=100)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Drill {self.pk} from decision {self.source_id}"

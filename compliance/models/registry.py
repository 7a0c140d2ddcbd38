"""AI systems and their model versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from compliance.models.tenancy import Organization


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
    # None: on for Annex III systems (blind_first_required)
    blind_first_review = models.BooleanField(
        null=True,
        blank=True,
        default=None,
        help_text="Reviewers record a preliminary view before the model's output is "
        "shown; unset: on for Annex III systems.",
    )
    # training drills against automation bias (opt-in): the share of a reviewer's
    # cases that are drills; 0 = off
    drill_rate = models.FloatField(
        default=0.0,
        help_text="Share of a reviewer's cases that are training drills (0 to 0.5); "
        "0 = no drills.",
    )
    default_explanation_methods = models.JSONField(
        default=list,
        blank=True,
        help_text="Methods for explain-on-receipt; empty = default.",
    )
    four_eyes_overturn = models.BooleanField(
        null=True,
        blank=True,
        default=None,
        help_text="An overturn waits for a second officer's confirmation; "
        "unset: on for Annex III systems.",
    )
    # the most an explanation request for one decision may cost, in model
    # evaluations (explain.cost); unset: EXPLANATION_COST_BUDGET. Never above
    # EXPLANATION_COST_BUDGET_MAX.
    explanation_cost_budget = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most model evaluations one explanation request may cost per "
        "decision; empty = the platform default.",
    )
    # hours from receipt within which a case should be reviewed; unset:
    # REVIEW_SLA_HOURS. The case queue marks open cases past it.
    review_sla_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Hours from receipt within which a case should be reviewed; "
        "empty = the platform default (REVIEW_SLA_HOURS).",
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

    @property
    def explanation_cost_limit(self) -> int:
        """The budget of an explanation request (model evaluations per decision): the
        system's own, else the platform default; never above the platform maximum."""
        own = self.explanation_cost_budget
        budget = settings.EXPLANATION_COST_BUDGET if own is None else own
        return int(min(budget, settings.EXPLANATION_COST_BUDGET_MAX))

    @property
    def review_sla(self) -> int:
        """Hours from receipt within which a case should be reviewed: the system's
        own, else the platform default."""
        own = self.review_sla_hours
        return int(settings.REVIEW_SLA_HOURS if own is None else own)

    @property
    def blind_first_required(self) -> bool:
        """Whether reviewers record a blind preliminary view (default: Annex III)."""
        if self.blind_first_review is not None:
            return self.blind_first_review
        return bool(self.annex_iii_category.strip())

    @property
    def four_eyes_required(self) -> bool:
        """Whether an overturn needs a second officer (default: Annex III systems)."""
        if self.four_eyes_overturn is not None:
            return self.four_eyes_overturn
        return bool(self.annex_iii_category.strip())


def _weights_upload_to(instance: ModelVersion, filename: str) -> str:
    suffix = "onnx" if instance.architecture == ONNX else "safetensors"
    return f"weights/{instance.weights_sha256}.{suffix}"


# the architecture of a model version uploaded as an ONNX file (issue 18)
ONNX = "onnx"


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
    # Set when the weights on disk no longer match weights_sha256 (an integrity
    # incident): decisions are still accepted, but each enters as "needs review".
    integrity_suspended_at = models.DateTimeField(null=True, blank=True)
    integrity_suspended_reason = models.CharField(
        max_length=300, blank=True, default=""
    )
    # explain.proxies.proxy_analysis of the schema's background rows, measured at
    # registration: which features stand in for which protected attribute. Empty
    # for versions registered before the analysis existed.
    proxy_analysis = models.JSONField(
        default=dict,
        blank=True,
        help_text="How well the other features predict each protected attribute, "
        "measured at registration; flagged proxies are watched like protected "
        "features.",
    )

    # per input feature, the training population's distribution (explain.drift
    # .training_distribution): bins with their shares; the reference of drift
    # monitoring. Empty: taken from the schema's background rows.
    training_distribution = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per feature, the training data's distribution (numeric: bin edges "
        "and shares; categorical: shares per category); the reference for drift.",
    )

    # how the model runs (explain.onnx_models): "torch" (a registry architecture),
    # "onnx_torch" (an ONNX network converted to torch) or "onnx_runtime"
    execution = models.CharField(max_length=20, default="torch")
    # the methods it offers; empty: every network method (registry versions)
    available_methods = models.JSONField(default=list, blank=True)
    # an ONNX version's checks at registration: operators, opsets, the execution
    # path's comparison with onnxruntime
    onnx_plan = models.JSONField(default=dict, blank=True)

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

    @property
    def is_onnx(self) -> bool:
        return self.architecture == ONNX

    @property
    def methods(self) -> list[str]:
        """The attribution methods this version offers."""
        from explain.methods import NETWORK_METHODS

        return list(self.available_methods or NETWORK_METHODS)

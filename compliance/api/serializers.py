"""Input and output shapes of the API. No business logic: services decide."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.api.fields import (
    CleanJSONDictField,
    FiniteFloatField,
    JSONValueField,
    RejectUnknownFieldsMixin,
    StrictCharField,
    StrictIntegerField,
)
from compliance.api.schema import FEATURE_SCHEMA_REF
from compliance.dossiers.selectors import dossier_superseded
from compliance.models import (
    AISystem,
    Decision,
    Dossier,
    Explanation,
    Job,
    ModelVersion,
    Review,
)
from explain import METHODS


class AISystemOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AISystem
        fields = [
            "id",
            "name",
            "provider",
            "intended_purpose",
            "annex_iii_category",
            "deployer",
            "instructions_for_use",
            "known_limitations",
            "explain_on_receipt",
            "default_explanation_methods",
            "four_eyes_overturn",
            "four_eyes_required",
            "blind_first_review",
            "blind_first_required",
            "explanation_cost_budget",
            "explanation_cost_limit",
            "created_at",
        ]
        read_only_fields = fields

    four_eyes_required = serializers.BooleanField(
        read_only=True,
        help_text="Whether an overturn waits for a second officer: four_eyes_overturn, "
        "or when unset, whether the system has an Annex III category.",
    )
    blind_first_required = serializers.BooleanField(
        read_only=True,
        help_text="Whether reviewers record a preliminary view before the model's "
        "output is shown: blind_first_review, or when unset, whether the system has "
        "an Annex III category.",
    )


class AISystemInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = StrictCharField(max_length=200)
    provider = StrictCharField(max_length=200)
    intended_purpose = StrictCharField(max_length=5000)
    annex_iii_category = StrictCharField(
        max_length=200, required=False, allow_blank=True
    )
    deployer = StrictCharField(max_length=200, required=False, allow_blank=True)
    instructions_for_use = StrictCharField(
        max_length=20000, required=False, allow_blank=True
    )
    known_limitations = StrictCharField(
        max_length=20000, required=False, allow_blank=True
    )
    explain_on_receipt = serializers.BooleanField(required=False, default=False)
    default_explanation_methods = serializers.ListField(
        child=StrictCharField(max_length=40), required=False, max_length=10
    )
    four_eyes_overturn = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Overturns wait for a second officer's confirmation; "
        "null (default): on for Annex III systems.",
    )
    blind_first_review = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Reviewers record a preliminary view before the model's output is "
        "shown (against automation bias); null (default): on for Annex III systems.",
    )
    explanation_cost_budget = StrictIntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="Most model evaluations one explanation request may cost per "
        "decision (README: explanation cost limits); null: the platform default. "
        "Never above the platform maximum.",
    )


@extend_schema_field(FEATURE_SCHEMA_REF)
class FeatureSchemaField(serializers.JSONField):
    """A model version's feature schema (the ``FeatureSchema`` JSON Schema)."""


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    scored_class = serializers.CharField(read_only=True)
    execution = serializers.CharField(
        read_only=True,
        help_text="How the model runs: torch (a registry architecture), onnx_torch "
        "(an ONNX network converted to torch: every method) or onnx_runtime (an "
        "ONNX model run by onnxruntime: the perturbation methods, and tree_shap for "
        "a tree ensemble).",
    )
    available_methods = serializers.ListField(
        source="methods",
        child=serializers.CharField(),
        read_only=True,
        help_text="The attribution methods this version offers; others are refused "
        "with a 400 naming why.",
    )
    onnx_plan = serializers.JSONField(
        read_only=True,
        help_text="For an ONNX version: its operators and opsets, the execution "
        "path, and how closely that path reproduced onnxruntime at registration "
        "(largest relative difference on the baseline and background rows); empty "
        "otherwise.",
    )
    feature_schema = FeatureSchemaField(read_only=True)
    proxy_analysis = serializers.JSONField(
        read_only=True,
        help_text="Measured at registration on the feature schema's background rows "
        "(explain.proxies): status ('analysed' or 'not_analysed' with a note), rows, "
        "threshold (proxy score from which a feature is flagged), max_p_value, per "
        "protected attribute its kind, probe (cross-validated logistic regression: "
        "balanced accuracy, or ridge regression: R^2, with chance and over_chance), "
        "features (each non-protected feature's chance-corrected share of the "
        "attribute's entropy, score, and its permutation p_value) and flagged "
        "proxies; and proxies: {feature: [protected attributes it stands for]}. A "
        "flagged proxy with a share of at least 0.30 of a decision's attribution "
        "raises the protected_attribute_influence warning. Empty for versions "
        "registered before the analysis existed.",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "ai_system",
            "version",
            "architecture",
            "hyperparameters",
            "weights_sha256",
            "feature_schema",
            "class_labels",
            "scored_class",
            "favourable_class",
            "decision_threshold",
            "training_data_summary",
            "performance_metrics",
            "is_active",
            "created_at",
            "integrity_suspended_at",
            "integrity_suspended_reason",
            "proxy_analysis",
            "training_distribution",
            "execution",
            "available_methods",
            "onnx_plan",
        ]
        read_only_fields = fields


class ModelVersionInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Multipart form: JSON-valued fields are JSON strings. The model is either a
    registry ``architecture`` with ``hyperparameters`` and a safetensors ``weights``
    file, or an ``onnx`` file with its ``output`` declaration."""

    ai_system = serializers.IntegerField(min_value=1)
    version = StrictCharField(max_length=50)
    architecture = StrictCharField(
        max_length=50,
        required=False,
        default="",
        help_text="A registry architecture (logistic_regression, mlp), sent with "
        "weights; leave out for an ONNX model.",
    )
    hyperparameters = JSONValueField(expected=dict, required=False, default=dict)
    feature_schema = JSONValueField(
        expected=dict,
        help_text="JSON text of a FeatureSchema document (see that component).",
    )
    class_labels = JSONValueField(expected=list)
    favourable_class = StrictCharField(max_length=100)
    decision_threshold = serializers.FloatField(min_value=0.0, max_value=1.0)
    training_data_summary = StrictCharField(
        max_length=20000, required=False, allow_blank=True, default=""
    )
    performance_metrics = JSONValueField(expected=dict, required=False, default=dict)
    training_distribution = JSONValueField(
        expected=dict,
        required=False,
        default=None,
        help_text="JSON text: the training data's distribution per feature "
        '({"features": {name: {"edges": [...], "shares": [...]} or {"categories": '
        '[...], "shares": [...]}}}), the reference of drift monitoring; without it '
        "the schema's background rows stand in.",
    )
    weights = serializers.FileField(
        required=False,
        default=None,
        help_text="A .safetensors file for the registry architecture; pickles are "
        "refused.",
    )
    onnx = serializers.FileField(
        required=False,
        default=None,
        help_text="An .onnx model instead of architecture and weights: one float "
        "input [N, encoded width of the feature schema], operators from the default "
        "and ai.onnx.ml domains only, no external data; checked, smoke-run on the "
        "schema's baseline row, and run converted to torch (networks) or in "
        "onnxruntime (anything else, tree ensembles included).",
    )
    output = JSONValueField(
        expected=dict,
        required=False,
        default=None,
        help_text='JSON text, with onnx: {"kind": "probability" or "logit", '
        '"index": n}: which output of the graph is the scored class\'s probability '
        "or logit (index 0 when left out).",
    )

    def validate_decision_threshold(self, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise serializers.ValidationError("Must be a finite number.")
        return value


class DecisionInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    model_version = serializers.IntegerField(min_value=1, max_value=2**62)
    external_id = StrictCharField(
        max_length=200, help_text="Idempotency key, unique per client system."
    )
    subject_ref = StrictCharField(
        max_length=200, help_text="Pseudonymous subject reference; no names."
    )
    features = CleanJSONDictField(
        help_text="{feature name: value} per the feature schema."
    )
    score = FiniteFloatField(
        min_value=0.0, max_value=1.0, help_text="Probability of the scored class."
    )
    outcome = StrictCharField(
        max_length=100, help_text="One of the model version's class_labels."
    )
    decided_at = serializers.DateTimeField(help_text="ISO 8601 with a timezone offset.")

    def validate_model_version(self, value: Any) -> int:
        if isinstance(self.initial_data.get("model_version"), bool):
            raise serializers.ValidationError("A valid integer is required.")
        return value

    def validate_decided_at(self, value: Any) -> Any:
        raw = self.initial_data.get("decided_at")
        if isinstance(raw, str) and not (
            raw.endswith(("Z", "z")) or "+" in raw[10:] or "-" in raw[10:]
        ):
            raise serializers.ValidationError(
                "Include a timezone offset, e.g. 2026-11-20T10:15:00Z."
            )
        return timezone.localtime(value, timezone.get_fixed_timezone(0))


HIDDEN_WHILE_BLIND = (
    " Null while blind_pending (blind-first review: the reader has not recorded a "
    "preliminary view yet)."
)
# the fields that tell the model's answer, nulled for a reviewer while blind_pending
# (prediction_consistent stays, like the status and the queue's flags: it says why a
# case waits for review, not what the model answered)
BLIND_FIELDS = ("score", "outcome", "reproduced_score", "final_outcome")


class DecisionOutputSerializer(serializers.ModelSerializer):
    score = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Probability of the model version's scored class."
        + HIDDEN_WHILE_BLIND,
    )
    outcome = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The model's outcome (one of class_labels)." + HIDDEN_WHILE_BLIND,
    )
    reproduced_score = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="The score the service reproduced at intake." + HIDDEN_WHILE_BLIND,
    )
    final_outcome = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The outcome that stands after human review ('' until final)."
        + HIDDEN_WHILE_BLIND,
    )
    blind_pending = serializers.SerializerMethodField(
        help_text="True when the decision's AI system uses blind-first review and the "
        "caller, a reviewer (officer or admin), has not recorded a preliminary view "
        "of it yet: score, outcome, reproduced_score and final_outcome are null, "
        "and its explanations, reviews and dossier PDFs "
        "answer 403 blind_pending until then. Always false for client systems and "
        "auditors."
    )
    final_outcome_by = serializers.CharField(
        source="final_outcome_by.username",
        allow_null=True,
        read_only=True,
        help_text="Username of the reviewer whose review gave the final outcome.",
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "external_id",
            "subject_ref",
            "ai_system",
            "model_version",
            "client_system",
            "features",
            "score",
            "outcome",
            "decided_at",
            "received_at",
            "status",
            "prediction_consistent",
            "reproduced_score",
            "final_outcome",
            "final_outcome_by",
            "finalized_at",
            "blind_pending",
        ]
        read_only_fields = fields

    def get_blind_pending(self, instance: Decision) -> bool:
        # set by the views' selector (reviews.selectors.blind_pending_annotate)
        return bool(getattr(instance, "blind_pending", False))

    def to_representation(self, instance: Decision) -> dict[str, Any]:
        """Written out: every submission answers with it, and DRF's generic version
        rebuilt the 17 fields on each response (0.6 ms of CPU). A test holds the two equal.
        """
        data: dict[str, Any] = {
            "id": instance.pk,
            "external_id": instance.external_id,
            "subject_ref": instance.subject_ref,
            "ai_system": instance.ai_system_id,
            "model_version": instance.model_version_id,
            "client_system": instance.client_system_id,
            "features": instance.features,
            "score": float(instance.score),
            "outcome": instance.outcome,
            "decided_at": _iso_utc(instance.decided_at),
            "received_at": _iso_utc(instance.received_at),
            "status": str(instance.status),
            "prediction_consistent": instance.prediction_consistent,
            "reproduced_score": (
                None
                if instance.reproduced_score is None
                else float(instance.reproduced_score)
            ),
            "final_outcome": instance.final_outcome,
            "final_outcome_by": (
                None
                if instance.final_outcome_by_id is None
                else instance.final_outcome_by.username  # type: ignore[union-attr]
            ),
            "finalized_at": _iso_utc(instance.finalized_at),
            "blind_pending": False,
        }
        if self.get_blind_pending(instance):
            data.update(dict.fromkeys(BLIND_FIELDS), blind_pending=True)
        return data


def _iso_utc(value: Any) -> str | None:
    """DRF's ISO 8601 rendering of an aware datetime in UTC: ``...Z``."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(METHODS)},
        "minItems": 1,
        "maxItems": 10,
        "uniqueItems": True,
    }
)
class MethodListField(serializers.ListField):
    """Explanation method identifiers, each at most once (checked by
    ``explanations.explanation_request_check``; the schema says so)."""


class ExplanationRequestInputSerializer(
    RejectUnknownFieldsMixin, serializers.Serializer
):
    methods = MethodListField(
        child=StrictCharField(max_length=40),
        required=False,
        max_length=10,
        help_text="Method identifiers; default ['integrated_gradients'].",
    )
    parameters = CleanJSONDictField(
        required=False, help_text="Per-method parameters and general options."
    )


class JobOutputSerializer(serializers.ModelSerializer):
    methods = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Explanation methods asked for (explanation jobs; [] otherwise).",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "status",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "kind",
            "decision",
            "dossier",
            "notice",
            "methods",
            "attempts",
        ]
        read_only_fields = fields


_COUNTERFACTUAL_OPTION = {
    "changes": {
        "type": "object",
        "description": "Each changed feature: {from: old value, to: new value}.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "from": {"$ref": "#/components/schemas/FeatureValue"},
                "to": {"$ref": "#/components/schemas/FeatureValue"},
            },
            "required": ["from", "to"],
        },
    },
    "descriptions": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The changes in plain words, one per feature.",
    },
    "cost": {"type": "number", "description": "Cost of the changes (lower first)."},
    "margin": {
        "type": "number",
        "description": "How far past the threshold, in probability, it must score.",
    },
    "outcome": {"type": "string", "description": "The outcome after the changes."},
    "outcome_before": {"type": "string"},
    "score_before": {"type": "number"},
    "score_after": {"type": "number"},
    "verified": {"type": "boolean"},
}


@extend_schema_field(
    {
        "type": ["object", "null"],
        "description": "The cheapest verified change that flips the outcome (null when "
        "none was found: see counterfactual_note), with up to 3 further verified "
        "options in alternatives, each changing another set of features, cheapest "
        "first. Explanations stored before alternatives existed have none.",
        "properties": {
            **_COUNTERFACTUAL_OPTION,
            "alternatives": {
                "type": "array",
                "maxItems": 3,
                "items": {"type": "object", "properties": _COUNTERFACTUAL_OPTION},
            },
        },
    }
)
class CounterfactualField(serializers.JSONField):
    """The run's counterfactual as stored, typed in the schema."""


@extend_schema_field(
    {
        "type": ["object", "null"],
        "description": "Sampled methods: each feature's attribution's standard error "
        "(0 where exact, null where unknown). Null for deterministic methods and for "
        "explanations stored before standard errors were kept.",
        "additionalProperties": {"type": ["number", "null"], "minimum": 0},
    }
)
class StandardErrorsField(serializers.JSONField):
    """Per-feature standard errors as the engine reported them."""


class ExplanationOutputSerializer(serializers.ModelSerializer):
    """One method's explanation; the decision-level results of its run (prediction,
    counterfactual, agreement, review flags) are the same for every method of a run."""

    output_units = serializers.CharField(source="run.output_units", read_only=True)
    prediction = serializers.FloatField(source="run.prediction", read_only=True)
    standard_errors = StandardErrorsField(read_only=True)
    reasons_note = serializers.SerializerMethodField()
    reasons_method = serializers.SerializerMethodField()
    counterfactual = CounterfactualField(source="run.counterfactual", read_only=True)
    counterfactual_note = serializers.CharField(
        source="run.counterfactual_note", read_only=True
    )
    agreement = serializers.JSONField(source="run.agreement", read_only=True)
    needs_review = serializers.BooleanField(source="run.needs_review", read_only=True)
    needs_review_reasons = serializers.ListField(
        source="run.needs_review_reasons", child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Explanation
        fields = [
            "method",
            "attributions",
            "output",
            "baseline_output",
            "output_units",
            "prediction",
            "baseline",
            "baseline_kind",
            "convergence_delta",
            "n_steps",
            "reasons",
            "reasons_note",
            "reasons_method",
            "standard_errors",
            "counterfactual",
            "counterfactual_note",
            "quality",
            "agreement",
            "warnings",
            "needs_review",
            "needs_review_reasons",
            "manifest",
            "parameters",
            "job",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": ["string", "null"],
            "description": "Why this method gives no principal reasons (saliency, "
            "input x gradient: local sensitivities, not shares of the outcome); "
            "null when it gives them.",
        }
    )
    def get_reasons_note(self, explanation: Explanation) -> str | None:
        return explanation.reasons_note or None

    @extend_schema_field(
        {
            "type": ["string", "null"],
            "description": "The method identifier whose reasons are the decision's: the "
            "first requested method that drives reasons. Null when none of the "
            "requested methods does (see reasons_note), and for runs stored before "
            "it was recorded.",
        }
    )
    def get_reasons_method(self, explanation: Explanation) -> str | None:
        return explanation.run.reasons_method or None


class DossierOutputSerializer(serializers.ModelSerializer):
    # a newer version of the same decision's dossier exists
    superseded = serializers.SerializerMethodField()
    reissue_reason = serializers.CharField(read_only=True)

    class Meta:
        model = Dossier
        fields = [
            "id",
            "public_id",
            "decision",
            "version",
            "sha256",
            "size_bytes",
            "pages",
            "issued_by",
            "issued_at",
            "superseded",
            "reissue_reason",
        ]
        read_only_fields = fields

    def get_superseded(self, obj: Dossier) -> bool:
        return dossier_superseded(obj)


class DossierVerifyInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Exactly one of ``sha256`` / ``pdf``; its OpenAPI form is ``views.VERIFY_REQUEST``."""

    # exactly 64 hex characters: no JSON number read as text, no whitespace trimmed
    sha256 = StrictCharField(
        required=False,
        trim_whitespace=False,
        validators=[
            RegexValidator(r"\A[0-9a-fA-F]{64}\Z", "Enter 64 hexadecimal characters.")
        ],
    )
    # an empty file is simply not one of our dossiers (verified: false)
    pdf = serializers.FileField(required=False, allow_empty_file=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        given = set(getattr(self.initial_data, "keys", lambda: [])())
        if len(given & {"sha256", "pdf"}) != 1 or ("sha256" in attrs) == (
            "pdf" in attrs
        ):
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        "Send either a sha256 (JSON) or a pdf file (multipart)."
                    ]
                }
            )
        return attrs


class ReviewOutputSerializer(serializers.ModelSerializer):
    """One human review of a decision; ``superseded_by`` is set when the same reviewer
    later replaced it (with ``supersede_reason`` on the newer review)."""

    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    superseded_by = serializers.SerializerMethodField()
    confirmed_by = serializers.SerializerMethodField()
    confirmed_at = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "decision",
            "reviewer",
            "action",
            "justification",
            "human_outcome",
            "created_at",
            "supersedes",
            "supersede_reason",
            "superseded_by",
            "confirmed_by",
            "confirmed_at",
        ]
        read_only_fields = fields

    def get_superseded_by(self, review: Review) -> int | None:
        newer = getattr(review, "superseded_by", None)
        return newer.pk if newer is not None else None

    def get_confirmed_by(self, review: Review) -> str | None:
        confirmation = getattr(review, "confirmation", None)
        return confirmation.confirmed_by.username if confirmation else None

    @extend_schema_field({"type": ["string", "null"], "format": "date-time"})
    def get_confirmed_at(self, review: Review) -> str | None:
        confirmation = getattr(review, "confirmation", None)
        return _iso_utc(confirmation.created_at) if confirmation else None

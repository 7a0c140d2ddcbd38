"""Inspectoscope's attribution engine: plain Python + torch + captum, no Django, no Celery.

Public API:
    schemas: parse_feature_schema, validate_feature_values, baseline_from_rows,
        FeatureSchema, FeatureSpec, FEATURE_SCHEMA_JSON_SCHEMA (the feature schema's
        shape as a JSON Schema draft 2020-12 document)
    models: ARCHITECTURES, MAX_PARAMETERS, build_model, parameter_count, load_model,
        predict_proba, model_to_safetensors, sha256_hex, default_device
    explanations: explain_batch, resolve_request, baselines_check, METHODS, METHOD_SPECS,
        MethodSpec, OUTPUT_UNITS, RowExplanation, MethodExplanation; NETWORK_METHODS
        (every method but tree_shap) and methods_available(model) (what a model can run)
    counterfactuals: counterfactual_search, counterfactual_search_batch
    cost: request_cost, schema_cost, cost_check, CostEstimate, CostExceeded (model
        evaluations per decision of a request, checked against a budget)
    errors: ExplainError and its subclasses

Example:
    >>> schema = parse_feature_schema(version.feature_schema)
    >>> model = load_model(architecture="mlp", schema=schema, hyperparameters={"hidden": [32, 16]},
    ...                    weights=data, expected_sha256=recorded, device=default_device())
    >>> explain_batch(model, rows, schema=schema, class_labels=["good", "bad"],
    ...               favourable_class="good", threshold=0.5, methods=["integrated_gradients"])
"""

from __future__ import annotations

from explain.cost import (
    CostEstimate,
    CostExceeded,
    cost_check,
    request_cost,
    schema_cost,
)
from explain.counterfactual import counterfactual_search, counterfactual_search_batch
from explain.distribution import distribution_errors, training_distribution
from explain.engine import (
    OUTPUT_UNITS,
    MethodExplanation,
    RowExplanation,
    baselines_check,
    default_device,
    explain_batch,
    resolve_request,
)
from explain.errors import (
    BadInput,
    BadParameter,
    ExplainError,
    ModelLoadError,
    ModelTooLarge,
    SchemaError,
    UnknownArchitecture,
    UnknownMethod,
    UnsafeWeightsFormat,
    WeightsHashMismatch,
    WeightsIncompatible,
)
from explain.loading import load_model, model_to_safetensors, predict_proba, sha256_hex
from explain.methods import (
    METHOD_SPECS,
    METHODS,
    NETWORK_METHODS,
    MethodSpec,
    methods_available,
)
from explain.models import (
    ARCHITECTURES,
    MAX_PARAMETERS,
    build_model,
    parameter_count,
)
from explain.schema import (
    FEATURE_SCHEMA_JSON_SCHEMA,
    MAX_FEATURES,
    FeatureSchema,
    FeatureSpec,
    baseline_from_rows,
    parse_feature_schema,
    validate_feature_values,
)

__all__ = [
    "distribution_errors",
    "training_distribution",
    "ARCHITECTURES",
    "FEATURE_SCHEMA_JSON_SCHEMA",
    "METHODS",
    "NETWORK_METHODS",
    "methods_available",
    "METHOD_SPECS",
    "OUTPUT_UNITS",
    "BadInput",
    "BadParameter",
    "CostEstimate",
    "CostExceeded",
    "ExplainError",
    "FeatureSchema",
    "FeatureSpec",
    "MethodExplanation",
    "MethodSpec",
    "MAX_FEATURES",
    "MAX_PARAMETERS",
    "ModelLoadError",
    "ModelTooLarge",
    "RowExplanation",
    "SchemaError",
    "UnknownArchitecture",
    "UnknownMethod",
    "UnsafeWeightsFormat",
    "WeightsHashMismatch",
    "WeightsIncompatible",
    "baseline_from_rows",
    "baselines_check",
    "build_model",
    "cost_check",
    "counterfactual_search",
    "counterfactual_search_batch",
    "default_device",
    "explain_batch",
    "load_model",
    "model_to_safetensors",
    "parameter_count",
    "parse_feature_schema",
    "predict_proba",
    "request_cost",
    "resolve_request",
    "schema_cost",
    "sha256_hex",
    "validate_feature_values",
]

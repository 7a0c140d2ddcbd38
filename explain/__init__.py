"""Inspectoscope's attribution engine: plain Python + torch (+ captum), no Django, no Celery.

Public API:
    parse_feature_schema, validate_feature_values, FeatureSchema, FeatureSpec
    build_model, load_model, predict_proba, model_to_safetensors, sha256_hex, ARCHITECTURES
    ExplainError and its subclasses
"""

from __future__ import annotations

from explain.errors import (
    ExplainError,
    ModelLoadError,
    SchemaError,
    UnknownArchitecture,
    UnsafeWeightsFormat,
    WeightsHashMismatch,
    WeightsIncompatible,
)
from explain.loading import load_model, model_to_safetensors, predict_proba, sha256_hex
from explain.models import ARCHITECTURES, build_model
from explain.schema import (
    FeatureSchema,
    FeatureSpec,
    parse_feature_schema,
    validate_feature_values,
)

__all__ = [
    "ARCHITECTURES",
    "ExplainError",
    "FeatureSchema",
    "FeatureSpec",
    "ModelLoadError",
    "SchemaError",
    "UnknownArchitecture",
    "UnsafeWeightsFormat",
    "WeightsHashMismatch",
    "WeightsIncompatible",
    "build_model",
    "load_model",
    "model_to_safetensors",
    "parse_feature_schema",
    "predict_proba",
    "sha256_hex",
    "validate_feature_values",
]

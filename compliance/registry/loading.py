"""Re-running a model version on a decision's inputs, with a bounded cache of loaded models."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

import explain
from compliance.audit import audit_event_append
from compliance.models import ModelVersion
from compliance.principals import SYSTEM_ACTOR
from explain.onnx_models import onnx_model_load
from explain.proxies import proxy_map
from explain.raw_inputs import raw_features_of

logger = logging.getLogger(__name__)

# No labels: one series, for an alert on any increase.
INTEGRITY_FAILURES = Counter(
    "inspectoscope_model_weights_integrity_failures_total",
    "Loads of a model version whose weights did not match the recorded sha256",
)

# |reproduced - reported| at or under this counts as reproduced (float32 vs float64 noise).
SCORE_TOLERANCE = 1e-4
_CACHE_SIZE = 8
_cache: OrderedDict[tuple[int, str, str, str], Any] = OrderedDict()
_lock = threading.Lock()


def model_version_load(
    model_version: ModelVersion, device: Any = "cpu"
) -> tuple[Any, explain.FeatureSchema]:
    """The model of a version and its parsed schema, loaded safely and hash-checked.

    Kept in a bounded LRU per (version, weights hash, device): web processes use the
    CPU to re-check scores, workers the GPU when there is one. The schema carries the
    version's flagged proxies (``FeatureSchema.proxies``) for the engine's
    protected-attribute warning.
    """
    definition = json.dumps(
        [
            model_version.architecture,
            model_version.hyperparameters,
            model_version.feature_schema,
            model_version.proxy_analysis,
        ],
        sort_keys=True,
    )
    key = (
        model_version.pk,
        model_version.weights_sha256,
        hashlib.sha256(definition.encode()).hexdigest(),
        str(device),
    )
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with model_version.weights.open("rb") as fh:
        data = fh.read()
    schema = dataclasses.replace(
        explain.parse_feature_schema(model_version.feature_schema),
        proxies=proxy_map(model_version.proxy_analysis),
    )
    try:
        model = _model_build(model_version, schema, data, device)
    except explain.WeightsHashMismatch:
        model_version_integrity_fail(model_version, hashlib.sha256(data).hexdigest())
        raise
    with _lock:
        _cache[key] = (model, schema)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model, schema


def _model_build(
    model_version: ModelVersion, schema: explain.FeatureSchema, data: bytes, device: Any
) -> Any:
    """A registry architecture with its weights, or an ONNX model the way its plan
    says (converted to torch, or in onnxruntime with a time limit per batch)."""
    if model_version.is_onnx:
        output = model_version.hyperparameters["output"]
        model = onnx_model_load(
            data,
            execution=model_version.execution,
            output_index=int(output["index"]),
            output_kind=str(output["kind"]),
            tree_ensemble="tree_shap" in model_version.methods,
            expected_sha256=model_version.weights_sha256,
            time_limit_seconds=float(settings.ONNX_BATCH_SECONDS),
            raw_features=raw_features_of(schema),
        )
        return model.to(device)
    return explain.load_model(
        architecture=model_version.architecture,
        schema=schema,
        hyperparameters=model_version.hyperparameters,
        weights=data,
        expected_sha256=model_version.weights_sha256,
        device=device,
    )


def model_version_integrity_fail(
    model_version: ModelVersion, found_sha256: str
) -> None:
    """Record that a version's weights on disk no longer match their recorded hash.

    Counts the failure, and the first time (per version, across processes: a
    conditional update decides) suspends the version and appends
    ``model_version.integrity_failed`` to its organisation's chain, in one transaction.
    Decisions on a suspended version are still accepted and enter as "needs review".
    """
    INTEGRITY_FAILURES.inc()
    now = timezone.now()
    reason = (
        f"Weights sha256 {found_sha256} does not match the recorded "
        f"{model_version.weights_sha256}."
    )
    with transaction.atomic():
        first = ModelVersion.objects.filter(
            pk=model_version.pk, integrity_suspended_at__isnull=True
        ).update(integrity_suspended_at=now, integrity_suspended_reason=reason)
        if first:
            audit_event_append(
                actor=SYSTEM_ACTOR,
                organization=model_version.ai_system.organization,
                action="model_version.integrity_failed",
                object_type="model_version",
                object_id=model_version.pk,
                payload={
                    "version": model_version.version,
                    "expected_sha256": model_version.weights_sha256,
                    "found_sha256": found_sha256,
                },
            )
    if first:
        model_version.integrity_suspended_at = now
        model_version.integrity_suspended_reason = reason
        logger.error(
            "Model version %s suspended: weights hash mismatch", model_version.pk
        )
    elif model_version.integrity_suspended_at is None:
        model_version.refresh_from_db(
            fields=["integrity_suspended_at", "integrity_suspended_reason"]
        )


def scores_reproduce(
    model_version: ModelVersion, rows: list[dict[str, Any]]
) -> list[float | None]:
    """``score_reproduce`` for many rows of one version in one forward pass."""
    if not rows:
        return []
    try:
        model, schema = model_version_load(model_version)
        return [float(p) for p in explain.predict_proba(model, schema.encode(rows))]
    except (OSError, explain.ExplainError):
        logger.exception("Could not re-run model version %s", model_version.pk)
        return [None] * len(rows)


def score_reproduce(
    model_version: ModelVersion, features: dict[str, Any]
) -> float | None:
    """The model's probability of the scored class for these inputs, or None if it can't run."""
    try:
        model, schema = model_version_load(model_version)
        return float(explain.predict_proba(model, schema.encode([features]))[0])
    except (OSError, explain.ExplainError):
        logger.exception("Could not re-run model version %s", model_version.pk)
        return None

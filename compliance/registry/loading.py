"""Re-running a model version on a decision's inputs, with a bounded cache of loaded models."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Any

import explain
from compliance.models import ModelVersion

logger = logging.getLogger(__name__)

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
    CPU to re-check scores, workers the GPU when there is one.
    """
    definition = json.dumps(
        [
            model_version.architecture,
            model_version.hyperparameters,
            model_version.feature_schema,
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
    schema = explain.parse_feature_schema(model_version.feature_schema)
    model = explain.load_model(
        architecture=model_version.architecture,
        schema=schema,
        hyperparameters=model_version.hyperparameters,
        weights=data,
        expected_sha256=model_version.weights_sha256,
        device=device,
    )
    with _lock:
        _cache[key] = (model, schema)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model, schema


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

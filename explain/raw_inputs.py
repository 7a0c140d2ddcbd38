"""ONNX models whose input is one column per feature (a feature schema's
``model_input`` "raw"): the engine works on encoded rows (one-hot categories) and turns
them into the model's columns at the model's door."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# per feature of a "raw"-input model: its encoded columns and whether it is categorical
RawFeatures = Sequence[tuple[Sequence[int], bool]]


def raw_columns(rows: np.ndarray, features: RawFeatures) -> np.ndarray:
    """Encoded rows [N, width] as one column per feature: a categorical feature's
    index of its one-hot column, any other feature's own column."""
    out = np.empty((rows.shape[0], len(features)), dtype=rows.dtype)
    for f, (columns, categorical) in enumerate(features):
        block = rows[:, list(columns)]
        out[:, f] = np.argmax(block, axis=1) if categorical else block[:, 0]
    return out


def raw_features_of(schema: Any) -> list[tuple[list[int], bool]] | None:
    """``RawFeatures`` of a parsed feature schema whose model input is "raw"."""
    if getattr(schema, "model_input", "encoded") != "raw":
        return None
    kinds = {f.name: f.kind == "categorical" for f in schema.features}
    return [(cols, kinds[name]) for name, cols in schema.column_groups().items()]

"""Tabular model architectures, chosen by name, whose first layer applies the schema's
preprocessing, so they take raw encoded features (numeric values in their own units,
one-hot columns for categories) and return one logit per row for the scored class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from explain.errors import ModelTooLarge, UnknownArchitecture, WeightsIncompatible
from explain.schema import FeatureSchema

# The most parameters (weights and biases, float32) a model may declare: 4 million is
# 16 MB of float32, hundreds of times the demo models (a few thousand) and far below
# what would threaten a web worker. A constant, not a setting: it bounds what
# ``build_model`` may allocate anywhere it runs. Checked by ``parameter_count`` from
# the architecture, hyperparameters and schema width alone, before anything is built.
MAX_PARAMETERS = 4_000_000
MAX_HIDDEN_LAYERS = 16
MAX_LAYER_SIZE = 4096


class Standardize(nn.Module):
    """(x - mean) / std per column; the statistics come from the schema, not the weights."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class LogisticRegression(nn.Module):
    def __init__(self, schema: FeatureSchema):
        super().__init__()
        self.standardize = Standardize(*schema.column_statistics())
        self.linear = nn.Linear(schema.input_width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(self.standardize(x))
        return logits.squeeze(-1)


class MLP(nn.Module):
    def __init__(self, schema: FeatureSchema, hidden: Sequence[int] = (32, 16)):
        super().__init__()
        self.standardize = Standardize(*schema.column_statistics())
        layers: list[nn.Module] = []
        width = schema.input_width
        for size in hidden:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.body(self.standardize(x))
        return logits.squeeze(-1)


def _hidden(hyperparameters: dict[str, Any]) -> list[int]:
    hidden = hyperparameters.get("hidden", [32, 16])
    if (
        not isinstance(hidden, list)
        or not 0 < len(hidden) <= MAX_HIDDEN_LAYERS
        or not all(
            isinstance(h, int) and not isinstance(h, bool) and 0 < h <= MAX_LAYER_SIZE
            for h in hidden
        )
    ):
        raise WeightsIncompatible(
            f"hyperparameters.hidden must be a list of 1 to {MAX_HIDDEN_LAYERS} layer "
            f"sizes between 1 and {MAX_LAYER_SIZE}."
        )
    return hidden


def _count_logistic(input_width: int, hyperparameters: dict[str, Any]) -> int:
    return input_width + 1


def _count_mlp(input_width: int, hyperparameters: dict[str, Any]) -> int:
    total, width = 0, input_width
    for size in [*_hidden(hyperparameters), 1]:
        total += width * size + size
        width = size
    return total


def _build_logistic(
    schema: FeatureSchema, hyperparameters: dict[str, Any]
) -> nn.Module:
    return LogisticRegression(schema)


def _build_mlp(schema: FeatureSchema, hyperparameters: dict[str, Any]) -> nn.Module:
    return MLP(schema, _hidden(hyperparameters))


PARAMETER_COUNTS: dict[str, Callable[[int, dict[str, Any]], int]] = {
    "logistic_regression": _count_logistic,
    "mlp": _count_mlp,
}


def parameter_count(
    architecture: str, input_width: int, hyperparameters: dict[str, Any] | None = None
) -> int:
    """How many parameters ``build_model`` would allocate, computed without allocating;
    refuses anything above ``MAX_PARAMETERS``.

    Raises:
        UnknownArchitecture; WeightsIncompatible for malformed hyperparameters;
        ModelTooLarge above the limit.

    Example:
        >>> parameter_count("mlp", 10, {"hidden": [4]})  # 10*4+4 + 4*1+1
        49
    """
    try:
        count = PARAMETER_COUNTS[architecture]
    except KeyError:
        known = ", ".join(sorted(PARAMETER_COUNTS))
        raise UnknownArchitecture(
            f"Unknown architecture '{architecture}'; known: {known}."
        ) from None
    n = count(input_width, dict(hyperparameters or {}))
    if n > MAX_PARAMETERS:
        raise ModelTooLarge(
            f"This architecture with these hyperparameters and {input_width} input "
            f"columns has {n:,} parameters; the limit is {MAX_PARAMETERS:,}."
        )
    return n


ARCHITECTURES: dict[str, Callable[[FeatureSchema, dict[str, Any]], nn.Module]] = {
    "logistic_regression": _build_logistic,
    "mlp": _build_mlp,
}


def build_model(
    architecture: str,
    schema: FeatureSchema,
    hyperparameters: dict[str, Any] | None = None,
) -> nn.Module:
    """Instantiate an untrained model of a registered architecture, in eval mode.

    Args:
        architecture: a key of ``ARCHITECTURES`` (``"logistic_regression"``, ``"mlp"``).
        schema: the parsed feature schema; fixes the input width and preprocessing.
        hyperparameters: e.g. ``{"hidden": [32, 16]}`` for the MLP.

    Example:
        >>> build_model("mlp", schema, {"hidden": [16]})(schema.encode(rows)).shape
        torch.Size([len(rows)])
    """
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownArchitecture(
            f"Unknown architecture '{architecture}'; known: {known}."
        ) from None
    parameter_count(architecture, schema.input_width, hyperparameters)
    return builder(schema, dict(hyperparameters or {})).eval()

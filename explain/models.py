"""Tabular model architectures, chosen by name, whose first layer applies the schema's
preprocessing, so they take raw encoded features (numeric values in their own units,
one-hot columns for categories) and return one logit per row for the scored class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from explain.errors import UnknownArchitecture, WeightsIncompatible
from explain.schema import FeatureSchema


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


def _build_logistic(
    schema: FeatureSchema, hyperparameters: dict[str, Any]
) -> nn.Module:
    return LogisticRegression(schema)


def _build_mlp(schema: FeatureSchema, hyperparameters: dict[str, Any]) -> nn.Module:
    hidden = hyperparameters.get("hidden", [32, 16])
    if (
        not isinstance(hidden, list)
        or not hidden
        or not all(
            isinstance(h, int) and not isinstance(h, bool) and 0 < h <= 4096
            for h in hidden
        )
    ):
        raise WeightsIncompatible(
            "hyperparameters.hidden must be a non-empty list of layer sizes between 1 and 4096."
        )
    return MLP(schema, hidden)


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
    return builder(schema, dict(hyperparameters or {})).eval()

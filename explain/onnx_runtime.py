"""A client's ONNX model run by onnxruntime behind the engine's model interface (issue
18, item 2, the path for anything that is not a differentiable network: tree ensembles,
exported pipelines): ``forward`` takes the encoded rows [N, width] as a tensor and gives
the scored class's logit [N], in batches of any size, each run under a time limit. It
has no gradients: the perturbation methods (feature ablation, Shapley value sampling,
Kernel SHAP) run on it; gradient methods are refused for it (``methods_available``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from explain.errors import ExplainError
from explain.methods import PERTURBATION_METHODS, methods_available
from explain.onnx_check import OnnxRefused, run_limited, session_new
from explain.raw_inputs import RawFeatures, raw_columns

__all__ = [
    "PERTURBATION_METHODS",
    "OnnxRuntimeModel",
    "RawFeatures",
    "methods_available",
    "raw_columns",
]

OutputKind = Literal["logit", "probability"]
_EPS = 1e-7


class OnnxRuntimeModel(nn.Module):
    """An onnxruntime session as a module: forward only (``differentiable`` False)."""

    differentiable = False
    execution = "onnx_runtime"

    def __init__(
        self,
        data: bytes,
        *,
        output_index: int = 0,
        output_kind: OutputKind = "logit",
        time_limit_seconds: float = 30.0,
        threads: int = 1,
        raw_features: RawFeatures | None = None,
    ) -> None:
        super().__init__()
        # the engine reads the device (and sizes batches) from the parameters: the
        # session runs on the CPU, this empty one says so
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)
        self.session = session_new(data, threads)
        declared = self.session.get_inputs()[0]
        self.input_name: str = declared.name
        self.dtype = np.float64 if "double" in declared.type else np.float32
        if not 0 <= output_index < len(self.session.get_outputs()):
            raise ExplainError(f"The model has no output {output_index}.")
        self.output_index = output_index
        self.output_kind: OutputKind = output_kind
        self.time_limit_seconds = time_limit_seconds
        # a "raw"-input model: encoded rows are turned into one column per feature
        self.raw_features = raw_features
        # a tree ensemble read from the graph (explain.onnx_trees), checked against
        # this session by the caller: tree_shap reads it; None for anything else
        self.tree_ensemble: Any = None

    def declared_output(self, x: torch.Tensor) -> np.ndarray:
        """The scored class's value as the model gives it (probability or logit)."""
        rows = x.detach().to("cpu").numpy().astype(self.dtype, copy=False)
        if rows.ndim == 1:
            rows = rows[None, :]
        if self.raw_features is not None:
            rows = raw_columns(rows, self.raw_features)
        outputs = run_limited(
            self.session, {self.input_name: rows}, self.time_limit_seconds
        )
        return _scored_column(outputs[self.output_index], len(rows))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scored = self.declared_output(x)
        if self.output_kind == "probability":
            p = np.clip(scored, _EPS, 1.0 - _EPS)
            scored = np.log(p) - np.log1p(-p)
        return torch.from_numpy(scored.astype(np.float32)).to(x.device)


def _scored_column(value: Any, n: int) -> np.ndarray:
    """The positive (scored) class's column of an output: [N], [N, 1] or [N, 2]."""
    if isinstance(value, list):  # a ZipMap: [{label: probability}] per row
        return np.array([float(list(row.values())[-1]) for row in value])
    raw = np.asarray(value)
    if raw.dtype.kind not in "f":
        raise OnnxRefused(
            "output_kind",
            f"The declared output holds {raw.dtype} values (class labels?); declare "
            "the output that holds the scored class's probability or logit.",
        )
    array = raw.astype(np.float64)
    if array.ndim == 1 and len(array) == n:
        return array
    if array.ndim == 2 and array.shape[0] == n and array.shape[1] in (1, 2):
        return array[:, -1]
    raise OnnxRefused(
        "outputs",
        f"The declared output has shape {list(array.shape)} for {n} rows; expected "
        "[N], [N, 1] or [N, 2].",
    )

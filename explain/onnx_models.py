"""A client's ONNX model: which way it runs, decided once at registration, and loading
it that way (issue 18, item 2).

``onnx_model_plan`` checks the file (``explain.onnx_check``), then:

- a graph of differentiable operators converts to torch (``explain.onnx_torch``) and is
  accepted on that path only when it reproduces onnxruntime on the baseline row and a
  sample of background rows within ``CONVERSION_TOLERANCE``: every method runs;
- anything else runs in onnxruntime (``explain.onnx_runtime``): the perturbation
  methods; and when the graph is a tree ensemble whose trees, read from the graph,
  reproduce onnxruntime within the same tolerance, ``tree_shap`` as well.

The plan (execution path, methods, measured differences) is stored with the model
version and written into every explanation's manifest; ``onnx_model_load`` rebuilds
the model from the stored bytes the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from explain.errors import ExplainError, WeightsHashMismatch
from explain.loading import sha256_hex
from explain.methods import NETWORK_METHODS, methods_available
from explain.onnx_check import OnnxInfo, OnnxRefused, onnx_model_check
from explain.onnx_runtime import OnnxRuntimeModel
from explain.onnx_torch import OnnxTorchModel, operators_convertible
from explain.raw_inputs import RawFeatures, raw_columns, raw_features_of
from explain.schema import FeatureSchema, parse_feature_schema
from explain.tree_ensembles import TreeEnsemble, onnx_tree_ensemble

# largest |converted - onnxruntime| accepted, relative to max(1, |value|)
CONVERSION_TOLERANCE = 1e-5
OUTPUT_KINDS = ("probability", "logit")
Execution = Literal["onnx_torch", "onnx_runtime"]
# seconds one batch may run in onnxruntime before it is stopped
BATCH_SECONDS = 60.0


@dataclass(frozen=True)
class OnnxPlan:
    """How an accepted ONNX model runs and what it offers."""

    execution: Execution
    methods: tuple[str, ...]
    tree_ensemble: bool
    info: OnnxInfo
    # what was compared with onnxruntime: rows and the largest difference
    checks: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """The plan as stored with the model version."""
        return {
            "execution": self.execution,
            "available_methods": list(self.methods),
            "tree_ensemble": self.tree_ensemble,
            "operators": list(self.info.operators),
            "opsets": self.info.opsets,
            "checks": self.checks,
        }


def _difference(ours: np.ndarray, reference: np.ndarray) -> float:
    ours = np.asarray(ours, dtype=np.float64).reshape(-1)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    scale = np.maximum(1.0, np.abs(reference))
    return float(np.max(np.abs(ours - reference) / scale))


def _sample_rows(schema: FeatureSchema, limit: int = 64) -> torch.Tensor:
    """The baseline row and up to ``limit`` background rows, encoded."""
    rows = [schema.baseline] if schema.baseline is not None else []
    rows += list(schema.background or [])[:limit]
    if not rows:
        return torch.zeros(1, schema.input_width)
    return schema.encode(rows)


def _output_declaration_check(info: OnnxInfo, output_index: int, kind: str) -> None:
    if kind not in OUTPUT_KINDS:
        raise OnnxRefused(
            "output_kind",
            f"Declare the output as one of {', '.join(OUTPUT_KINDS)} (the scored "
            "class's probability, or its logit).",
        )
    if not 0 <= output_index < len(info.outputs):
        raise OnnxRefused(
            "output_index",
            f"The model has {len(info.outputs)} output(s) ({', '.join(info.outputs)}); "
            f"output {output_index} does not exist.",
        )


def onnx_model_plan(
    data: bytes,
    *,
    schema: FeatureSchema,
    output_index: int,
    output_kind: str,
    max_bytes: int | None = None,
    smoke_seconds: float | None = None,
) -> OnnxPlan:
    """Check an uploaded ONNX model against its feature schema and choose its path.

    Raises:
        OnnxRefused: naming the problem (``code``) and how to fix it.
    """
    raw = raw_features_of(schema)
    baseline_row = _sample_rows(schema, limit=0)
    if raw is not None:
        baseline_row = torch.from_numpy(raw_columns(baseline_row.numpy(), raw))
    baseline = baseline_row[0].tolist()
    limits: dict[str, Any] = {}
    if max_bytes is not None:
        limits["max_bytes"] = max_bytes
    if smoke_seconds is not None:
        limits["smoke_seconds"] = smoke_seconds
    info = onnx_model_check(
        data, width=schema.model_width, baseline_row=baseline, **limits
    )
    _output_declaration_check(info, output_index, output_kind)
    rows = _sample_rows(schema)
    runtime = OnnxRuntimeModel(
        data,
        output_index=output_index,
        output_kind=output_kind,  # type: ignore[arg-type]
        time_limit_seconds=smoke_seconds or BATCH_SECONDS,
        raw_features=raw,
    )
    reference = runtime.declared_output(rows)
    scored_check(reference, output_kind)
    checks: dict[str, Any] = {"rows": int(rows.shape[0])}
    # a network converts to torch on encoded inputs only: a category's index is not
    # differentiable, so a "raw"-input model runs in onnxruntime
    if raw is None and operators_convertible(info.operators):
        try:
            converted = OnnxTorchModel(
                data, output_index=output_index, output_kind=output_kind
            )
            difference = _difference(converted.declared_output(rows), reference)
        except Exception as exc:  # a graph torch cannot replay: onnxruntime runs it
            checks["torch_error"] = str(exc)[:300]
        else:
            checks["torch_difference"] = difference
            if difference <= CONVERSION_TOLERANCE:
                return OnnxPlan("onnx_torch", NETWORK_METHODS, False, info, checks)
    ensemble = onnx_tree_ensemble(data)
    if ensemble is not None and _link_fits(ensemble, output_kind):
        inputs = rows.numpy() if raw is None else raw_columns(rows.numpy(), raw)
        try:
            declared = _declared(ensemble, inputs, output_kind)
        except (IndexError, ValueError) as exc:  # trees naming columns it lacks
            checks["trees_error"] = str(exc)[:300]
        else:
            difference = _difference(declared, reference)
            checks["trees_difference"] = difference
            if difference <= CONVERSION_TOLERANCE:
                runtime.tree_ensemble = ensemble
    return OnnxPlan(
        "onnx_runtime",
        methods_available(runtime),
        runtime.tree_ensemble is not None,
        info,
        checks,
    )


def onnx_plan_answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The checker's answer for an ONNX upload (the same in its child process and in
    process): ``{"ok": true, "plan": manifest}`` or ``{"ok": false, "code", "error"}``.

    ``request`` holds ``feature_schema``, ``hyperparameters.output`` (``index``,
    ``kind``) and optionally ``max_bytes`` and ``smoke_seconds``.
    """
    output = request["hyperparameters"]["output"]
    try:
        plan = onnx_model_plan(
            data,
            schema=parse_feature_schema(request["feature_schema"]),
            output_index=output["index"],
            output_kind=output["kind"],
            max_bytes=request.get("max_bytes"),
            smoke_seconds=request.get("smoke_seconds"),
        )
    except OnnxRefused as exc:
        return {"ok": False, "code": exc.code, "error": exc.message}
    except ExplainError as exc:
        return {"ok": False, "code": "invalid", "error": str(exc)}
    return {"ok": True, "plan": plan.manifest()}


def scored_check(values: np.ndarray, output_kind: str) -> None:
    """The declared output must be a number per row, and a probability in [0, 1]."""
    if not np.isfinite(values).all():
        raise OnnxRefused(
            "not_finite",
            "The model gave NaN or infinity on the baseline or sample rows.",
        )
    if output_kind == "probability" and ((values < 0) | (values > 1)).any():
        raise OnnxRefused(
            "output_kind",
            "The output declared a probability has values outside [0, 1]; declare "
            "it a logit, or name the probability output.",
        )


def _link_fits(ensemble: TreeEnsemble, output_kind: str) -> bool:
    """The trees' margin is the engine's logit: a logistic classifier's margin with a
    probability output, or a regressor's margin declared a logit."""
    return (ensemble.link, output_kind) in (
        ("logistic", "probability"),
        ("identity", "logit"),
    )


def _declared(ensemble: TreeEnsemble, rows: np.ndarray, output_kind: str) -> np.ndarray:
    """What the trees say the declared output is."""
    margin = ensemble.margin(rows)
    return 1.0 / (1.0 + np.exp(-margin)) if output_kind == "probability" else margin


def onnx_model_load(
    data: bytes,
    *,
    execution: str,
    output_index: int,
    output_kind: str,
    tree_ensemble: bool,
    expected_sha256: str | None,
    device: torch.device | str = "cpu",
    time_limit_seconds: float = BATCH_SECONDS,
    raw_features: RawFeatures | None = None,
) -> nn.Module:
    """The model as its plan says, hash-checked; ``WeightsHashMismatch`` when the
    stored bytes changed."""
    if expected_sha256 is not None and sha256_hex(data) != expected_sha256.lower():
        raise WeightsHashMismatch(
            f"The ONNX file's sha256 {sha256_hex(data)} does not match the recorded "
            f"{expected_sha256}; the file was changed or replaced."
        )
    if execution == "onnx_torch":
        return (
            OnnxTorchModel(data, output_index=output_index, output_kind=output_kind)
            .to(device)
            .eval()
        )
    if execution != "onnx_runtime":
        raise ExplainError(f"Unknown execution path '{execution}'.")
    model = OnnxRuntimeModel(
        data,
        output_index=output_index,
        output_kind=output_kind,  # type: ignore[arg-type]
        time_limit_seconds=time_limit_seconds,
        raw_features=raw_features,
    )
    if tree_ensemble:
        model.tree_ensemble = onnx_tree_ensemble(data)
        if model.tree_ensemble is None:
            raise ExplainError("The model's tree ensemble can no longer be read.")
    return model.eval()

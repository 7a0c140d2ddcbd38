"""Checking an ONNX file a client uploads (issue 18, item 1 and 6), before anything of
it is stored or run for real: ONNX is data, not code, but a hostile file can still point
at the server's files, declare gigabytes it does not hold, call operators nobody
reviewed, or loop forever. Each refusal names its problem (``OnnxRefused.code``).

Framework-free (no Django): the API calls it at registration, a worker may call it
before loading a model.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, checker, helper

from explain.errors import ExplainError

ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
MAX_BYTES = 64 * 1024 * 1024
# no initializer may declare more than this (a small file "holding" gigabytes)
MAX_DECLARED_BYTES = 512 * 1024 * 1024
SMOKE_SECONDS = 5.0


class OnnxRefused(ExplainError):
    """The file is not accepted; ``code`` says which rule, the message how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class OnnxInfo:
    """What the checks learnt of an accepted file."""

    input_name: str
    width: int
    outputs: tuple[str, ...]
    operators: tuple[str, ...]  # "domain:op_type", sorted
    opsets: dict[str, int]
    smoke_output: tuple[float, ...]


def _parsed(data: bytes, max_bytes: int) -> onnx.ModelProto:
    if len(data) > max_bytes:
        raise OnnxRefused(
            "too_large", f"The file is {len(data)} bytes; the limit is {max_bytes}."
        )
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # protobuf raises its own DecodeError types
        raise OnnxRefused("not_onnx", f"Not an ONNX model ({exc}).") from None
    if not model.graph.node and not model.graph.output:
        raise OnnxRefused("not_onnx", "Not an ONNX model (no graph).")
    return model


def _graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """The graph and every subgraph (Loop, If, Scan bodies), depth first."""
    found = [graph]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += _graphs(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    found += _graphs(sub)
    return found


def _external_data_refuse(model: onnx.ModelProto) -> None:
    for graph in _graphs(model.graph):
        tensors = list(graph.initializer) + [
            a.t
            for n in graph.node
            for a in n.attribute
            if a.type == onnx.AttributeProto.TENSOR
        ]
        for tensor in tensors:
            if tensor.data_location == TensorProto.EXTERNAL or tensor.external_data:
                where = next(
                    (e.value for e in tensor.external_data if e.key == "location"), "?"
                )
                raise OnnxRefused(
                    "external_data",
                    f"Tensor {tensor.name!r} points at a file ({where!r}); upload one "
                    "self-contained file (onnx.save with save_as_external_data=False).",
                )


def _declared_sizes_check(model: onnx.ModelProto) -> None:
    for graph in _graphs(model.graph):
        for tensor in graph.initializer:
            count = math.prod(tensor.dims) if tensor.dims else 1
            try:
                itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
            except (KeyError, TypeError, ValueError):
                raise OnnxRefused(
                    "bad_initializer",
                    f"Initializer {tensor.name!r} has an unknown data type.",
                ) from None
            declared = count * itemsize
            if declared > MAX_DECLARED_BYTES:
                raise OnnxRefused(
                    "declared_too_large",
                    f"Initializer {tensor.name!r} declares {declared} bytes; at most "
                    f"{MAX_DECLARED_BYTES} are accepted.",
                )
            held = _held_elements(tensor)
            if held is not None and held != count:
                raise OnnxRefused(
                    "bad_initializer",
                    f"Initializer {tensor.name!r} declares {count} values but holds "
                    f"{held}.",
                )


def _held_elements(tensor: onnx.TensorProto) -> int | None:
    if tensor.raw_data:
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        return len(tensor.raw_data) // itemsize
    for field in (
        "float_data",
        "double_data",
        "int32_data",
        "int64_data",
        "uint64_data",
        "string_data",
    ):
        values = getattr(tensor, field)
        if len(values):
            return len(values)
    return 0


def _domains_check(model: onnx.ModelProto) -> tuple[tuple[str, ...], dict[str, int]]:
    opsets = {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}
    for domain in opsets:
        if domain not in ALLOWED_DOMAINS:
            raise OnnxRefused(
                "custom_domain",
                f"Operator set {domain!r} is not accepted; use the default ONNX and "
                "ai.onnx.ml operators only.",
            )
    if len(model.functions):
        raise OnnxRefused(
            "custom_domain", "Model-local functions are not accepted; inline them."
        )
    operators = set()
    for graph in _graphs(model.graph):
        for node in graph.node:
            if node.domain not in ALLOWED_DOMAINS:
                raise OnnxRefused(
                    "custom_domain",
                    f"Operator {node.domain}:{node.op_type} is from a custom domain; "
                    "use the default ONNX and ai.onnx.ml operators only.",
                )
            operators.add(f"{node.domain or 'ai.onnx'}:{node.op_type}")
    return tuple(sorted(operators)), opsets


def _io_check(model: onnx.ModelProto, width: int) -> tuple[str, tuple[str, ...]]:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise OnnxRefused(
            "inputs",
            f"The model must take one input [N, {width}]; it takes {len(inputs)}.",
        )
    tensor = inputs[0].type.tensor_type
    dims = list(tensor.shape.dim)
    if len(dims) != 2:
        raise OnnxRefused(
            "input_shape", f"The input must be [N, {width}]; it has {len(dims)} axes."
        )
    second = dims[1]
    if not second.HasField("dim_value") or second.dim_value != width:
        shown = second.dim_value if second.HasField("dim_value") else second.dim_param
        raise OnnxRefused(
            "input_width",
            f"The input's width is {shown!r}; the feature schema encodes {width} "
            "columns.",
        )
    if tensor.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        raise OnnxRefused("input_type", "The input must be float32 or float64.")
    outputs = tuple(o.name for o in model.graph.output)
    if not outputs:
        raise OnnxRefused("outputs", "The model declares no output.")
    return inputs[0].name, outputs


def run_limited(session: Any, feeds: dict[str, Any], seconds: float) -> list[Any]:
    """``session.run`` stopped after ``seconds`` (onnxruntime's terminate flag, set
    from a timer thread): a graph that loops forever is refused, not a hung worker."""
    import onnxruntime as ort

    options = ort.RunOptions()
    timer = threading.Timer(seconds, lambda: setattr(options, "terminate", True))
    timer.start()
    try:
        return list(session.run(None, feeds, options))
    except Exception as exc:
        if getattr(options, "terminate", False):
            rows = sum(len(v) for v in feeds.values())
            raise OnnxRefused(
                "time_limit",
                f"The model ran longer than {seconds:g} s on {rows} row(s) and was "
                "stopped.",
            ) from None
        raise OnnxRefused("run_failed", f"The model failed to run ({exc}).") from None
    finally:
        timer.cancel()


def session_new(data: bytes, threads: int = 1) -> Any:
    """An onnxruntime session on the CPU (``threads`` for one operator, one at a
    time), logging errors only: exporters' declared shapes (a label of shape [1])
    warn on every batch otherwise."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise OnnxRefused(
            "load_failed", f"onnxruntime cannot load it ({exc})."
        ) from None


def onnx_model_check(
    data: bytes,
    *,
    width: int,
    baseline_row: list[float],
    max_bytes: int = MAX_BYTES,
    smoke_seconds: float = SMOKE_SECONDS,
) -> OnnxInfo:
    """Every check, cheapest first; the smoke run last, on the baseline row."""
    model = _parsed(data, max_bytes)
    _external_data_refuse(model)
    operators, opsets = _domains_check(model)
    _declared_sizes_check(model)
    try:
        checker.check_model(model, full_check=True)
    except (checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise OnnxRefused("invalid", f"onnx.checker refused it: {first}") from None
    input_name, outputs = _io_check(model, width)
    if len(baseline_row) != width:
        raise OnnxRefused("input_width", "The baseline row does not fit the width.")
    session = session_new(data)
    declared = session.get_inputs()[0].type
    dtype = np.float64 if "double" in declared else np.float32
    row = np.asarray([baseline_row], dtype=dtype)
    results = run_limited(session, {input_name: row}, smoke_seconds)
    numbers: list[float] = []
    for value in results:
        array = np.asarray(value) if not isinstance(value, list) else None
        if array is None or array.dtype.kind not in "fiu":
            continue  # e.g. a ZipMap's list of dicts next to the probabilities
        numbers += [float(x) for x in array.ravel()]
    if not numbers:
        raise OnnxRefused("outputs", "The model gave no numeric output.")
    if not all(math.isfinite(x) for x in numbers):
        raise OnnxRefused(
            "not_finite", "The model gave NaN or infinity on the baseline row."
        )
    return OnnxInfo(
        input_name=input_name,
        width=width,
        outputs=outputs,
        operators=operators,
        opsets=opsets,
        smoke_output=tuple(numbers[:8]),
    )

"""Hostile ONNX files (issue 18, item 6): each refused with its named error before
anything is stored or run for real; a well-formed model passes with its facts."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is pinned in requirements.txt")
pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements.txt")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from explain.onnx_check import OnnxRefused, onnx_model_check  # noqa: E402
from tests.hostile_onnx import build as hostile  # noqa: E402

WIDTH = hostile.WIDTH
BASELINE = [0.5, -1.0, 2.0, 0.0, 1.0, 0.0]
WEIGHTS = hostile.WEIGHTS


def _model(
    nodes: list,
    initializers: list,
    *,
    width: int = WIDTH,
    opsets: list | None = None,
    outputs: list | None = None,
) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
        outputs or [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=opsets or [helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()


def _logistic(width: int = WIDTH) -> bytes:
    weights = np.ones((width, 1), dtype=np.float32) * 0.1 if width != WIDTH else WEIGHTS
    return _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        [numpy_helper.from_array(weights, "w")],
        width=width,
    )


def _raw_tensor(name: str, dims: list[int], raw: bytes) -> TensorProto:
    """A float tensor whose bytes need not match its dims (onnx.helper checks)."""
    tensor = TensorProto()
    tensor.name, tensor.data_type, tensor.raw_data = name, TensorProto.FLOAT, raw
    tensor.dims.extend(dims)
    return tensor


def _refused(data: bytes, code: str, **kwargs) -> OnnxRefused:
    with pytest.raises(OnnxRefused) as refused:
        onnx_model_check(data, width=WIDTH, baseline_row=BASELINE, **kwargs)
    assert refused.value.code == code, refused.value.message
    return refused.value


def test_a_well_formed_model_passes_with_its_facts():
    info = onnx_model_check(_logistic(), width=WIDTH, baseline_row=BASELINE)
    expected = 1 / (1 + np.exp(-(np.array(BASELINE) @ WEIGHTS.ravel())))
    assert info.smoke_output[0] == pytest.approx(float(expected), abs=1e-6)
    assert info.input_name == "x" and info.outputs == ("p",)
    assert info.operators == ("ai.onnx:MatMul", "ai.onnx:Sigmoid")


def test_external_data_pointing_at_a_server_file_is_refused():
    refused = _refused(hostile.external_data_etc_passwd(), "external_data")
    assert "/etc/passwd" in refused.message


def test_a_custom_domain_operator_is_refused():
    _refused(hostile.custom_domain_operator(), "custom_domain")


def test_a_2gb_declared_initializer_in_a_small_file_is_refused():
    data = hostile.declared_2gb_initializer()
    assert len(data) < 1000
    _refused(data, "declared_too_large")


def test_an_initializer_holding_less_than_it_declares_is_refused():
    short = _raw_tensor("w", [WIDTH, 1], b"\x00" * 8)
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        [short],
    )
    _refused(data, "bad_initializer")


def test_a_loop_that_never_ends_is_stopped_by_the_time_limit():
    refused = _refused(hostile.loop_never_ends(), "time_limit", smoke_seconds=1.0)
    assert "longer than 1 s" in refused.message


def test_a_wrong_input_width_is_refused_naming_both():
    refused = _refused(hostile.wrong_input_width(), "input_width")
    assert "9" in refused.message and "6 columns" in refused.message


def test_a_nan_output_is_refused():
    _refused(hostile.nan_output(), "not_finite")


def test_garbage_and_oversized_files_are_refused():
    _refused(b"\x00\x01not a model at all", "not_onnx")
    _refused(_logistic(), "too_large", max_bytes=10)


def test_a_model_the_checker_refuses_is_named():
    # an Add of tensors whose shapes cannot broadcast: full_check's shape inference
    odd = numpy_helper.from_array(np.ones((3, 3), dtype=np.float32), "o")
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Add", ["z", "o"], ["p"]),
        ],
        [numpy_helper.from_array(WEIGHTS, "w"), odd],
    )
    refused = _refused(data, "invalid")
    assert "onnx.checker" in refused.message

"""Hostile ONNX files (issue 18, item 6): each refused with its named error before
anything is stored or run for real; a well-formed model passes with its facts."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is pinned in requirements.txt")
pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements.txt")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from explain.onnx_check import OnnxRefused, onnx_model_check  # noqa: E402

WIDTH = 4
BASELINE = [0.5, -1.0, 2.0, 0.0]
WEIGHTS = np.array([[0.3], [-0.2], [0.1], [0.4]], dtype=np.float32)


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
    weights = numpy_helper.from_array(WEIGHTS, "w")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    entry = weights.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        [weights],
    )
    refused = _refused(data, "external_data")
    assert "/etc/passwd" in refused.message


def test_a_custom_domain_operator_is_refused():
    data = _model(
        [helper.make_node("Exec", ["x"], ["p"], domain="com.evil")],
        [],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)],
    )
    _refused(data, "custom_domain")


def test_a_2gb_declared_initializer_in_a_small_file_is_refused():
    huge = _raw_tensor("w", [2**29, 1], b"\x00" * 4)
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        [huge],
    )
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
    true = helper.make_tensor("t", TensorProto.BOOL, [], [True])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["v_in"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["N", 1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["N", 1]),
        ],
    )
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Constant", [], ["c"], value=true),
            helper.make_node("Loop", ["", "c", "z"], ["p"], body=body),
        ],
        [numpy_helper.from_array(WEIGHTS, "w")],
    )
    refused = _refused(data, "time_limit", smoke_seconds=1.0)
    assert "longer than 1 s" in refused.message


def test_a_wrong_input_width_is_refused_naming_both():
    refused = _refused(_logistic(width=5), "input_width")
    assert "5" in refused.message and "4 columns" in refused.message


def test_a_nan_output_is_refused():
    nan = numpy_helper.from_array(np.array([[np.nan]], dtype=np.float32), "n")
    data = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Add", ["z", "n"], ["p"]),
        ],
        [numpy_helper.from_array(WEIGHTS, "w"), nan],
    )
    _refused(data, "not_finite")


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

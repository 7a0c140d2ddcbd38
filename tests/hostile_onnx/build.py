"""The crafted ONNX files of ``tests/hostile_onnx/`` (issue 18, item 6), each with the
refusal it must meet, for a model of the test schema's encoded width (6 columns).

``python -m tests.hostile_onnx.build`` writes them; a test checks that the committed
files are exactly what this builds, and the API test uploads each one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

FOLDER = Path(__file__).resolve().parent
WIDTH = 6  # tests.schemas.TINY_SCHEMA, encoded
WEIGHTS = np.linspace(-0.3, 0.3, WIDTH, dtype=np.float32).reshape(WIDTH, 1)


def _model(
    nodes: list,
    initializers: list,
    *,
    width: int = WIDTH,
    opsets: list | None = None,
) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=opsets or [helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()


def _matmul_sigmoid(weights: TensorProto, width: int = WIDTH) -> bytes:
    return _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p"]),
        ],
        [weights],
        width=width,
    )


def external_data_etc_passwd() -> bytes:
    """Weights "stored" in /etc/passwd: a model that would read a server file."""
    weights = numpy_helper.from_array(WEIGHTS, "w")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    entry = weights.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    return _matmul_sigmoid(weights)


def custom_domain_operator() -> bytes:
    """An operator of a domain nobody reviewed (it could be any native code)."""
    return _model(
        [helper.make_node("Exec", ["x"], ["p"], domain="com.evil")],
        [],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.evil", 1)],
    )


def declared_2gb_initializer() -> bytes:
    """A file of a few hundred bytes whose initializer declares 2 GB."""
    huge = TensorProto()
    huge.name, huge.data_type, huge.raw_data = "w", TensorProto.FLOAT, b"\x00" * 4
    huge.dims.extend([2**29, 1])
    return _matmul_sigmoid(huge)


def loop_never_ends() -> bytes:
    """A Loop whose condition is always true and has no trip count."""
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
    return _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Constant", [], ["c"], value=true),
            helper.make_node("Loop", ["", "c", "z"], ["p"], body=body),
        ],
        [numpy_helper.from_array(WEIGHTS, "w")],
    )


def wrong_input_width() -> bytes:
    """A model of 9 input columns for a schema of 6."""
    weights = np.full((9, 1), 0.1, dtype=np.float32)
    return _matmul_sigmoid(numpy_helper.from_array(weights, "w"), width=9)


def nan_output() -> bytes:
    """A model whose output is NaN whatever the input."""
    nan = numpy_helper.from_array(np.array([[np.nan]], dtype=np.float32), "n")
    return _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Add", ["z", "n"], ["p"]),
        ],
        [numpy_helper.from_array(WEIGHTS, "w"), nan],
    )


# file name -> (builder, the refusal's code)
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "external_data_etc_passwd.onnx": (external_data_etc_passwd, "external_data"),
    "custom_domain_operator.onnx": (custom_domain_operator, "custom_domain"),
    "declared_2gb_initializer.onnx": (declared_2gb_initializer, "declared_too_large"),
    "loop_never_ends.onnx": (loop_never_ends, "time_limit"),
    "wrong_input_width.onnx": (wrong_input_width, "input_width"),
    "nan_output.onnx": (nan_output, "not_finite"),
}


def main() -> None:
    for name, (build, _code) in HOSTILE.items():
        (FOLDER / name).write_bytes(build())
    expected = {name: code for name, (_build, code) in HOSTILE.items()}
    (FOLDER / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()

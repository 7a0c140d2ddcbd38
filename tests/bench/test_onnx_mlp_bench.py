"""bench.onnx_mlp runs and compares like for like: the converted ONNX export of the demo
MLP gives the registry MLP's Integrated Gradients (no timing asserted)."""

from __future__ import annotations

import pytest

from bench.onnx_mlp import mlp_benchmark

pytestmark = pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")


def test_the_mlp_benchmark_compares_equal_attributions():
    found = mlp_benchmark(n_rows=40, repeats=1)
    assert found["execution"] == "onnx_torch"
    assert found["conversion_difference"] <= 1e-5
    assert found["max_difference"] <= 1e-5
    assert found["rows"] == 40 and found["ratio"] > 0

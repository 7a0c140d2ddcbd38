"""The onnxruntime path (issue 18, item 2): the perturbation methods give the same
attributions through an ONNX export run by onnxruntime as on the torch model with the
same weights; gradient methods are not offered for it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements.txt")
# the test exports with torch's TorchScript exporter (no onnxscript needed)
pytestmark = pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")

import explain  # noqa: E402
from explain.onnx_check import onnx_model_check  # noqa: E402
from explain.onnx_runtime import (  # noqa: E402
    PERTURBATION_METHODS,
    OnnxRuntimeModel,
    methods_available,
)
from tests import factories  # noqa: E402
from tests.explain.test_onnx_torch import export  # noqa: E402
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES  # noqa: E402


@pytest.fixture(scope="module")
def models() -> tuple[torch.nn.Module, explain.FeatureSchema]:
    schema = explain.parse_feature_schema({**TINY_SCHEMA, "baseline": TINY_BASELINE})
    model = explain.load_model(
        architecture="logistic_regression",
        schema=schema,
        hyperparameters={},
        weights=factories.tiny_weights(),
        expected_sha256=None,
    )
    return model, schema


@pytest.mark.parametrize("probability", [False, True])
def test_perturbation_methods_match_the_torch_model(models, probability):
    torch_model, schema = models
    data = export(torch_model, schema.input_width, probability=probability)
    baseline = (
        schema.encode([schema.baseline_row()])[0].tolist()
        if hasattr(schema, "baseline_row")
        else [0.0] * schema.input_width
    )
    onnx_model_check(data, width=schema.input_width, baseline_row=baseline)
    runtime = OnnxRuntimeModel(
        data, output_kind="probability" if probability else "logit"
    )
    rows = [
        VALID_FEATURES,
        {**VALID_FEATURES, "income": 900.0, "age": 23},
        {**VALID_FEATURES, "purpose": "car", "has_guarantor": True},
    ]
    encoded = schema.encode(rows)
    assert torch.allclose(runtime(encoded), torch_model(encoded), atol=1e-5)
    kwargs = dict(
        schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        threshold=0.5,
        methods=list(PERTURBATION_METHODS),
        parameters={"seed": 7},
    )
    ours = explain.explain_batch(runtime, rows, **kwargs)
    reference = explain.explain_batch(torch_model, rows, **kwargs)
    for got, want in zip(ours, reference, strict=True):
        for method in PERTURBATION_METHODS:
            a = got.methods[method].attributions
            b = want.methods[method].attributions
            assert set(a) == set(b)
            for feature in a:
                assert a[feature] == pytest.approx(b[feature], abs=1e-4), (
                    method,
                    feature,
                )


def test_gradient_methods_are_not_offered_for_an_onnxruntime_model(models):
    torch_model, schema = models
    runtime = OnnxRuntimeModel(export(torch_model, schema.input_width))
    assert methods_available(runtime) == PERTURBATION_METHODS
    assert "integrated_gradients" in methods_available(torch_model)


def test_a_batch_of_any_size_runs(models):
    torch_model, schema = models
    runtime = OnnxRuntimeModel(export(torch_model, schema.input_width))
    big = torch.rand(5000, schema.input_width)
    assert runtime(big).shape == (5000,)
    assert np.isfinite(runtime(big).numpy()).all()


def test_each_batch_runs_under_a_time_limit():
    """A worker's batch is stopped, not hung, when the graph does not finish: the job
    fails with the reason (explain.onnx_check.run_limited)."""
    from explain.onnx_check import OnnxRefused
    from tests.hostile_onnx import build as hostile

    runtime = OnnxRuntimeModel(hostile.loop_never_ends(), time_limit_seconds=0.3)
    with pytest.raises(OnnxRefused) as stopped:
        runtime(torch.zeros(7, hostile.WIDTH))
    assert stopped.value.code == "time_limit"
    assert "0.3 s on 7 row(s)" in stopped.value.message

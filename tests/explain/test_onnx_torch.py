"""ONNX networks converted to torch (issue 18, item 2, the first path): an exported
registry MLP converts, reproduces onnxruntime, and every method, gradient methods
included, gives the registry MLP's attributions within 1e-5; a graph with another
operator does not convert and runs in onnxruntime."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import explain
from explain.methods import NETWORK_METHODS
from explain.onnx_models import onnx_model_load, onnx_model_plan
from explain.onnx_torch import OnnxTorchModel, convertible
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

pytestmark = pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")

ROWS = [
    VALID_FEATURES,
    {**VALID_FEATURES, "income": 900.0, "age": 23},
    {**VALID_FEATURES, "purpose": "education", "has_guarantor": True},
    {**VALID_FEATURES, "income": 7200.0, "age": 61, "purpose": "other"},
]
BACKGROUND = [
    {**VALID_FEATURES, "income": 1000.0 + 400 * i, "age": 20 + 3 * i} for i in range(12)
]


def export(model: torch.nn.Module, width: int, *, probability: bool = False) -> bytes:
    """The model as a client's training code would export it (logit or
    probability of the scored class, dynamic batch)."""

    class Probability(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.inner(x)).unsqueeze(-1)

    buffer = io.BytesIO()
    torch.onnx.export(
        Probability(model) if probability else model,
        (torch.zeros(2, width),),
        buffer,
        dynamo=False,
        input_names=["x"],
        output_names=["score"],
        dynamic_axes={"x": {0: "N"}, "score": {0: "N"}},
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mlp() -> tuple[torch.nn.Module, explain.FeatureSchema]:
    schema = explain.parse_feature_schema(
        {**TINY_SCHEMA, "baseline": TINY_BASELINE, "background": BACKGROUND}
    )
    torch.manual_seed(3)
    model = explain.build_model("mlp", schema, {"hidden": [16, 8]})
    # weights as the registry would load them (safetensors round trip)
    data = explain.model_to_safetensors(model)
    model = explain.load_model(
        architecture="mlp",
        schema=schema,
        hyperparameters={"hidden": [16, 8]},
        weights=data,
        expected_sha256=None,
    )
    return model, schema


@pytest.mark.parametrize("probability", [False, True])
def test_an_exported_mlp_converts_and_reproduces_the_registry_model(mlp, probability):
    model, schema = mlp
    data = export(model, schema.input_width, probability=probability)
    kind = "probability" if probability else "logit"
    plan = onnx_model_plan(data, schema=schema, output_index=0, output_kind=kind)
    assert plan.execution == "onnx_torch"
    assert plan.methods == NETWORK_METHODS
    assert plan.checks["torch_difference"] <= 1e-5
    converted = onnx_model_load(
        data,
        execution="onnx_torch",
        output_index=0,
        output_kind=kind,
        tree_ensemble=False,
        expected_sha256=explain.sha256_hex(data),
    )
    encoded = schema.encode(ROWS)
    with torch.no_grad():
        # the probability export's logit is read before its Sigmoid, exactly
        assert torch.allclose(converted(encoded), model(encoded), atol=1e-5)


def test_gradient_methods_equal_the_registry_mlp(mlp):
    model, schema = mlp
    data = export(model, schema.input_width)
    converted = OnnxTorchModel(data)
    kwargs = dict(
        schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        threshold=0.5,
        methods=list(NETWORK_METHODS),
        parameters={"seed": 11},
    )
    ours = explain.explain_batch(converted, ROWS, **kwargs)
    reference = explain.explain_batch(model, ROWS, **kwargs)
    for got, want in zip(ours, reference, strict=True):
        assert got.prediction == pytest.approx(want.prediction, abs=1e-6)
        for method in NETWORK_METHODS:
            a = got.methods[method].attributions
            b = want.methods[method].attributions
            assert set(a) == set(b)
            for feature in a:
                assert a[feature] == pytest.approx(b[feature], abs=1e-5), (
                    method,
                    feature,
                )


def test_the_manifest_records_the_execution_path(mlp):
    model, schema = mlp
    converted = OnnxTorchModel(export(model, schema.input_width))
    [row] = explain.explain_batch(
        converted,
        ROWS[:1],
        schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        threshold=0.5,
        methods=["deeplift"],
    )
    assert row.methods["deeplift"].manifest["execution"] == "onnx_torch"


def _round_model(width: int) -> bytes:
    """A valid network with an operator outside the differentiable list (Round)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    weights = helper.make_tensor(
        "w", TensorProto.FLOAT, [width], np.linspace(-1, 1, width).tolist()
    )
    nodes = [
        helper.make_node("Round", ["x"], ["r"]),
        helper.make_node("Mul", ["r", "w"], ["m"]),
        helper.make_node("ReduceSum", ["m", "axes"], ["y"], keepdims=0),
    ]
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[weights, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def test_a_graph_with_other_operators_runs_in_onnxruntime(mlp):
    _, schema = mlp
    data = _round_model(schema.input_width)
    model = onnx.ModelProto()
    model.ParseFromString(data)
    assert not convertible(model)
    plan = onnx_model_plan(data, schema=schema, output_index=0, output_kind="logit")
    assert plan.execution == "onnx_runtime"
    assert "integrated_gradients" not in plan.methods
    assert "kernel_shap" in plan.methods
    runtime = onnx_model_load(
        data,
        execution="onnx_runtime",
        output_index=0,
        output_kind="logit",
        tree_ensemble=False,
        expected_sha256=None,
    )
    with pytest.raises(explain.BadParameter, match="need the model's gradients"):
        explain.explain_batch(
            runtime,
            ROWS,
            schema=schema,
            class_labels=["good", "bad"],
            favourable_class="good",
            threshold=0.5,
            methods=["kernel_shap", "integrated_gradients"],
        )


def test_a_changed_file_is_refused_on_load(mlp):
    model, schema = mlp
    data = export(model, schema.input_width)
    with pytest.raises(explain.WeightsHashMismatch):
        onnx_model_load(
            data,
            execution="onnx_torch",
            output_index=0,
            output_kind="logit",
            tree_ensemble=False,
            expected_sha256="0" * 64,
        )

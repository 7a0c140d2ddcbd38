"""Known answers, agreement with raw Captum, batching, determinism and bad input."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    Saliency,
    ShapleyValueSampling,
)

import explain
from explain.engine import explain_batch
from explain.methods import rows_are_independent, run_method
from tests.explain.test_methods import stock_gradient_shap
from tests.schemas import TINY_SCHEMA, VALID_FEATURES

SCHEMA_DATA = {
    **TINY_SCHEMA,
    "baseline": {
        "income": 3000.0,
        "age": 40,
        "purpose": "other",
        "has_guarantor": False,
    },
}
CLASSES = {
    "class_labels": ["good", "bad"],
    "favourable_class": "good",
    "threshold": 0.5,
}


@pytest.fixture
def schema() -> explain.FeatureSchema:
    return explain.parse_feature_schema(SCHEMA_DATA)


def _linear(schema: explain.FeatureSchema) -> torch.nn.Module:
    model = explain.build_model("logistic_regression", schema)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[-1.5, 0.4, 0.8, -0.3, 0.2, -1.1]]))
        model.linear.bias.fill_(0.25)
    return model.eval()


def _mlp(schema: explain.FeatureSchema, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return explain.build_model("mlp", schema, {"hidden": [16, 8]}).eval()


def _rows(n: int = 9) -> list[dict]:
    purposes = ["car", "education", "other"]
    return [
        {
            "income": 800.0 + 700.0 * i,
            "age": 20 + 5 * i,
            "purpose": purposes[i % 3],
            "has_guarantor": i % 2 == 0,
        }
        for i in range(n)
    ]


def _explain(model, schema, rows, methods, **parameters):
    parameters.setdefault("counterfactual", False)
    return explain_batch(
        model, rows, schema=schema, methods=methods, parameters=parameters, **CLASSES
    )


@pytest.mark.parametrize(
    "method", ["integrated_gradients", "deeplift", "shapley_sampling", "kernel_shap"]
)
def test_on_a_linear_model_attributions_are_w_times_x_minus_baseline(schema, method):
    model = _linear(schema)
    rows = _rows()
    results = _explain(model, schema, rows, [method])
    x = schema.encode(rows)
    b = schema.encode([SCHEMA_DATA["baseline"]])[0]
    effective_w = model.linear.weight[0] / model.standardize.std
    expected = ((x - b) * effective_w).detach() @ _group_matrix(schema)
    for i, result in enumerate(results):
        got = result.methods[method]
        assert list(got.attributions) == schema.names
        assert torch.allclose(
            torch.tensor(list(got.attributions.values())), expected[i], atol=1e-5
        )
        assert sum(got.attributions.values()) == pytest.approx(
            got.output - got.baseline_output, abs=1e-5
        )
        if got.convergence_delta is not None:
            assert abs(got.convergence_delta) < 1e-5


def _group_matrix(schema):
    groups = list(schema.column_groups().values())
    matrix = torch.zeros(schema.input_width, len(groups))
    for g, cols in enumerate(groups):
        matrix[cols, g] = 1.0
    return matrix


def _raw_captum(method, model, x, b, schema):
    torch.manual_seed(0)
    np.random.seed(0)
    single = b.unsqueeze(0).expand_as(x)
    if method == "integrated_gradients":
        return IntegratedGradients(model).attribute(x, single, n_steps=50)
    if method == "deeplift":
        return DeepLift(model).attribute(x, single)
    if method == "input_x_gradient":
        return InputXGradient(model).attribute(x)
    if method == "saliency":
        return Saliency(model).attribute(x, abs=False)
    if method == "gradient_shap":
        return GradientShap(model).attribute(
            x, b.unsqueeze(0), n_samples=50, stdevs=0.0
        )
    mask = torch.zeros(1, x.shape[1], dtype=torch.long)
    for g, cols in enumerate(schema.column_groups().values()):
        mask[0, cols] = g
    if method == "shapley_sampling":
        attr = ShapleyValueSampling(model).attribute(
            x, single, feature_mask=mask, n_samples=25
        )
    else:
        attr = FeatureAblation(model).attribute(x, single, feature_mask=mask)
    return torch.stack(
        [attr[:, cols[0]] for cols in schema.column_groups().values()], 1
    )


@pytest.mark.parametrize(
    "method",
    [
        "integrated_gradients",
        "deeplift",
        "input_x_gradient",
        "saliency",
        "gradient_shap",
        "feature_ablation",
    ],
)
def test_our_attributions_equal_raw_captums(schema, method):
    model = _mlp(schema)
    x = schema.encode(_rows())
    b = schema.encode([SCHEMA_DATA["baseline"]])[0]
    if method in ("input_x_gradient", "saliency"):
        b = torch.zeros_like(b)
    params = explain.methods.resolve_parameters(method, {})
    ours = run_method(
        method,
        model,
        x,
        b,
        groups=list(schema.column_groups().values()),
        parameters=params,
        seed=0,
    )
    if method == "gradient_shap":
        reference = stock_gradient_shap(
            model, x, b.unsqueeze(0), n_samples=50, stdevs=0.0, seed=0
        )
    else:
        reference = _raw_captum(method, model, x, b, schema)
    assert torch.allclose(ours.attributions, reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "method",
    [m for m in explain.NETWORK_METHODS if m != "gradient_shap"],
)
def test_batched_equals_one_at_a_time_and_a_rerun_is_identical(schema, method):
    model = _mlp(schema)
    rows = _rows()
    batched = _explain(model, schema, rows, [method], quality={"sensitivity": False})
    again = _explain(model, schema, rows, [method], quality={"sensitivity": False})
    for i, row in enumerate(rows):
        single = _explain(
            model, schema, [row], [method], quality={"sensitivity": False}
        )[0]
        a = batched[i].methods[method].attributions
        assert a == again[i].methods[method].attributions  # bit-identical rerun
        for name, value in single.methods[method].attributions.items():
            assert value == pytest.approx(a[name], abs=1e-5)


def test_gradient_shap_reruns_identically(schema):
    model = _mlp(schema)
    first = _explain(model, schema, _rows(), ["gradient_shap"])
    second = _explain(model, schema, _rows(), ["gradient_shap"])
    assert [r.to_dict() for r in first] == [r.to_dict() for r in second]


def test_the_fast_gradient_path_is_bit_identical_to_captums(schema):
    model = _mlp(schema)
    x = schema.encode(_rows())
    b = schema.encode([SCHEMA_DATA["baseline"]])[0]
    params = explain.methods.resolve_parameters("integrated_gradients", {})
    groups = list(schema.column_groups().values())
    fast = run_method(
        "integrated_gradients",
        model,
        x,
        b,
        groups=groups,
        parameters=params,
        fast_gradients=True,
    )
    stock = run_method(
        "integrated_gradients",
        model,
        x,
        b,
        groups=groups,
        parameters=params,
        fast_gradients=False,
    )
    assert torch.equal(fast.attributions, stock.attributions)


def test_a_model_with_batch_statistics_falls_back_to_stock_gradients(schema):
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 4),
        torch.nn.BatchNorm1d(4),
        torch.nn.Linear(4, 1),
        torch.nn.Flatten(0),
    )
    model.train()
    assert not rows_are_independent(model, 6)
    assert rows_are_independent(_mlp(schema), schema.input_width)


def test_integrated_gradients_raises_n_steps_until_complete(schema):
    model = _mlp(schema, seed=3)
    with torch.no_grad():
        for layer in model.body:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(6.0)  # sharp nonlinearity: 2 steps are not enough
    results = _explain(
        model,
        schema,
        _rows(),
        ["integrated_gradients"],
        integrated_gradients={"n_steps": 2, "max_n_steps": 512},
    )
    steps = [r.methods["integrated_gradients"].n_steps for r in results]
    assert max(steps) > 2
    for r in results:
        q = r.methods["integrated_gradients"].quality
        assert (
            q["completeness_gap"]
            <= max(
                0.01
                * abs(
                    r.methods["integrated_gradients"].output
                    - r.methods["integrated_gradients"].baseline_output
                ),
                1e-6,
            )
            or r.needs_review
        )
    capped = _explain(
        model,
        schema,
        _rows(),
        ["integrated_gradients"],
        integrated_gradients={"n_steps": 2, "max_n_steps": 2},
    )
    assert any("completeness_gap" in r.needs_review_reasons for r in capped)


def test_quality_figures_and_manifest_are_recorded(schema):
    model = _mlp(schema)
    result = _explain(model, schema, _rows(2), ["integrated_gradients", "deeplift"])[0]
    ig = result.methods["integrated_gradients"]
    assert {"completeness_gap", "infidelity", "sensitivity_max"} <= set(ig.quality)
    assert set(result.agreement) == {"min", "mean", "pairs"}
    manifest = ig.manifest
    for key in (
        "python",
        "torch",
        "captum",
        "device",
        "dtype",
        "seed",
        "weights_sha256",
        "parameters",
        "input_sha256",
        "output_units",
    ):
        assert key in manifest
    assert manifest["parameters"]["n_steps"] == ig.n_steps
    assert result.output_units == "logit"


def test_protected_features_are_never_reasons_and_are_flagged(schema):
    model = _linear(schema)
    with torch.no_grad():
        model.linear.weight[0, 1] = 40.0  # age (protected) dominates
    result = _explain(
        model, schema, [dict(VALID_FEATURES, age=80)], ["integrated_gradients"]
    )[0]
    ig = result.methods["integrated_gradients"]
    assert "age" not in {r["feature"] for r in ig.reasons}
    assert len(ig.reasons) <= 4
    for warnings in (ig.warnings, result.warnings):
        assert any(
            w["code"] == "protected_attribute_influence" and w["feature"] == "age"
            for w in warnings
        )


def test_reasons_point_toward_the_adverse_class(schema):
    model = _linear(schema)
    result = _explain(
        model, schema, [dict(VALID_FEATURES, income=500.0)], ["integrated_gradients"]
    )[0]
    reasons = result.methods["integrated_gradients"].reasons
    # "bad" is scored and adverse: reasons have positive attribution
    assert reasons and all(r["attribution"] > 0 for r in reasons)
    assert reasons[0]["text"] == "Income insufficient for amount of credit requested"


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        (torch.zeros(3, 5), explain.BadInput),
        (torch.full((2, 6), float("nan")), explain.BadInput),
        ([dict(VALID_FEATURES, shoe_size=3)], explain.BadInput),
        ([dict(VALID_FEATURES, income=float("nan"))], explain.BadInput),
        ([], explain.BadInput),
    ],
    ids=["wrong-shape", "nan-tensor", "unknown-feature", "nan-feature", "empty"],
)
def test_bad_rows_raise_bad_input(schema, rows, error):
    with pytest.raises(error):
        _explain(_mlp(schema), schema, rows, ["integrated_gradients"])


@pytest.mark.parametrize(
    ("methods", "parameters", "error"),
    [
        (["lime"], {}, explain.UnknownMethod),
        ([], {}, explain.BadParameter),
        (["saliency", "saliency"], {}, explain.BadParameter),
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"steps": 3}},
            explain.BadParameter,
        ),
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"n_steps": 1}},
            explain.BadParameter,
        ),
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"n_steps": "50"}},
            explain.BadParameter,
        ),
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"baseline": "background"}},
            explain.BadParameter,
        ),
        (["deeplift"], {"integrated_gradients": {}}, explain.BadParameter),
        (["deeplift"], {"colour": 1}, explain.BadParameter),
    ],
)
def test_bad_methods_and_parameters_raise(schema, methods, parameters, error):
    with pytest.raises(error):
        explain_batch(
            _mlp(schema),
            _rows(1),
            schema=schema,
            methods=methods,
            parameters=parameters,
            **CLASSES,
        )


def test_loading_refuses_pickles_and_hash_mismatches(schema):
    buffer = io.BytesIO()
    torch.save(_mlp(schema).state_dict(), buffer)
    for data in (pickle.dumps({"a": 1}), buffer.getvalue()):
        with pytest.raises(explain.UnsafeWeightsFormat):
            explain.load_model(
                architecture="mlp",
                schema=schema,
                hyperparameters={"hidden": [16, 8]},
                weights=data,
                expected_sha256=None,
            )
    good = explain.model_to_safetensors(_mlp(schema))
    with pytest.raises(explain.WeightsHashMismatch):
        explain.load_model(
            architecture="mlp",
            schema=schema,
            hyperparameters={"hidden": [16, 8]},
            weights=good,
            expected_sha256="ab" * 32,
        )


def test_adverse_decisions_get_a_verified_counterfactual_favourable_ones_a_note(schema):
    model = _linear(schema)
    poor = dict(VALID_FEATURES, income=400.0)
    rich = dict(VALID_FEATURES, income=9000.0)
    adverse, favourable = explain_batch(
        model,
        [poor, rich],
        schema=schema,
        methods=["integrated_gradients"],
        parameters={"quality": {"sensitivity": False}},
        **CLASSES,
    )
    assert adverse.predicted_outcome == "bad" and favourable.predicted_outcome == "good"
    cf = adverse.counterfactual
    assert cf is not None and cf["verified"] and cf["outcome"] == "good"
    assert "age" not in cf["changes"]
    changed = dict(poor, **{k: v["to"] for k, v in cf["changes"].items()})
    rerun = explain.predict_proba(model, schema.encode([changed]))[0]
    assert float(rerun) < 0.5
    assert favourable.counterfactual is None
    assert "already the favourable" in favourable.counterfactual_note

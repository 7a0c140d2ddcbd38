"""The cost model: its estimate is the model evaluations the engine really makes."""

from __future__ import annotations

import time

import pytest
import torch

import explain
from explain import shapley
from explain.cost import (
    COUNTERFACTUAL_EVALUATIONS,
    CostEstimate,
    CostExceeded,
    cost_check,
    request_cost,
    schema_cost,
)
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

BACKGROUND = [dict(VALID_FEATURES, income=1000.0 + 100 * i) for i in range(30)]
SCHEMA = explain.parse_feature_schema(
    {**TINY_SCHEMA, "baseline": TINY_BASELINE, "background": BACKGROUND}
)
CLASSES = {"class_labels": ["good", "bad"], "favourable_class": "good"}
NO_COUNTERFACTUAL = {"counterfactual": False}
NO_QUALITY = {"counterfactual": False, "quality": {"sensitivity": False}}
OTHER_IN_EVERY_FEATURE = dict(
    VALID_FEATURES, age=50, purpose="education", has_guarantor=True
)


class _Counting(torch.nn.Module):
    """Counts model evaluations of one row: a forward pass 1, a backward pass 1."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.evaluations = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(x)
        rows = x.shape[0]
        self.evaluations += rows
        if out.requires_grad:

            def backward(grad: torch.Tensor) -> None:
                self.evaluations += rows

            out.register_hook(backward)
        return out


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return explain.build_model("mlp", SCHEMA, {"hidden": [16, 8]}).eval()


def _counted(
    methods: list[str], parameters: dict, row: dict, threshold: float = 0.5
) -> int:
    """Evaluations explain_batch makes for one row, less the once-per-model probe of
    row independence (8 rows)."""
    model = _Counting(_mlp())
    explain.explain_batch(
        model,
        [row],
        schema=SCHEMA,
        threshold=threshold,
        methods=methods,
        parameters=parameters,
        **CLASSES,
    )
    return model.evaluations - 8


def _estimated(methods: list[str], parameters: dict) -> int:
    return schema_cost(
        SCHEMA, *explain.resolve_request(methods, parameters)
    ).evaluations


@pytest.mark.parametrize(
    ("methods", "parameters"),
    [
        # tolerance 0: every doubling runs, the worst case the estimate assumes
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"n_steps": 8, "max_n_steps": 64, "tolerance": 0}},
        ),
        # max_n_samples = n_samples: no extra rounds (their worst case is below)
        (["gradient_shap"], {"gradient_shap": {"n_samples": 7, "max_n_samples": 7}}),
        (
            ["gradient_shap"],
            {
                "gradient_shap": {
                    "n_samples": 3,
                    "max_n_samples": 3,
                    "baseline": "background",
                }
            },
        ),
        (["deeplift"], {}),
        (["input_x_gradient"], {}),
        (["saliency"], {}),
        (["feature_ablation"], {}),
        (["shapley_sampling"], {"shapley_sampling": {"n_samples": 5}}),
        (["kernel_shap"], {"kernel_shap": {"n_samples": 6}}),
        (
            ["kernel_shap"],
            {
                "kernel_shap": {
                    "n_samples": 100,
                    "baseline": "background",
                    "background_rows": 7,
                }
            },
        ),
        (["deeplift", "kernel_shap", "saliency"], {}),
    ],
)
@pytest.mark.parametrize("general", [NO_QUALITY, NO_COUNTERFACTUAL])
def test_the_estimate_is_the_evaluations_the_engine_makes(methods, parameters, general):
    # no counterfactual search; every feature differs from the baseline and from
    # the background (the Shapley methods leave out the features that do not)
    favourable = dict(OTHER_IN_EVERY_FEATURE, income=100.0)
    request = {**parameters, **general}
    assert _counted(methods, request, favourable) == _estimated(methods, request)


def test_integrated_gradients_is_estimated_at_its_worst_case_of_adaptive_steps():
    favourable = dict(VALID_FEATURES, income=100.0)
    counted = _counted(["integrated_gradients"], NO_COUNTERFACTUAL, favourable)
    # defaults: 50 steps, doubled up to 800 while the gap exceeds 1 %
    estimated = _estimated(["integrated_gradients"], NO_COUNTERFACTUAL)
    assert counted < estimated
    once = 2 * (50 + 100 + 200 + 400 + 800) + 5 * 2
    assert estimated >= once


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        # one sample: no standard error, so the reasons never count as separated
        ("gradient_shap", {"n_samples": 1, "max_n_samples": 8}),
        ("kernel_shap", {"n_samples": 2, "max_n_samples": 9}),
        ("shapley_sampling", {"n_samples": 1, "max_n_samples": 5}),
    ],
)
def test_sampled_methods_are_estimated_at_their_worst_case_of_doublings(
    monkeypatch, method, parameters
):
    monkeypatch.setattr(shapley, "EXACT_MAX_FEATURES", 0)  # sample even 4 features
    row = dict(OTHER_IN_EVERY_FEATURE, income=100.0)
    request = {method: parameters, **NO_QUALITY}
    counted = _counted([method], request, row)
    assert counted == _estimated([method], request)
    once = _estimated(
        [method],
        {method: dict(parameters, max_n_samples=parameters["n_samples"]), **NO_QUALITY},
    )
    assert counted > once


def test_the_counterfactual_search_stays_within_its_estimate():
    adverse = dict(VALID_FEATURES, income=100.0)
    # a threshold below the row's score makes the decision the adverse one
    with torch.no_grad():
        score = torch.sigmoid(_mlp()(SCHEMA.encode([adverse]))).item()
    without = _counted(["saliency"], NO_COUNTERFACTUAL, adverse, threshold=score / 2)
    with_search = _counted(["saliency"], {}, adverse, threshold=score / 2)
    assert without < with_search <= without + COUNTERFACTUAL_EVALUATIONS
    assert _estimated(["saliency"], {}) == (
        _estimated(["saliency"], NO_COUNTERFACTUAL) + COUNTERFACTUAL_EVALUATIONS
    )


def test_parts_add_up_and_name_what_drives_them():
    estimate = schema_cost(
        SCHEMA,
        *explain.resolve_request(
            ["integrated_gradients", "kernel_shap"],
            {"kernel_shap": {"n_samples": 50, "baseline": "background"}},
        ),
    )
    assert estimate.evaluations == sum(p.evaluations for p in estimate.parts)
    drivers = {p.name: p.drivers for p in estimate.parts}
    assert drivers["integrated_gradients"] == (
        "parameters.integrated_gradients.n_steps",
        "parameters.integrated_gradients.max_n_steps",
    )
    assert drivers["kernel_shap"] == (
        "parameters.kernel_shap.n_samples",
        "parameters.kernel_shap.max_n_samples",
        "parameters.kernel_shap.background_rows",
    )
    assert drivers["counterfactual"] == ("parameters.counterfactual",)
    assert estimate.to_dict()["parts"]["counterfactual"] == COUNTERFACTUAL_EVALUATIONS


def test_more_features_cost_more_for_perturbation_methods():
    resolved = explain.resolve_request(["shapley_sampling"], NO_QUALITY)
    assert (
        request_cost(*resolved, n_features=80).evaluations
        > request_cost(*resolved, n_features=20).evaluations
        > request_cost(*resolved, n_features=10).evaluations
    )


def test_a_request_over_budget_names_the_parameters_the_estimate_and_the_limit():
    estimate = schema_cost(
        SCHEMA,
        *explain.resolve_request(
            ["integrated_gradients", "deeplift"],
            {"integrated_gradients": {"n_steps": 1000, "max_n_steps": 1000}},
        ),
    )
    cost_check(estimate, estimate.evaluations)  # at the limit: accepted
    with pytest.raises(CostExceeded) as raised:
        cost_check(estimate, 10_000)
    message = str(raised.value)
    assert isinstance(raised.value, explain.BadParameter)
    assert f"{estimate.evaluations:,}" in message and "10,000" in message
    assert "parameters.integrated_gradients.n_steps" in message
    assert "parameters.integrated_gradients.max_n_steps" in message
    # largest part first; the counterfactual (20,000) alone would not bring it under
    assert message.index("parameters.counterfactual") < message.index(
        "integrated_gradients.n_steps"
    )
    # parts not needed to cover the excess are not named
    assert "quality.infidelity" not in message


def test_only_fixed_cost_methods_over_budget_say_to_ask_for_fewer_methods():
    nothing_optional = {
        **NO_QUALITY,
        "quality": {"sensitivity": False, "infidelity": False},
    }
    estimate = schema_cost(
        SCHEMA, *explain.resolve_request(["deeplift"], nothing_optional)
    )
    with pytest.raises(CostExceeded, match="Lower methods"):
        cost_check(estimate, 2)
    cost_check(CostEstimate(5), 5)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        # the red team's request: 160 s for one credit row
        ({"n_steps": 4096, "max_n_steps": 8192, "tolerance": 0}, "at most 1024"),
        ({"n_steps": 50, "max_n_steps": 1025}, "max_n_steps must be at most 1024"),
        ({"n_steps": 1025, "max_n_steps": 1025}, "n_steps must be at most 1024"),
        ({"n_steps": True}, "must be of type int"),
        ({"n_steps": 64.0}, "must be of type int"),
        ({"n_steps": -5}, "at least 2"),
        ({"tolerance": -0.1}, "at least 0"),
    ],
)
def test_integrated_gradients_steps_have_a_hard_bound(parameters, message):
    with pytest.raises(explain.BadParameter, match=message):
        explain.resolve_request(
            ["integrated_gradients"], {"integrated_gradients": parameters}
        )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("gradient_shap", {"n_samples": 1001}),
        ("shapley_sampling", {"n_samples": 1001}),
        ("kernel_shap", {"n_samples": 20001}),
        ("kernel_shap", {"background_rows": 201}),
        ("kernel_shap", {"n_samples": False}),
        ("gradient_shap", {"n_samples": 5.0}),
    ],
)
def test_every_sampling_parameter_has_a_hard_bound_and_a_strict_type(
    method, parameters
):
    with pytest.raises(explain.BadParameter):
        explain.resolve_request([method], {method: parameters})


def test_the_largest_integrated_gradients_request_allowed_is_bounded_in_time():
    row = dict(VALID_FEATURES, income=100.0)
    started = time.perf_counter()
    explain.explain_batch(
        _mlp(),
        [row],
        schema=SCHEMA,
        threshold=0.5,
        methods=["integrated_gradients"],
        parameters={
            "integrated_gradients": {
                "n_steps": 1024,
                "max_n_steps": 1024,
                "tolerance": 0,
            }
        },
        **CLASSES,
    )
    # Captum's Gauss-Legendre nodes for 1024 steps take about 0.5 s, twice per call,
    # three calls (the row, and sensitivity's two); 8192 steps took minutes
    assert time.perf_counter() - started < 30

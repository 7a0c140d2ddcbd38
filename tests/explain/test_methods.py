"""The method registry, and the one Captum shortcut pinned to Captum's version."""

from __future__ import annotations

import captum
import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    Saliency,
)

import explain
from explain import shapley
from explain.methods import (
    GRADIENT_SHAP_BATCHES,
    METHOD_SPECS,
    resolve_parameters,
    run_method,
)
from explain.rng import seeded_rng
from tests.schemas import TINY_BASELINE, TINY_SCHEMA

SCHEMA = explain.parse_feature_schema({**TINY_SCHEMA, "baseline": TINY_BASELINE})
GRADIENT_METHODS = {
    "integrated_gradients": IntegratedGradients,
    "deeplift": DeepLift,
    "input_x_gradient": InputXGradient,
    "saliency": Saliency,
    "gradient_shap": GradientShap,
}


def stock_gradient_shap(
    model: torch.nn.Module,
    x: torch.Tensor,
    b: torch.Tensor,
    *,
    n_samples: int,
    stdevs: float,
    seed: int,
) -> torch.Tensor:
    """Stock Captum GradientShap as the engine splits it for its standard error:
    five sub-samples (the first on ``seed``), averaged by size."""
    k = min(GRADIENT_SHAP_BATCHES, n_samples)
    sizes = [n_samples // k + (1 if i < n_samples % k else 0) for i in range(k)]
    total = torch.zeros_like(x, dtype=torch.float64)
    with seeded_rng(seed):
        for i, size in enumerate(sizes):
            if i:
                torch.manual_seed(seed * 7919 + i)
                np.random.seed((seed * 7919 + i) % 2**32)
            part = GradientShap(model).attribute(x, b, n_samples=size, stdevs=stdevs)
            total += part.double() * size / n_samples
    return total.to(x.dtype)


def _mlp() -> torch.nn.Module:
    with seeded_rng(0):
        return explain.build_model("mlp", SCHEMA, {"hidden": [16, 8]}).eval()


def _inputs() -> torch.Tensor:
    with seeded_rng(1):
        x = SCHEMA.encode([TINY_BASELINE] * 12)
        return x + torch.randn_like(x) * torch.tensor([900.0, 9.0, 0, 0, 0, 0])


def test_methods_are_listed_in_a_stable_order_with_a_spec_each():
    assert explain.METHODS == (
        "integrated_gradients",
        "gradient_shap",
        "deeplift",
        "input_x_gradient",
        "saliency",
        "feature_ablation",
        "shapley_sampling",
        "kernel_shap",
        "tree_shap",
    )
    assert explain.NETWORK_METHODS == explain.METHODS[:-1]
    assert tuple(explain.METHOD_SPECS) == explain.METHODS
    names = {m: s.name for m, s in explain.METHOD_SPECS.items()}
    assert names["integrated_gradients"] == "Integrated Gradients"
    assert names["shapley_sampling"] == "Shapley Value Sampling"
    assert names["kernel_shap"] == "Kernel SHAP"
    for method, spec in explain.METHOD_SPECS.items():
        assert spec.id == method
        baseline = spec.parameters.get("baseline")
        if baseline is not None:
            assert spec.default_baseline in baseline.choices


def test_only_shares_of_the_output_change_take_part_in_agreement():
    eligible = {m for m, s in METHOD_SPECS.items() if s.agreement}
    assert eligible == set(explain.METHODS) - {"saliency", "input_x_gradient"}


@pytest.mark.parametrize(
    ("method", "given", "resolved"),
    [
        (
            "shapley_sampling",
            {},
            {"n_samples": 25, "max_n_samples": 600, "baseline": "training"},
        ),
        (
            "kernel_shap",
            {"n_samples": 64, "baseline": "background"},
            {
                "n_samples": 64,
                "max_n_samples": 12800,
                "baseline": "background",
                "background_rows": 10,
            },
        ),
        ("saliency", {}, {"absolute": False}),
        ("input_x_gradient", {}, {}),
    ],
)
def test_each_spec_fills_its_own_defaults(method, given, resolved):
    assert resolve_parameters(method, given) == resolved


@pytest.mark.parametrize(
    ("method", "given", "fragment"),
    [
        (
            "shapley_sampling",
            {"background_rows": 3},
            "allowed: baseline, max_n_samples, n_samples",
        ),
        ("shapley_sampling", {"baseline": "background"}, "training, zeros"),
        ("shapley_sampling", {"n_samples": 0}, "at least 1"),
        ("kernel_shap", {"n_samples": 1}, "at least 2"),
        ("integrated_gradients", {"n_steps": 60, "max_n_steps": 50}, "max_n_steps"),
    ],
)
def test_each_spec_validates_its_own_parameters(method, given, fragment):
    with pytest.raises(explain.BadParameter, match=fragment):
        resolve_parameters(method, given)


def test_both_shapley_estimators_are_ours_sampled_when_forced_and_exact_otherwise(
    monkeypatch,
):
    """Shapley value sampling (permutations) and Kernel SHAP (coalitions) are exact
    for four features; forced to sample they differ from the exact values, still
    sum to f(x) - f(b) (efficiency), and many permutations converge."""
    model = _mlp()
    x = _inputs()
    x[:, 2:6] = torch.tensor([1.0, 0.0, 0.0, 1.0])  # a car, a guarantor: 4 differ
    b = SCHEMA.encode([TINY_BASELINE])[0]
    groups = list(SCHEMA.column_groups().values())

    def run(method: str, **given: int) -> torch.Tensor:
        params = resolve_parameters(method, given)
        out = run_method(method, model, x, b, groups=groups, parameters=params)
        assert out.grouped
        return out.attributions

    exact = run("kernel_shap", n_samples=2)
    assert torch.allclose(run("shapley_sampling", n_samples=1), exact, atol=1e-6)
    monkeypatch.setattr(shapley, "EXACT_MAX_FEATURES", 0)
    sampled = run("shapley_sampling", n_samples=3)
    with torch.no_grad():
        gap = model(x) - model(b.unsqueeze(0))
    assert torch.allclose(sampled.sum(1), gap, atol=1e-5)
    assert torch.allclose(exact.sum(1), gap, atol=1e-5)
    assert not torch.allclose(sampled, exact, atol=1e-4)
    # many permutations converge on the exact values
    assert torch.allclose(
        run("shapley_sampling", n_samples=400, max_n_samples=400), exact, atol=0.05
    )


@pytest.mark.parametrize("method", sorted(GRADIENT_METHODS))
def test_the_summed_output_gradient_matches_stock_captum_on_the_pinned_version(
    method,
):
    # explain.methods.summed_output_gradients replaces Captum's gradient_func; it
    # relies on how Captum 0.9.0 calls it. After an upgrade, re-check it against
    # stock Captum (this test) before moving the pin.
    assert captum.__version__ == "0.9.0", "re-verify summed_output_gradients"
    model = _mlp()
    x = _inputs()
    b = SCHEMA.encode([TINY_BASELINE])[0].unsqueeze(0)
    if method in ("input_x_gradient", "saliency"):
        b = torch.zeros_like(b)
    params = resolve_parameters(method, {})
    groups = list(SCHEMA.column_groups().values())
    ours = run_method(
        method,
        model,
        x,
        b[0],
        groups=groups,
        parameters=params,
        fast_gradients=True,
        seed=7,
    ).attributions
    stock = GRADIENT_METHODS[method](model)
    kwargs = {
        "integrated_gradients": {
            "baselines": b,
            "n_steps": params.get("n_steps"),
            "method": "gausslegendre",
        },
        "deeplift": {"baselines": b},
        "input_x_gradient": {},
        "saliency": {"abs": params.get("absolute")},
        "gradient_shap": {
            "baselines": b,
            "n_samples": params.get("n_samples"),
            "stdevs": params.get("stdevs"),
        },
    }[method]
    if method == "gradient_shap":
        reference = stock_gradient_shap(
            model, x, b, n_samples=params["n_samples"], stdevs=params["stdevs"], seed=7
        )
    else:
        with seeded_rng(7):
            reference = stock.attribute(x, **kwargs)
    assert torch.allclose(ours, reference, atol=1e-6, rtol=0)

"""Shapley estimators: null players exactly 0, exact enumeration, one baseline per
method and efficiency checked on every explanation (issue 14, item 1)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import explain
from explain import methods as method_registry
from explain import shapley
from explain.kernel_shap import (
    _operator_estimate,
    coalitions,
    kernel_shap_estimate,
)
from explain.rng import seeded_rng
from explain.shapley import permutation_design, shapley_estimate
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

BACKGROUND = [
    dict(
        VALID_FEATURES,
        income=1000.0 + 150 * i,
        age=20 + i,
        purpose=["car", "education", "other"][i % 3],
        has_guarantor=i % 2 == 0,
    )
    for i in range(30)
]
SCHEMA = explain.parse_feature_schema(
    {**TINY_SCHEMA, "baseline": TINY_BASELINE, "background": BACKGROUND}
)
GROUPS = list(SCHEMA.column_groups().values())
CLASSES = {"class_labels": ["good", "bad"], "favourable_class": "good"}
SHAPLEY_METHODS = ["kernel_shap", "shapley_sampling"]
GUARANTOR = 3  # the feature index the "ignoring" model never reads


def _mlp(ignore_guarantor: bool = False) -> torch.nn.Module:
    with seeded_rng(0):
        model = explain.build_model("mlp", SCHEMA, {"hidden": [16, 8]}).eval()
    if ignore_guarantor:
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
        with torch.no_grad():
            first.weight[:, GROUPS[GUARANTOR]] = 0.0
    return model


def _rows() -> list[dict]:
    """Rows that differ from the training baseline in every feature but income
    (equal to the baseline's in every second row)."""
    return [
        dict(
            income=3000.0 if i % 2 else 500.0 * (i + 1),
            age=22 + 5 * i,
            purpose=["car", "education"][i % 2],
            has_guarantor=True,
        )
        for i in range(8)
    ]


def _explain(model, rows, method, parameters=None, **general):
    return explain.explain_batch(
        model,
        rows,
        schema=SCHEMA,
        threshold=0.5,
        methods=[method],
        parameters={
            method: parameters or {},
            "counterfactual": False,
            "quality": {"sensitivity": False, "infidelity": False},
            **general,
        },
        **CLASSES,
    )


@pytest.fixture(params=["exact", "sampled"])
def path(request, monkeypatch):
    """Both estimator paths: exact enumeration, and sampling forced (cut-off 0)."""
    if request.param == "sampled":
        monkeypatch.setattr(shapley, "EXACT_MAX_FEATURES", 0)
    return request.param


@pytest.mark.parametrize("method", SHAPLEY_METHODS)
def test_a_feature_equal_to_the_baseline_gets_exactly_zero(method, path):
    model = _mlp()
    parameters = {"n_samples": 4, "max_n_samples": 8}
    results = _explain(model, _rows(), method, parameters)
    for i, result in enumerate(results):
        explained = result.methods[method]
        income = explained.attributions["income"]
        if i % 2:  # income equals the baseline's
            assert income == 0.0
            assert explained.standard_errors["income"] == 0.0
            assert "income" not in [r["feature"] for r in explained.reasons]
        else:
            assert income != 0.0
        assert explained.quality["exact"] is (path == "exact")


@pytest.mark.parametrize("method", SHAPLEY_METHODS)
def test_a_feature_the_model_ignores_gets_exactly_zero_under_exact_enumeration(
    method,
):
    model = _mlp(ignore_guarantor=True)
    for result in _explain(model, _rows(), method):
        explained = result.methods[method]
        assert explained.quality["exact"] is True
        assert explained.attributions["has_guarantor"] == 0.0
        assert "has_guarantor" not in [r["feature"] for r in explained.reasons]


def test_permutation_sampling_gives_an_ignored_feature_exactly_zero_too(monkeypatch):
    monkeypatch.setattr(shapley, "EXACT_MAX_FEATURES", 0)
    model = _mlp(ignore_guarantor=True)
    for result in _explain(model, _rows(), "shapley_sampling", {"n_samples": 4}):
        explained = result.methods["shapley_sampling"]
        assert explained.quality["exact"] is False
        assert explained.attributions["has_guarantor"] == 0.0


def _brute_force_shapley(f, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Shapley formula, term by term, for one reference row."""
    n, m = x.shape
    phi = torch.zeros(n, m, dtype=torch.float64)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for size in range(m):
            weight = (
                math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            )
            for subset in itertools.combinations(others, size):
                without = b.expand(n, m).clone()
                without[:, list(subset)] = x[:, list(subset)]
                with_j = without.clone()
                with_j[:, j] = x[:, j]
                with torch.no_grad():
                    phi[:, j] += weight * (f(with_j) - f(without)).double()
    return phi


def _net(m: int) -> torch.nn.Module:
    with seeded_rng(3):
        return torch.nn.Sequential(
            torch.nn.Linear(m, 12),
            torch.nn.Tanh(),
            torch.nn.Linear(12, 1),
            torch.nn.Flatten(0),
        ).eval()


def test_exact_enumeration_equals_the_estimators_at_full_budget():
    m = 7
    f = _net(m)
    with seeded_rng(4):
        x, b = torch.randn(6, m), torch.randn(m)
    groups = [[i] for i in range(m)]
    exact = kernel_shap_estimate(f, x, b, groups)
    assert bool(exact.exact.all())
    assert float(exact.standard_errors.abs().max()) == 0.0
    assert torch.allclose(exact.values, _brute_force_shapley(f, x, b), atol=1e-6)
    # Kernel SHAP's weighted regression over every coalition
    masks, weights = coalitions(m, 2**m - 2)
    assert masks.shape[0] == 2**m - 2
    with torch.no_grad():
        y = torch.stack([f(b + row.float() * (x - b)).double() for row in masks], dim=1)
    regression = _operator_estimate(masks, weights, y, exact.f_x, exact.f_reference)
    assert torch.allclose(regression, exact.values, atol=1e-6)
    # permutation sampling with as many orders as exist
    full = shapley_estimate(
        f, x, b, groups, design=permutation_design(math.factorial(m), 0)
    )
    assert torch.allclose(full.values, exact.values, atol=1e-12)


def test_sampled_estimators_approach_the_exact_values_within_their_errors():
    m = 10
    f = _net(m)
    with seeded_rng(5):
        x, b = torch.randn(20, m), torch.randn(m)
    groups = [[i] for i in range(m)]
    exact = kernel_shap_estimate(f, x, b, groups).values
    sampled = kernel_shap_estimate(f, x, b, groups, n_samples=600, exact_max_features=0)
    permuted = shapley_estimate(
        f, x, b, groups, design=permutation_design(200, 1), exact_max_features=0
    )
    for estimate in (sampled, permuted):
        assert not bool(estimate.exact.any())
        error = (estimate.values - exact).abs()
        covered = (error <= 3 * estimate.standard_errors).double().mean()
        assert float(covered) >= 0.95
        assert float(error.mean()) < 0.01


@pytest.mark.parametrize("method", ["kernel_shap", "gradient_shap"])
def test_background_baseline_is_one_thing_and_efficient(method):
    model = _mlp()
    rows = _rows()
    parameters = {"baseline": "background"}
    if method == "kernel_shap":
        parameters["background_rows"] = 7
    results = _explain(model, rows, method, parameters)
    used = BACKGROUND[:7] if method == "kernel_shap" else BACKGROUND
    with torch.no_grad():
        expected_baseline_output = float(model(SCHEMA.encode(used)).mean())
    for result in results:
        explained = result.methods[method]
        assert explained.baseline_kind == "background"
        assert explained.baseline_output == pytest.approx(
            expected_baseline_output, abs=1e-6
        )
        assert explained.baseline == explain.baseline_from_rows(SCHEMA, used)
        if method == "kernel_shap":
            total = sum(explained.attributions.values())
            assert total == pytest.approx(
                explained.output - explained.baseline_output, abs=1e-5
            )
            assert explained.quality["efficiency_gap"] <= 1e-5
            assert "efficiency_gap" not in result.needs_review_reasons


def test_an_efficiency_miss_is_flagged_for_review(monkeypatch):
    real = method_registry.kernel_shap_estimate

    def off_by_a_little(*args, **kwargs):
        estimate = real(*args, **kwargs)
        estimate.values[:, 0] += 0.01
        return estimate

    monkeypatch.setattr(method_registry, "kernel_shap_estimate", off_by_a_little)
    for result in _explain(_mlp(), _rows(), "kernel_shap"):
        gap = result.methods["kernel_shap"].quality["efficiency_gap"]
        assert gap == pytest.approx(0.01, abs=1e-5)
        assert "efficiency_gap" in result.needs_review_reasons
        assert result.needs_review


@pytest.mark.parametrize(
    "methods",
    [
        list(explain.NETWORK_METHODS),
        ["kernel_shap", "shapley_sampling", "gradient_shap"],
    ],
)
def test_explain_batch_leaves_torchs_global_rng_state_as_found(methods):
    model = _mlp()
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    rows = [dict(r, income=100.0 + r["income"]) for r in _rows()]
    explain.explain_batch(
        model,
        rows,
        schema=SCHEMA,
        threshold=0.0,  # every decision adverse: the counterfactual search runs
        methods=methods,
        parameters={"seed": 7},
        **CLASSES,
    )
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.initial_seed() == 1234

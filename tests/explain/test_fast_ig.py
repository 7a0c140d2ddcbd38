"""The Integrated Gradients fast path (explain.fast_ig) against stock Captum."""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients

import explain
from explain.fast_ig import gauss_legendre, integrated_gradients
from explain.methods import resolve_parameters, rows_are_independent, run_method
from explain.rng import seeded_rng
from tests.schemas import TINY_BASELINE, TINY_SCHEMA

SCHEMA = explain.parse_feature_schema({**TINY_SCHEMA, "baseline": TINY_BASELINE})
GROUPS = list(SCHEMA.column_groups().values())
CLASSES = {"class_labels": ["good", "bad"], "favourable_class": "good"}
WIDTH = 10


def _net() -> torch.nn.Module:
    with seeded_rng(0):
        return torch.nn.Sequential(
            torch.nn.Linear(WIDTH, 24),
            torch.nn.Tanh(),
            torch.nn.Linear(24, 12),
            torch.nn.ReLU(),
            torch.nn.Linear(12, 1),
            torch.nn.Flatten(0),
        ).eval()


def _batch(n: int = 37) -> tuple[torch.Tensor, torch.Tensor]:
    with seeded_rng(1):
        return torch.randn(n, WIDTH) * 2, torch.randn(1, WIDTH)


def _captum(model, x, b, n_steps, internal_batch_size=None):
    return IntegratedGradients(model).attribute(
        x,
        baselines=b,
        n_steps=n_steps,
        method="gausslegendre",
        internal_batch_size=internal_batch_size,
        return_convergence_delta=True,
    )


@pytest.mark.parametrize("n_steps", [2, 7, 50, 129])
@pytest.mark.parametrize("chunk_steps", [None, 1, 3, 64])
def test_it_equals_stock_captum_chunked_or_not(n_steps, chunk_steps):
    model = _net()
    x, b = _batch()
    internal = None if chunk_steps is None else chunk_steps * x.shape[0] + 5
    attr, delta = integrated_gradients(
        model, x, b, n_steps, internal_batch_size=internal
    )
    stock_attr, stock_delta = _captum(model, x, b, n_steps, internal)
    assert attr.shape == stock_attr.shape and delta.shape == stock_delta.shape
    assert torch.allclose(attr, stock_attr, atol=1e-6, rtol=0)
    assert torch.allclose(delta, stock_delta, atol=1e-6, rtol=0)


def test_it_takes_a_baseline_row_without_a_batch_dimension():
    model = _net()
    x, b = _batch(5)
    attr, delta = integrated_gradients(model, x, b[0], 16)
    stock_attr, stock_delta = _captum(model, x, b, 16)
    assert torch.allclose(attr, stock_attr, atol=1e-6, rtol=0)
    assert torch.allclose(delta, stock_delta, atol=1e-6, rtol=0)


def test_the_nodes_are_captums_and_computed_once_per_step_count():
    gauss_legendre.cache_clear()
    sizes, alphas = gauss_legendre(50)
    assert len(sizes) == len(alphas) == 50
    assert sum(sizes) == pytest.approx(1.0)
    assert all(0 < a < 1 for a in alphas)
    gauss_legendre(50)
    assert gauss_legendre.cache_info().misses == 1


def test_the_method_registry_runs_the_fast_path_for_independent_rows():
    model = _net()
    x, b = _batch()
    params = resolve_parameters("integrated_gradients", {"n_steps": 33})
    gauss_legendre.cache_clear()
    out = run_method(
        "integrated_gradients", model, x, b[0], groups=[], parameters=params
    )
    assert gauss_legendre.cache_info().misses == 1  # Captum never asks fast_ig
    stock_attr, stock_delta = _captum(model, x, b, 33)
    assert out.convergence_delta is not None
    assert torch.allclose(out.attributions, stock_attr, atol=1e-6, rtol=0)
    assert torch.allclose(out.convergence_delta, stock_delta, atol=1e-6, rtol=0)


def test_a_model_whose_rows_interact_falls_back_to_captum_and_stays_correct():
    model = torch.nn.Sequential(
        torch.nn.Linear(WIDTH, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 1),
        torch.nn.Flatten(0),
    ).train()
    assert not rows_are_independent(model, WIDTH)
    x, b = _batch(8)
    params = resolve_parameters("integrated_gradients", {"n_steps": 10})
    gauss_legendre.cache_clear()
    out = run_method(
        "integrated_gradients",
        model,
        x,
        b[0],
        groups=[],
        parameters=params,
        fast_gradients=rows_are_independent(model, WIDTH),
    )
    assert gauss_legendre.cache_info().misses == 0  # Captum did the work
    stock_attr, stock_delta = _captum(model, x, b, 10)
    assert torch.allclose(out.attributions, stock_attr, atol=1e-6, rtol=0)
    assert out.convergence_delta is not None
    assert torch.allclose(out.convergence_delta, stock_delta, atol=1e-6, rtol=0)


def _rows() -> list[dict]:
    purposes = ["car", "education", "other"]
    return [
        {
            "income": 400.0 + 531.5 * i,
            "age": 18 + (7 * i) % 80,
            "purpose": purposes[i % 3],
            "has_guarantor": i % 4 == 0,
        }
        for i in range(40)
    ]


def _mlp() -> torch.nn.Module:
    with seeded_rng(0):
        return explain.build_model("mlp", SCHEMA, {"hidden": [16, 8]}).eval()


@pytest.mark.parametrize("memory_budget_bytes", [256 * 1024 * 1024, 40_000])
def test_explain_batch_gives_the_same_results_as_through_captum(memory_budget_bytes):
    model = _mlp()
    parameters = {
        "integrated_gradients": {"n_steps": 20, "max_n_steps": 80, "tolerance": 0.001}
    }
    common = {
        "schema": SCHEMA,
        "threshold": 0.5,
        "parameters": parameters,
        "memory_budget_bytes": memory_budget_bytes,
        **CLASSES,
    }
    gauss_legendre.cache_clear()
    fast = explain.explain_batch(model, _rows(), **common)
    assert gauss_legendre.cache_info().misses >= 1
    stock = explain.explain_batch(model, _rows(), fast_gradients=False, **common)
    for ours, theirs in zip(fast, stock, strict=True):
        a, b = ours.to_dict(), theirs.to_dict()
        ig_a = a["methods"]["integrated_gradients"]
        ig_b = b["methods"]["integrated_gradients"]
        assert ig_a["manifest"].pop("fast_gradients") is True
        assert ig_b["manifest"].pop("fast_gradients") is False
        for name, value in ig_a.pop("attributions").items():
            assert value == pytest.approx(ig_b["attributions"][name], abs=1e-6)
        del ig_b["attributions"]
        for key in ("convergence_delta",):
            assert ig_a.pop(key) == pytest.approx(ig_b.pop(key), abs=1e-6)
        for key in ("completeness_gap", "completeness_gap_relative"):
            got, want = ig_a["quality"].pop(key), ig_b["quality"].pop(key)
            assert got == pytest.approx(want, abs=1e-6, rel=1e-4)
        for key in ("infidelity", "sensitivity_max"):
            assert ig_a["quality"].pop(key) == pytest.approx(
                ig_b["quality"].pop(key), rel=1e-4, abs=1e-7
            )
        for reason_a, reason_b in zip(
            ig_a.pop("reasons"), ig_b.pop("reasons"), strict=True
        ):
            assert reason_a.pop("attribution") == pytest.approx(
                reason_b.pop("attribution"), abs=1e-6
            )
            assert reason_a == reason_b
        for warning_a, warning_b in zip(
            ig_a.pop("warnings"), ig_b.pop("warnings"), strict=True
        ):
            assert warning_a["feature"] == warning_b["feature"]
        a.pop("warnings"), b.pop("warnings")
        assert a == b

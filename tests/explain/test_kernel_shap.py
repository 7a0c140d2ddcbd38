from __future__ import annotations

import itertools
import math

import pytest
import torch

from explain.kernel_shap import coalitions, kernel_shap


def _net(m: int) -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(m, 12),
        torch.nn.Tanh(),
        torch.nn.Linear(12, 1),
        torch.nn.Flatten(0),
    ).eval()


def _exact(f, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
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


def test_a_budget_covering_every_coalition_gives_exact_shapley_values():
    m = 6
    f = _net(m)
    x, b = torch.randn(5, m), torch.zeros(m)
    phi = kernel_shap(f, x, b, [[i] for i in range(m)], n_samples=2**m - 2)
    assert torch.allclose(phi, _exact(f, x, b), atol=1e-5)


def test_sampled_coalitions_are_distinct_and_weights_sum_to_the_kernel_total():
    masks, weights = coalitions(12, 300, seed=4)
    assert masks.shape == (300, 12)
    assert len({tuple(row.tolist()) for row in masks}) == 300
    assert not ((masks.sum(1) == 0) | (masks.sum(1) == 12)).any()
    total = sum((12 - 1) / (s * (12 - s)) for s in range(1, 12))
    assert float(weights.sum()) == pytest.approx(total)


def test_values_are_efficient_and_independent_of_batch_size():
    m = 9
    f = _net(m)
    x, b = torch.randn(7, m), torch.randn(m)
    groups = [[i] for i in range(m)]
    batched = kernel_shap(f, x, b, groups, n_samples=120)
    with torch.no_grad():
        gap = (f(x) - f(b.unsqueeze(0))).double()
    assert torch.allclose(batched.sum(1), gap, atol=1e-5)
    single = torch.cat(
        [kernel_shap(f, x[i : i + 1], b, groups, n_samples=120) for i in range(7)]
    )
    assert torch.allclose(batched, single, atol=1e-6)

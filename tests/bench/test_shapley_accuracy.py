"""The Shapley accuracy benchmark's own pieces (bench/attributions.py): its exact
values over every coalition and its count of the engine's model evaluations."""

from __future__ import annotations

import torch

from bench.attributions import (
    _evaluations_used,
    _exact_shapley_all_coalitions,
    _round_budgets,
)
from explain import shapley
from explain.rng import seeded_rng

# 7 input columns in 5 features: the middle one a one-hot group of three columns
GROUPS = [[0], [1], [2, 3, 4], [5], [6]]


def _net() -> torch.nn.Module:
    with seeded_rng(4):
        return torch.nn.Sequential(
            torch.nn.Linear(7, 12),
            torch.nn.ReLU(),
            torch.nn.Linear(12, 1),
            torch.nn.Flatten(0),
        ).eval()


def test_exact_values_over_every_coalition_match_the_engine_and_are_efficient():
    net = _net()
    with seeded_rng(5):
        x = torch.randn(4, 7)
    x[:, 2:5] = torch.tensor([0.0, 1.0, 0.0])
    b = torch.zeros(7)
    b[2] = 1.0
    x[0, 6] = b[6]  # a feature equal to the baseline: a null player
    ours = _exact_shapley_all_coalitions(net, x, b, GROUPS, chunk=8)
    engine = shapley.shapley_estimate(
        net, x, b, GROUPS, design=lambda d: None, exact_max_features=5
    ).values
    assert torch.allclose(ours, engine, atol=1e-6)
    assert ours[0, 4] == 0
    with torch.no_grad():
        gap = ours.sum(dim=1) - (net(x) - net(b.unsqueeze(0))).double()
    assert gap.abs().max() < 1e-5


def test_evaluations_follow_the_engines_adaptive_rounds():
    assert _round_budgets(25, 25) == [25]
    assert _round_budgets(25, 600) == [25, 25, 50, 100, 200, 200]
    # exact rows: every coalition; sampled rows: each round's orders of d - 1
    # prefixes, plus f(x) and f(reference) per round
    assert _evaluations_used("shapley_sampling", 10, 25, 25) == 1 << 10
    d = shapley.EXACT_MAX_FEATURES + 2
    assert _evaluations_used("shapley_sampling", d, 25, 50) == 2 * (26 * (d - 1) + 2)

"""Exact interventional TreeSHAP (issue 18, item 3): equal to brute-force enumeration
of every coalition on small random ensembles, efficient, zero for a feature equal to the
reference, and the mean over a background."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest

from explain.tree_shap import Tree, ensemble_predict, tree_shap


def _random_tree(rng: np.random.Generator, width: int, depth: int) -> Tree:
    feature, threshold, left, right, value = [], [], [], [], []

    def grow(level: int) -> int:
        node = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(0.0)
        if level == depth or (level > 1 and rng.random() < 0.2):
            value[node] = float(rng.normal())
            return node
        feature[node] = int(rng.integers(width))
        threshold[node] = float(rng.normal())
        left[node] = grow(level + 1)
        right[node] = grow(level + 1)
        return node

    grow(0)
    return Tree(feature, threshold, left, right, value)


def _brute_force(trees: list[Tree], x: np.ndarray, z: np.ndarray) -> np.ndarray:
    n = len(x)
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for subset in combinations(others, size):
                with_i, without = z.copy(), z.copy()
                with_i[list(subset) + [i]] = x[list(subset) + [i]]
                without[list(subset)] = x[list(subset)]
                phi[i] += weight * (
                    ensemble_predict(trees, with_i) - ensemble_predict(trees, without)
                )
    return phi


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    width = 5
    trees = [_random_tree(rng, width, depth=4) for _ in range(3)]
    x, z = rng.normal(size=width), rng.normal(size=width)
    exact = tree_shap(trees, x, z)
    assert np.allclose(exact, _brute_force(trees, x, z), atol=1e-12)
    # efficiency
    gap = exact.sum() - (ensemble_predict(trees, x) - ensemble_predict(trees, z))
    assert abs(gap) < 1e-12


def test_a_feature_equal_to_the_reference_gets_exactly_zero():
    rng = np.random.default_rng(9)
    trees = [_random_tree(rng, 4, depth=5) for _ in range(4)]
    x, z = rng.normal(size=4), rng.normal(size=4)
    z[2] = x[2]
    assert tree_shap(trees, x, z)[2] == 0.0


def test_against_a_background_it_is_the_mean_over_the_rows():
    rng = np.random.default_rng(3)
    trees = [_random_tree(rng, 4, depth=3) for _ in range(2)]
    x = rng.normal(size=4)
    background = rng.normal(size=(7, 4))
    mean = np.mean([_brute_force(trees, x, z) for z in background], axis=0)
    assert np.allclose(tree_shap(trees, x, background), mean, atol=1e-12)


def test_the_strict_split_mode_is_respected():
    tree = Tree([0, -1, -1], [1.0, 0, 0], [1, -1, -1], [2, -1, -1], [0, 5.0, 7.0], "lt")
    x, z = np.array([1.0]), np.array([0.0])  # x=1 is not < 1: right (7); z: left (5)
    assert tree_shap([tree], x, z)[0] == pytest.approx(2.0)

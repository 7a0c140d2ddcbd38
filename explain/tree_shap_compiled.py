"""Exact interventional TreeSHAP per (row, reference) pair, compiled with numba: the
same closed form as ``explain.tree_shap`` (a depth-first walk over the splits where
the row and the reference part ways, each leaf's game solved exactly), rows in
parallel. ``explain.tree_ensembles.tree_shap_batch`` uses it against a few reference
rows (the training baseline: the engine's default), where counting leaf patterns does
not pay; against a background of many rows the pattern counting is faster.

Players are bits of an int64 (at most ``MAX_PLAYERS``). Compiled on first use and
cached next to this file when the folder is writable (a read-only image compiles once
per process). Without numba, or if compiling fails, the caller counts leaf patterns
instead: the values are the same.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from math import factorial
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)
MAX_PLAYERS = 62
# numba's cache lives in this folder's __pycache__: only where it can be written
CACHE = os.access(Path(__file__).resolve().parent, os.W_OK)
STACK = 512  # pending nodes of one walk: at most twice the depth of a tree


def shapley_coefficients(size: int) -> tuple[np.ndarray, np.ndarray]:
    """[a, b] tables for a leaf reached with a players that must be in and b that must
    be out: (a-1)!b!/(a+b)! for each in, a!(b-1)!/(a+b)! for each out (0 if none)."""
    inside, outside = np.zeros((size, size)), np.zeros((size, size))
    for a in range(size):
        for b in range(size - a):
            total = factorial(a + b)
            if a:
                inside[a, b] = factorial(a - 1) * factorial(b) / total
            if b:
                outside[a, b] = factorial(a) * factorial(b - 1) / total
    return inside, outside


@cache
def _kernel() -> Any:
    """The compiled walk, or None where numba is not installed."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is pinned in requirements.txt
        return None

    @numba.njit(cache=CACHE)  # type: ignore[untyped-decorator, unused-ignore]
    def spread(row: Any, mask: int, amount: float) -> None:
        while mask:
            low = mask & -mask
            bit = 0
            while (low >> bit) != 1:
                bit += 1
            row[bit] += amount
            mask ^= low

    @numba.njit(cache=CACHE)  # type: ignore[untyped-decorator, unused-ignore]
    def popcount(mask: int) -> int:
        count = 0
        while mask:
            mask &= mask - 1
            count += 1
        return count

    @numba.njit(cache=CACHE, parallel=True)  # type: ignore[untyped-decorator, unused-ignore]
    def walk(
        feature: Any,
        threshold: Any,
        left: Any,
        right: Any,
        value: Any,
        roots: Any,
        player: Any,
        x: Any,
        z: Any,
        inside: Any,
        outside: Any,
        n_players: int,
    ) -> Any:
        n, r = x.shape[0], z.shape[0]
        phi = np.zeros((n, n_players))
        for i in numba.prange(n):
            nodes = np.empty(STACK, np.int64)
            x_sets = np.empty(STACK, np.int64)
            z_sets = np.empty(STACK, np.int64)
            for k in range(r):
                for root in roots:
                    nodes[0], x_sets[0], z_sets[0] = root, 0, 0
                    top = 1
                    while top:
                        top -= 1
                        node, xs, zs = nodes[top], x_sets[top], z_sets[top]
                        f = feature[node]
                        if f < 0:
                            if xs or zs:
                                a, b = popcount(xs), popcount(zs)
                                v = value[node] / r
                                spread(phi[i], xs, v * inside[a, b])
                                spread(phi[i], zs, -v * outside[a, b])
                            continue
                        x_left = x[i, f] <= threshold[node]
                        z_left = z[k, f] <= threshold[node]
                        x_child = left[node] if x_left else right[node]
                        z_child = left[node] if z_left else right[node]
                        bit = np.int64(1) << player[f]
                        if x_left == z_left or xs & bit:
                            nodes[top], x_sets[top], z_sets[top] = x_child, xs, zs
                            top += 1
                        elif zs & bit:
                            nodes[top], x_sets[top], z_sets[top] = z_child, xs, zs
                            top += 1
                        else:
                            nodes[top], x_sets[top], z_sets[top] = x_child, xs | bit, zs
                            nodes[top + 1], x_sets[top + 1] = z_child, xs
                            z_sets[top + 1] = zs | bit
                            top += 2
        return phi

    return walk


def flatten(trees: Any) -> tuple[np.ndarray, ...]:
    """The trees as one set of node arrays (children and roots offset)."""
    feature, threshold, left, right, value, roots = [], [], [], [], [], []
    offset = 0
    for tree in trees:
        roots.append(offset)
        feature += [int(f) for f in tree.feature]
        threshold += [tree.leq_threshold(i) for i in range(len(tree.feature))]
        left += [c + offset if c >= 0 else -1 for c in tree.left]
        right += [c + offset if c >= 0 else -1 for c in tree.right]
        value += [float(v) for v in tree.value]
        offset += len(tree.feature)
    return (
        np.array(feature, dtype=np.int64),
        np.array(threshold, dtype=np.float32),
        np.array(left, dtype=np.int64),
        np.array(right, dtype=np.int64),
        np.array(value, dtype=np.float64),
        np.array(roots, dtype=np.int64),
    )


def compiled_tree_shap(
    flat: tuple[np.ndarray, ...],
    x: np.ndarray,
    references: np.ndarray,
    players: np.ndarray,
    n_players: int,
) -> np.ndarray | None:
    """[N, n_players] Shapley values against the mean over ``references``; None when
    numba is missing or there are too many players for a bit set."""
    walk = _kernel()
    if walk is None or n_players > MAX_PLAYERS:
        return None
    inside, outside = shapley_coefficients(n_players + 1)
    try:
        phi: np.ndarray = walk(
            *flat,
            players.astype(np.int64),
            np.ascontiguousarray(x, dtype=np.float32),
            np.ascontiguousarray(references, dtype=np.float32),
            inside,
            outside,
            n_players,
        )
    except Exception:  # a compiler that fails here must not fail the explanation
        logger.exception("The compiled TreeSHAP walk failed; counting leaf patterns")
        return None
    return phi

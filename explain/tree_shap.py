"""Exact interventional Shapley values of tree ensembles against one reference row
(issue 18, item 3: the TreeSHAP family), from the tree structure alone.

For one reference ``z``, the value of a coalition S is f(x_S, z_rest). In a tree, a row
built that way reaches a leaf through splits where x and z go the same way (no feature
decides) or apart (the feature decides: x's side if it is in S, z's if not). A leaf
reached with x-features X and z-features Z is reached exactly when S ⊇ X and S ∩ Z = ∅,
a game whose Shapley values are known in closed form: each i in X gets
v·(|X|-1)!·|Z|!/(|X|+|Z|)!, each i in Z gets −v·|X|!·(|Z|-1)!/(|X|+|Z|)!. Summing over
the leaves and trees gives the exact values, with efficiency: Σφ = f(x) − f(z).
Against a background of rows, the values are the mean over the rows (interventional).

The trees are plain data (``Tree``); reading them from an ONNX TreeEnsemble is the
loader's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import factorial
from typing import Literal

import numpy as np

Mode = Literal["leq", "lt"]


@dataclass(frozen=True)
class Tree:
    """A binary regression tree: node i splits on ``feature[i]`` (−1 at a leaf) at
    ``threshold[i]``; a row goes to ``left[i]`` when its value is ≤ the threshold
    (``mode`` "leq") or < it ("lt"), else to ``right[i]``; a leaf's output is
    ``value[i]``."""

    feature: Sequence[int]
    threshold: Sequence[float]
    left: Sequence[int]
    right: Sequence[int]
    value: Sequence[float]
    mode: Mode = "leq"

    def goes_left(self, node: int, row: np.ndarray) -> bool:
        value = float(row[self.feature[node]])
        limit = float(self.threshold[node])
        return value <= limit if self.mode == "leq" else value < limit

    def leq_threshold(self, node: int) -> float:
        """The split as "x <= t goes left" on float32 inputs: the threshold in float32,
        for "lt" the float32 just below it."""
        t = np.float32(self.threshold[node])
        return float(t if self.mode == "leq" else np.nextafter(t, np.float32(-np.inf)))

    def predict(self, row: np.ndarray, root: int = 0) -> float:
        node = root
        while self.feature[node] >= 0:
            node = self.left[node] if self.goes_left(node, row) else self.right[node]
        return float(self.value[node])


def _tree_shap(tree: Tree, x: np.ndarray, z: np.ndarray, phi: np.ndarray) -> None:
    # (node, features on x's side, features on z's side); iterative, depth-first
    stack: list[tuple[int, frozenset[int], frozenset[int]]] = [
        (0, frozenset(), frozenset())
    ]
    while stack:
        node, on_x, on_z = stack.pop()
        feature = tree.feature[node]
        if feature < 0:
            a, b, v = len(on_x), len(on_z), float(tree.value[node])
            if a + b == 0 or v == 0.0:
                continue
            total = factorial(a + b)
            if a:
                share = v * factorial(a - 1) * factorial(b) / total
                for i in on_x:
                    phi[i] += share
            if b:
                share = v * factorial(a) * factorial(b - 1) / total
                for i in on_z:
                    phi[i] -= share
            continue
        x_left, z_left = tree.goes_left(node, x), tree.goes_left(node, z)
        x_child = tree.left[node] if x_left else tree.right[node]
        z_child = tree.left[node] if z_left else tree.right[node]
        if x_left == z_left:
            stack.append((x_child, on_x, on_z))
        elif feature in on_x:
            stack.append((x_child, on_x, on_z))
        elif feature in on_z:
            stack.append((z_child, on_x, on_z))
        else:
            stack.append((x_child, on_x | {feature}, on_z))
            stack.append((z_child, on_x, on_z | {feature}))


def tree_shap(
    trees: Sequence[Tree], x: np.ndarray, references: np.ndarray
) -> np.ndarray:
    """Exact interventional Shapley values of the sum of ``trees`` at ``x`` against
    ``references`` ([R, width] or one row): the mean over the reference rows."""
    x = np.asarray(x, dtype=np.float64)
    refs = np.atleast_2d(np.asarray(references, dtype=np.float64))
    phi = np.zeros(x.shape[-1], dtype=np.float64)
    for z in refs:
        for tree in trees:
            _tree_shap(tree, x, z, phi)
    return phi / len(refs)


def ensemble_predict(trees: Sequence[Tree], row: np.ndarray) -> float:
    return float(sum(tree.predict(np.asarray(row, dtype=np.float64)) for tree in trees))

"""Tree ensembles read from an ONNX graph, and their exact interventional Shapley values
for many rows at once (issue 18, item 3: method ``tree_shap``).

Reading (``onnx_tree_ensemble``): one ``TreeEnsembleClassifier`` (binary, one score,
``LOGISTIC``: the margin is the scored class's logit) or ``TreeEnsembleRegressor``
(``NONE``: the margin is the output) of ``ai.onnx.ml``, fed by the graph's input, as
onnxmltools and skl2onnx export LightGBM, XGBoost and scikit-learn boosting. Anything
else gives None (the model then runs without ``tree_shap``); the caller also accepts the
trees only when their margin reproduces onnxruntime (``explain.onnx_models``). Splits
are normalised to "x <= t goes left" on float32 inputs, exactly as onnxruntime compares
them: ``x < t`` is ``x <= nextafter(t, -inf)`` in float32. Missing-value tracking is
ignored: inputs are finite.

Shapley values (``tree_shap_batch``): for a reference row z, the value of a coalition S
of players is f(x_S, z_rest). Per leaf, a player whose path conditions x meets and z
does not must be in S, one z meets and x does not must be out, one neither meets makes
the leaf unreachable; with a such players "in" and b "out" the leaf's game has the
closed-form values v·(a-1)!·b!/(a+b)! (each "in") and −v·a!·(b-1)!/(a+b)! (each "out")
(see ``explain.tree_shap`` for the derivation and the brute-force tests). Per leaf the
background's patterns take few distinct values, so they are counted once per
(ensemble, background), and only the reachable (row, leaf, pattern) triples are
expanded: the cost grows with the rows and leaves, hardly with the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import onnx
from onnx import helper

from explain.tree_shap import Tree
from explain.tree_shap_compiled import (
    compiled_tree_shap,
    flatten,
    shapley_coefficients,
)

MAX_PATH_PLAYERS = 62  # players on one path, as bits of an int64
# up to this many reference rows each (row, reference) pair is walked, compiled
# (explain.tree_shap_compiled); beyond, counting the leaf patterns is faster
COMPILED_MAX_REFERENCES = 8


@dataclass(frozen=True)
class TreeEnsemble:
    """Trees whose leaf values add up, plus ``base_value``, to the margin (a logit for
    a classifier with a logistic link)."""

    trees: tuple[Tree, ...]
    base_value: float = 0.0
    link: str = "logistic"  # "logistic": sigmoid(margin) is P(scored); "identity"

    @cached_property
    def flat(self) -> tuple[np.ndarray, ...]:
        """The trees as one set of node arrays (``explain.tree_shap_compiled``)."""
        return flatten(self.trees)

    def paths(self, players: Sequence[int] | None) -> _Paths:
        """The leaves' paths with their player slots, built once per ``players``."""
        built: dict[tuple[int, ...] | None, _Paths] = self.__dict__.setdefault(
            "_paths_by_players", {}
        )
        key = None if players is None else tuple(players)
        if key not in built:
            built[key] = _build_paths(self, players)
        return built[key]

    def margin(self, x: np.ndarray) -> np.ndarray:
        """The margin of each row [N] (inputs compared in float32, like onnxruntime)."""
        paths = self.paths(None)
        codes = paths.codes(_float32(x))
        reached = codes == paths.valid[None, :]
        margin: np.ndarray = self.base_value + reached.astype(np.float64) @ paths.value
        return margin


def _float32(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=np.float32)).astype(np.float64)


@dataclass(frozen=True)
class _Paths:
    """Every tree's edges by depth, and each leaf's player slots: a slot per player in
    the order it first appears on the path from the root, so a node's slots extend
    its parent's."""

    value: np.ndarray  # [L] leaf values
    valid: np.ndarray  # [L] int64: a bit per player slot of the leaf
    slot_player: np.ndarray  # [L, P] player of each slot (0 where unused)
    leaf_node: np.ndarray  # [L] node index of each leaf
    nodes: int
    parent: np.ndarray  # [E] edges sorted by depth: parent node, child node
    child: np.ndarray
    column: np.ndarray  # [E] the split's column and float32 threshold
    threshold: np.ndarray
    left: np.ndarray  # [E] bool: x <= threshold takes this edge
    bit: np.ndarray  # [E] int64: the slot bit of the split's player
    levels: tuple[tuple[int, int], ...]  # edge ranges per depth
    slots: int  # P

    def codes(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        """[N, L] int64: the slots whose conditions on the leaf's path ``x`` meets.

        Top down, one depth at a time: a child's failed slots are its parent's plus
        the split's slot when x does not take the edge; compared in float32 (the
        inputs and thresholds are float32 numbers, so nothing changes).
        """
        columns = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        threshold = self.threshold[:, None]
        left = self.left[:, None]
        dtype = np.int32 if self.slots < 31 else np.int64
        bit = self.bit.astype(dtype)[:, None]
        found = np.empty((len(self.value), columns.shape[1]), dtype=np.int64)
        for start in range(0, columns.shape[1], chunk):
            rows = columns[:, start : start + chunk]
            failed = np.zeros((self.nodes, rows.shape[1]), dtype=dtype)
            for first, last in self.levels:
                below = rows[self.column[first:last]] <= threshold[first:last]
                missed = np.where(below == left[first:last], 0, bit[first:last])
                failed[self.child[first:last]] = (
                    failed[self.parent[first:last]] | missed
                )
            found[:, start : start + chunk] = failed[self.leaf_node]
        return (self.valid[:, None] & ~found).T


def _build_paths(ensemble: TreeEnsemble, players: Sequence[int] | None) -> _Paths:
    values: list[float] = []
    leaf_slots: list[list[int]] = []
    leaf_node: list[int] = []
    # edges: (depth, parent, child, column, threshold, left, slot)
    edges: list[tuple[int, int, int, int, float, bool, int]] = []
    nodes = 0
    for tree in ensemble.trees:
        root = nodes
        nodes += 1
        # (tree node, our node, depth, players in order of first appearance)
        stack: list[tuple[int, int, int, list[int]]] = [(0, root, 0, [])]
        while stack:
            node, ours, depth, order = stack.pop()
            feature = tree.feature[node]
            if feature < 0:
                values.append(float(tree.value[node]))
                leaf_slots.append(order)
                leaf_node.append(ours)
                continue
            player = feature if players is None else int(players[feature])
            extended = order if player in order else [*order, player]
            slot = extended.index(player)
            threshold = tree.leq_threshold(node)
            for child, left in ((tree.left[node], True), (tree.right[node], False)):
                edges.append((depth, ours, nodes, feature, threshold, left, slot))
                stack.append((child, nodes, depth + 1, extended))
                nodes += 1
    slots = max(1, max(len(s) for s in leaf_slots))
    if slots > MAX_PATH_PLAYERS:
        raise ValueError(f"A path with {slots} players is too deep for tree_shap.")
    slot_player = np.zeros((len(values), slots), dtype=np.int64)
    valid = np.zeros(len(values), dtype=np.int64)
    for leaf, order in enumerate(leaf_slots):
        for s, player in enumerate(order):
            slot_player[leaf, s] = player
            valid[leaf] |= 1 << s
    edges.sort(key=lambda e: e[0])
    depths = np.array([e[0] for e in edges], dtype=np.int64)
    bounds = np.flatnonzero(np.diff(depths)) + 1 if len(edges) else np.array([], int)
    cuts = [0, *bounds.tolist(), len(edges)]
    return _Paths(
        value=np.array(values, dtype=np.float64),
        valid=valid,
        slot_player=slot_player,
        leaf_node=np.array(leaf_node, dtype=np.int64),
        nodes=nodes,
        parent=np.array([e[1] for e in edges], dtype=np.int64),
        child=np.array([e[2] for e in edges], dtype=np.int64),
        column=np.array([e[3] for e in edges], dtype=np.int64),
        threshold=np.array([e[4] for e in edges], dtype=np.float32),
        left=np.array([e[5] for e in edges], dtype=bool),
        bit=np.array([1 << e[6] for e in edges], dtype=np.int64),
        levels=tuple(
            (cuts[i], cuts[i + 1])
            for i in range(len(cuts) - 1)
            if cuts[i + 1] > cuts[i]
        ),
        slots=slots,
    )


def _patterns(codes: np.ndarray, slots: int) -> tuple[np.ndarray, ...]:
    """The distinct (leaf, pattern) pairs of ``codes`` [N, L], sorted by leaf: their
    leaf, pattern, count, and each (row, leaf)'s index among them."""
    leaves = np.arange(codes.shape[1], dtype=np.int64)
    keys = (leaves[None, :] << slots) | codes
    unique, inverse, counts = np.unique(
        keys.ravel(), return_inverse=True, return_counts=True
    )
    return unique >> slots, unique & ((1 << slots) - 1), counts, inverse


def _one_pattern(
    paths: _Paths, x: np.ndarray, pattern: np.ndarray, n_players: int
) -> np.ndarray:
    """``tree_shap_batch`` when every leaf has one reference pattern: each (row, leaf)
    pair directly, only the reachable ones expanded."""
    codes = paths.codes(x)  # [N, L]
    valid = paths.valid[None, :]
    x_only = codes & ~pattern[None, :] & valid
    z_only = ~codes & pattern[None, :] & valid
    alive = ((~codes & ~pattern[None, :] & valid) == 0) & ((x_only | z_only) != 0)
    rows, leaf = np.nonzero(alive)
    x_only, z_only = x_only[rows, leaf], z_only[rows, leaf]
    a, b = np.bitwise_count(x_only), np.bitwise_count(z_only)
    inside, outside = shapley_coefficients(paths.slots + 1)
    gain = paths.value[leaf] * inside[a, b]
    loss = paths.value[leaf] * outside[a, b]
    phi = np.zeros(len(x) * n_players)
    base = rows * n_players
    for slot in range(paths.slots):
        amount = gain * ((x_only >> slot) & 1) - loss * ((z_only >> slot) & 1)
        phi += np.bincount(
            base + paths.slot_player[leaf, slot], weights=amount, minlength=len(phi)
        )
    return phi.reshape(len(x), n_players)


def tree_shap_batch(
    ensemble: TreeEnsemble,
    x: np.ndarray,
    references: np.ndarray,
    players: Sequence[int] | None = None,
) -> np.ndarray:
    """Exact interventional Shapley values [N, players] of the margin at each row of
    ``x`` [N, width] against ``references`` ([R, width] or one row; their mean).

    ``players`` maps each column to its player (a categorical feature's one-hot
    columns move together as one); None: each column its own. Efficiency holds:
    each row sums to margin(x) - mean margin(references).

    Per leaf, the rows' patterns (which slots x meets) and the references' take few
    distinct values: each distinct pair is computed once, then every row gathers
    the values of its patterns.
    """
    x = _float32(x)
    refs = _float32(references)
    n_players = (x.shape[1] if players is None else max(players) + 1) or 1
    if len(refs) <= COMPILED_MAX_REFERENCES:
        found = compiled_tree_shap(
            ensemble.flat,
            x,
            refs,
            np.arange(x.shape[1]) if players is None else np.asarray(players),
            n_players,
        )
        if found is not None:
            return found
    paths = ensemble.paths(players)
    slots = paths.slots
    b_leaf, b_code, b_count, _ = _patterns(paths.codes(refs), slots)
    if len(b_leaf) == len(paths.value):  # one pattern per leaf (one reference row)
        return _one_pattern(paths, _float32(x), b_code, n_players)
    a_leaf, a_code, _, a_of = _patterns(paths.codes(x), slots)
    # pair every row pattern with every reference pattern of its leaf
    leaves = len(paths.value)
    b_per_leaf = np.bincount(b_leaf, minlength=leaves)
    b_first = np.concatenate([[0], np.cumsum(b_per_leaf)[:-1]])
    repeats = b_per_leaf[a_leaf]
    a_idx = np.repeat(np.arange(len(a_leaf)), repeats)
    within = np.arange(len(a_idx)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    b_idx = b_first[a_leaf][a_idx] + within
    leaf = a_leaf[a_idx]
    codes, pattern, valid = a_code[a_idx], b_code[b_idx], paths.valid[leaf]
    x_only = codes & ~pattern & valid
    z_only = ~codes & pattern & valid
    alive = ((~codes & ~pattern & valid) == 0) & ((x_only | z_only) != 0)
    a_idx, leaf, x_only, z_only = (
        a_idx[alive],
        leaf[alive],
        x_only[alive],
        z_only[alive],
    )
    a, b = np.bitwise_count(x_only), np.bitwise_count(z_only)
    inside, outside = shapley_coefficients(slots + 1)
    scale = b_count[b_idx[alive]] / len(refs) * paths.value[leaf]
    gain, loss = scale * inside[a, b], scale * outside[a, b]
    # per distinct row pattern, its value for each slot of its leaf
    flat = np.zeros(len(a_leaf) * slots)
    for slot in range(slots):
        amount = gain * ((x_only >> slot) & 1) - loss * ((z_only >> slot) & 1)
        flat += np.bincount(a_idx * slots + slot, weights=amount, minlength=len(flat))
    table = flat.reshape(len(a_leaf), slots)
    # every row gathers the values of its (leaf, pattern)s that carry any
    carries = np.flatnonzero(np.any(table != 0, axis=1)[a_of])
    rows, leaf_of = np.divmod(carries, leaves)
    values = table[a_of[carries]]  # [E, slots]
    targets = rows[:, None] * n_players + paths.slot_player[leaf_of]
    phi = np.bincount(
        targets.ravel(), weights=values.ravel(), minlength=len(x) * n_players
    )
    return phi.reshape(len(x), n_players)


# --- reading the trees of an ONNX graph -------------------------------------------------


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    found = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            value = onnx.numpy_helper.to_array(value).tolist()
        found[attribute.name.removesuffix("_as_tensor")] = value
    return found


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _trees(attrs: dict[str, object], weights_key: str) -> list[Tree] | None:
    """The trees of a TreeEnsemble node, splits normalised to "x <= t goes left"."""
    tree_ids = list(attrs["nodes_treeids"])  # type: ignore[call-overload]
    node_ids = list(attrs["nodes_nodeids"])  # type: ignore[call-overload]
    features = list(attrs["nodes_featureids"])  # type: ignore[call-overload]
    thresholds = np.asarray(attrs["nodes_values"], dtype=np.float32)
    modes = [_text(m) for m in attrs["nodes_modes"]]  # type: ignore[attr-defined]
    true_ids = list(attrs["nodes_truenodeids"])  # type: ignore[call-overload]
    false_ids = list(attrs["nodes_falsenodeids"])  # type: ignore[call-overload]
    prefix = weights_key
    leaf_trees = list(attrs[f"{prefix}_treeids"])  # type: ignore[call-overload]
    leaf_nodes = list(attrs[f"{prefix}_nodeids"])  # type: ignore[call-overload]
    leaf_weights = list(attrs[f"{prefix}_weights"])  # type: ignore[call-overload]
    by_tree: dict[int, list[int]] = {}
    for i, tree in enumerate(tree_ids):
        by_tree.setdefault(int(tree), []).append(i)
    leaf_value: dict[tuple[int, int], float] = {}
    for tree, node, weight in zip(leaf_trees, leaf_nodes, leaf_weights, strict=True):
        key = (int(tree), int(node))
        leaf_value[key] = leaf_value.get(key, 0.0) + float(weight)
    trees = []
    for tree_id in sorted(by_tree):
        rows = by_tree[tree_id]
        index = {int(node_ids[i]): k for k, i in enumerate(rows)}
        feature, threshold, left, right, value = [], [], [], [], []
        for i in rows:
            mode = modes[i]
            if mode == "LEAF":
                feature.append(-1)
                threshold.append(0.0)
                left.append(-1)
                right.append(-1)
                value.append(leaf_value.get((tree_id, int(node_ids[i])), 0.0))
                continue
            t = thresholds[i]
            below = np.nextafter(t, np.float32(-np.inf))
            true_child, false_child = index[int(true_ids[i])], index[int(false_ids[i])]
            if mode == "BRANCH_LEQ":
                split, le_child, gt_child = t, true_child, false_child
            elif mode == "BRANCH_LT":
                split, le_child, gt_child = below, true_child, false_child
            elif mode == "BRANCH_GTE":
                split, le_child, gt_child = below, false_child, true_child
            elif mode == "BRANCH_GT":
                split, le_child, gt_child = t, false_child, true_child
            else:
                return None  # BRANCH_EQ / BRANCH_NEQ: not a threshold split
            feature.append(int(features[i]))
            threshold.append(float(split))
            left.append(le_child)
            right.append(gt_child)
            value.append(0.0)
        root = index.get(0, 0)
        if root != 0:  # the engine's trees start at index 0
            return None
        trees.append(Tree(feature, threshold, left, right, value))
    return trees


def onnx_tree_ensemble(data: bytes) -> TreeEnsemble | None:
    """The tree ensemble of an ONNX graph whose margin is additive in the engine's
    logit (a binary classifier with a logistic link, or a regressor), else None."""
    model = onnx.ModelProto()
    model.ParseFromString(data)
    ensembles = [n for n in model.graph.node if n.op_type.startswith("TreeEnsemble")]
    if len(ensembles) != 1 or ensembles[0].domain != "ai.onnx.ml":
        return None
    node = ensembles[0]
    feeds = {model.graph.input[0].name}
    for other in model.graph.node:  # the input, through Cast or Identity
        if other.op_type in ("Cast", "Identity") and set(other.input) & feeds:
            feeds |= set(other.output)
    if node.input[0] not in feeds:
        return None
    attrs = _attributes(node)
    post = _text(attrs.get("post_transform", "NONE"))
    base = [float(v) for v in attrs.get("base_values", []) or []]  # type: ignore[attr-defined]
    try:
        if node.op_type == "TreeEnsembleClassifier":
            labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings")
            class_ids = set(attrs["class_ids"])  # type: ignore[call-overload]
            if post != "LOGISTIC" or len(labels) != 2 or len(class_ids) != 1:  # type: ignore[arg-type]
                return None
            trees = _trees(attrs, "class")
            link = "logistic"
            base_value = base[next(iter(class_ids))] if base else 0.0
        elif node.op_type == "TreeEnsembleRegressor":
            if post != "NONE" or int(attrs.get("n_targets", 1)) != 1:  # type: ignore[call-overload]
                return None
            trees = _trees(attrs, "target")
            link = "identity"
            base_value = base[0] if base else 0.0
        else:
            return None
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not trees:
        return None
    return TreeEnsemble(tuple(trees), base_value, link)

"""Tree ensembles read from ONNX and their exact TreeSHAP (issue 18, item 3): the batched
values equal brute-force enumeration (players one column or a group of columns), equal
``shap.TreeExplainer`` on the same LightGBM model and background within 1e-6, and the
trees read from onnxmltools' and skl2onnx's exports reproduce onnxruntime; a model
whose trees do not add up to a logit (a random forest) is not read."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest
from onnx import TensorProto, helper

from explain.tree_ensembles import TreeEnsemble, onnx_tree_ensemble, tree_shap_batch
from tests.explain.test_tree_shap import _random_tree

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements")


def _brute_force(
    ensemble: TreeEnsemble, x: np.ndarray, z: np.ndarray, players: list[int]
) -> np.ndarray:
    """Shapley values of the game over players (their columns move together)."""
    m = max(players) + 1
    columns = [[c for c, p in enumerate(players) if p == q] for q in range(m)]

    def value(coalition: tuple[int, ...]) -> float:
        row = z.copy()
        for q in coalition:
            row[columns[q]] = x[columns[q]]
        return float(ensemble.margin(row[None, :])[0])

    phi = np.zeros(m)
    for i in range(m):
        others = [q for q in range(m) if q != i]
        for size in range(m):
            weight = factorial(size) * factorial(m - size - 1) / factorial(m)
            for subset in combinations(others, size):
                phi[i] += weight * (value((*subset, i)) - value(subset))
    return phi


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("players", [[0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 2, 2]])
def test_equal_to_brute_force_over_players(seed, players):
    rng = np.random.default_rng(seed)
    trees = tuple(_random_tree(rng, 6, depth=4) for _ in range(4))
    ensemble = TreeEnsemble(trees, base_value=0.25, link="identity")
    rows = rng.normal(size=(5, 6)).astype(np.float32)
    background = rng.normal(size=(4, 6)).astype(np.float32)
    found = tree_shap_batch(ensemble, rows, background, players)
    for x, phi in zip(rows, found, strict=True):
        expected = np.mean(
            [_brute_force(ensemble, x, z, players) for z in background], axis=0
        )
        assert np.abs(phi - expected).max() < 1e-12
    efficiency = ensemble.margin(rows) - ensemble.margin(background).mean()
    assert np.abs(found.sum(axis=1) - efficiency).max() < 1e-12


@pytest.mark.parametrize("references", [1, 3])
def test_the_compiled_walk_equals_the_pattern_counting(monkeypatch, references):
    """Both ways of computing the same values (a few references: the compiled walk;
    many: leaf patterns counted) agree to rounding."""
    import explain.tree_ensembles as module

    rng = np.random.default_rng(21)
    ensemble = TreeEnsemble(tuple(_random_tree(rng, 7, depth=6) for _ in range(12)))
    rows = rng.normal(size=(40, 7)).astype(np.float32)
    background = rng.normal(size=(references, 7)).astype(np.float32)
    players = [0, 1, 1, 2, 3, 3, 4]
    compiled = tree_shap_batch(ensemble, rows, background, players)
    monkeypatch.setattr(module, "COMPILED_MAX_REFERENCES", 0)
    counted = tree_shap_batch(ensemble, rows, background, players)
    assert np.abs(compiled - counted).max() < 1e-12


def test_a_feature_equal_to_the_reference_gets_exactly_zero():
    rng = np.random.default_rng(3)
    ensemble = TreeEnsemble(tuple(_random_tree(rng, 4, 5) for _ in range(5)))
    z = rng.normal(size=4).astype(np.float32)
    x = z.copy()
    x[[0, 2]] += 1.5
    phi = tree_shap_batch(ensemble, x[None, :], z)
    assert phi[0, 1] == 0.0 and phi[0, 3] == 0.0


def _lightgbm(width: int = 8, zipmap: bool = False):
    lgb = pytest.importorskip("lightgbm", reason="lightgbm is pinned in requirements")
    onnxmltools = pytest.importorskip("onnxmltools", reason="pinned in requirements")
    from onnxmltools.convert.common.data_types import FloatTensorType

    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, width)).astype(np.float32)
    x[:, 3] = rng.integers(0, 2, size=600)  # a binary column, ties at thresholds
    y = ((x[:, 0] + x[:, 1] * x[:, 2] > 0) ^ (x[:, 3] > 0.5)).astype(int)
    model = lgb.LGBMClassifier(
        n_estimators=40,
        num_leaves=15,
        random_state=0,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    ).fit(x, y)
    data = onnxmltools.convert_lightgbm(
        model,
        initial_types=[("x", FloatTensorType([None, width]))],
        zipmap=zipmap,
        target_opset=15,
    ).SerializeToString()
    return model, data, x


@pytest.mark.parametrize("zipmap", [False, True])
def test_lightgbm_trees_read_from_onnx_reproduce_onnxruntime(zipmap):
    model, data, x = _lightgbm(zipmap=zipmap)
    ensemble = onnx_tree_ensemble(data)
    assert ensemble is not None and ensemble.link == "logistic"
    assert len(ensemble.trees) == 40
    outputs = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    if zipmap:
        probability = np.array([row[1] for row in outputs[1]])
    else:
        probability = outputs[1][:, 1]
    margin = ensemble.margin(x)
    assert np.abs(1 / (1 + np.exp(-margin)) - probability).max() < 1e-5
    # and LightGBM's own raw score (float32 leaves and thresholds in the ONNX file)
    assert np.abs(margin - model.booster_.predict(x, raw_score=True)).max() < 1e-5


@pytest.mark.parametrize("background_rows", [1, 20])
def test_equal_to_shap_tree_explainer_on_lightgbm(background_rows):
    shap = pytest.importorskip("shap", reason="shap is a dev requirement")
    model, data, x = _lightgbm()
    ensemble = onnx_tree_ensemble(data)
    assert ensemble is not None
    background, rows = x[:background_rows], x[100:160]
    explainer = shap.TreeExplainer(
        model.booster_,
        data=background,
        feature_perturbation="interventional",
        model_output="raw",
    )
    expected = np.asarray(explainer.shap_values(rows, check_additivity=False))
    if expected.ndim == 3:
        expected = expected[..., -1]
    found = tree_shap_batch(ensemble, rows, background)
    assert np.abs(found - expected).max() < 1e-6


def test_scikit_learn_boosting_reads_and_a_random_forest_does_not():
    skl2onnx = pytest.importorskip("skl2onnx", reason="pinned in requirements")
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
    )

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(int)
    opsets = {"": 17, "ai.onnx.ml": 3}
    boosted = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    data = skl2onnx.to_onnx(
        boosted.fit(x, y), x[:1], options={"zipmap": False}, target_opset=opsets
    ).SerializeToString()
    ensemble = onnx_tree_ensemble(data)
    assert ensemble is not None
    assert np.abs(ensemble.margin(x) - boosted.decision_function(x)).max() < 1e-5
    regressor = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
    data = skl2onnx.to_onnx(
        regressor.fit(x, 2 * x[:, 0]), x[:1], target_opset=opsets
    ).SerializeToString()
    read = onnx_tree_ensemble(data)
    assert read is not None and read.link == "identity"
    out = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {"X": x}
    )[0]
    assert np.abs(read.margin(x) - out.ravel()).max() < 1e-5
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    data = skl2onnx.to_onnx(
        forest.fit(x, y), x[:1], options={"zipmap": False}, target_opset=opsets
    ).SerializeToString()
    assert onnx_tree_ensemble(data) is None  # averaged probabilities: not a logit


@pytest.mark.parametrize("mode", ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"])
def test_every_threshold_split_mode_matches_onnxruntime_at_its_ties(mode):
    """One stump per mode, rows exactly at and around the threshold."""
    node = helper.make_node(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0],
        nodes_nodeids=[0, 1, 2],
        nodes_featureids=[1, 0, 0],
        nodes_values=[0.3, 0.0, 0.0],
        nodes_modes=[mode, "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0],
        nodes_falsenodeids=[2, 0, 0],
        target_ids=[0, 0],
        target_nodeids=[1, 2],
        target_treeids=[0, 0],
        target_weights=[-1.0, 2.0],
        n_targets=1,
        post_transform="NONE",
    )
    graph = helper.make_graph(
        [node],
        "stump",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", 17),
            helper.make_opsetid("ai.onnx.ml", 3),
        ],
    )
    model.ir_version = 8
    data = model.SerializeToString()
    t = np.float32(0.3)
    column = [np.nextafter(t, np.float32(-1)), t, np.nextafter(t, np.float32(1)), 0, 1]
    x = np.stack([np.zeros(5), np.array(column)], axis=1).astype(np.float32)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    ensemble = onnx_tree_ensemble(data)
    assert ensemble is not None
    assert ensemble.margin(x).tolist() == expected.ravel().tolist()


def test_a_failing_compiler_falls_back_to_pattern_counting(monkeypatch):
    """tree_shap never fails because numba does: the same values another way."""
    import explain.tree_shap_compiled as compiled

    rng = np.random.default_rng(8)
    ensemble = TreeEnsemble(tuple(_random_tree(rng, 5, depth=4) for _ in range(6)))
    rows = rng.normal(size=(10, 5)).astype(np.float32)
    reference = rng.normal(size=(1, 5)).astype(np.float32)
    expected = tree_shap_batch(ensemble, rows, reference)

    def broken(*_: object) -> None:
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(compiled, "_kernel", lambda: broken)
    assert np.abs(tree_shap_batch(ensemble, rows, reference) - expected).max() < 1e-12

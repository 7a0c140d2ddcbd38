"""Issue 18, item 5: client models explained at full speed, each pair side by side in
one run.

    .venv/bin/pip install -r requirements-dev.txt   # shap, for the comparisons
    .venv/bin/python -m bench.models [--rows 1000] [--kernel-rows 50] [--samples 1000]

(a) the demo credit MLP exported to ONNX and converted to torch vs the same weights in
    the registry MLP: our Integrated Gradients (``bench.onnx_mlp``; target <= 1.5x);
(b) the demo's LightGBM credit model (``demo.credit_trees``, read from its ONNX file):
    ``tree_shap`` vs ``shap.TreeExplainer`` (interventional, raw margin, on the LightGBM
    booster) on the same 1,000 applicants, against the training baseline row and
    against 100 training rows, explanations/s and the largest difference (target >= 1x
    at equal values);
(c) Kernel SHAP through onnxruntime (the engine's estimator on the onnxruntime model) vs
    ``shap.KernelExplainer`` on the same onnxruntime logit function at the same number
    of coalition samples, one reference row, the engine's players (each feature, its
    one-hot columns together; shap given the same groups), each compared with the
    exact values of (b) (target >= 10x, equal or better error).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch

import explain
from bench.onnx_mlp import mlp_report
from demo import credit, credit_trees
from explain.kernel_shap import kernel_shap_estimate
from explain.onnx_runtime import OnnxRuntimeModel
from explain.tree_ensembles import onnx_tree_ensemble, tree_shap_batch


def _best(fn: Any, repeats: int) -> tuple[Any, float]:
    """The result and the median wall time of ``repeats`` runs."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def _tree_setup() -> dict[str, Any]:
    """The demo tree model: its ONNX bytes and ensemble, the same LightGBM booster
    trained again (deterministic: the same trees), the encoded rows and references."""
    import lightgbm

    data, _metrics, schema_data, rows = credit_trees.train_tree_model()
    schema = explain.parse_feature_schema(schema_data)
    x = schema.encode(rows).numpy()
    labels = np.array(credit.load_credit_rows()[1])
    train, _ = credit_trees.split_indices(list(labels), credit.TRAINING.split_seed)
    booster = (
        lightgbm.LGBMClassifier(**credit_trees.PARAMETERS)
        .fit(x[train], labels[train])
        .booster_
    )
    ensemble = onnx_tree_ensemble(data)
    assert ensemble is not None
    return {
        "data": data,
        "schema": schema,
        "ensemble": ensemble,
        "booster": booster,
        "x": x,
        "baseline": schema.encode([schema_data["baseline"]]).numpy(),
        "background": x[train][:100],
    }


def tree_benchmark(setup: dict[str, Any], n_rows: int, repeats: int) -> list[dict]:
    """tree_shap vs shap.TreeExplainer on the same rows, per background."""
    import shap

    rows = setup["x"][:n_rows]
    found = []
    for name in ("baseline", "background"):
        references = setup[name]
        explainer = shap.TreeExplainer(
            setup["booster"],
            data=references,
            feature_perturbation="interventional",
            model_output="raw",
        )
        tree_shap_batch(setup["ensemble"], rows[:5], references)  # read the paths
        ours, ours_s = _best(
            lambda r=references: tree_shap_batch(setup["ensemble"], rows, r), repeats
        )
        theirs, theirs_s = _best(
            lambda e=explainer: e.shap_values(rows, check_additivity=False), repeats
        )
        theirs = np.asarray(theirs)
        if theirs.ndim == 3:
            theirs = theirs[..., -1]
        found.append(
            {
                "references": len(references),
                "ours_per_s": len(rows) / ours_s,
                "shap_per_s": len(rows) / theirs_s,
                "ratio": theirs_s / ours_s,
                "max_difference": float(np.abs(ours - theirs).max()),
            }
        )
    return found


def kernel_benchmark(
    setup: dict[str, Any], n_rows: int, n_samples: int
) -> dict[str, Any]:
    """Kernel SHAP on the onnxruntime model, the engine's players (each feature, its
    one-hot columns together): ours vs shap.KernelExplainer given the same groups."""
    import shap
    from shap.utils._legacy import DenseData

    model = OnnxRuntimeModel(setup["data"], output_index=1, output_kind="probability")
    rows = setup["x"][100 : 100 + n_rows]
    baseline = setup["baseline"]
    groups = list(setup["schema"].column_groups().values())
    players = [0] * rows.shape[1]
    for g, columns in enumerate(groups):
        for c in columns:
            players[c] = g
    exact = tree_shap_batch(setup["ensemble"], rows, baseline, players)

    def ours() -> np.ndarray:
        with torch.no_grad():
            estimate = kernel_shap_estimate(
                model,
                torch.from_numpy(rows),
                torch.from_numpy(baseline[0]),
                groups,
                n_samples=n_samples,
                seed=0,
                exact_max_features=0,
            )
        return estimate.values.numpy()

    def logit(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(a.astype(np.float32))).double().numpy()

    background = DenseData(
        baseline, [str(g) for g in range(len(groups))], [np.array(c) for c in groups]
    )
    explainer = shap.KernelExplainer(logit, background)
    mine, mine_s = _best(ours, 1)
    theirs, theirs_s = _best(
        lambda: explainer.shap_values(rows, nsamples=n_samples, silent=True), 1
    )
    theirs = np.asarray(theirs).reshape(len(rows), len(groups))
    return {
        "rows": len(rows),
        "players": len(groups),
        "samples": n_samples,
        "ours_per_s": len(rows) / mine_s,
        "shap_per_s": len(rows) / theirs_s,
        "ratio": theirs_s / mine_s,
        "ours_error": float(np.abs(mine - exact).mean()),
        "shap_error": float(np.abs(theirs - exact).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kernel-rows", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    mlp_report(args.rows, args.repeats)
    try:
        import shap  # noqa: F401
    except ImportError:
        print("shap is not installed: pip install -r requirements-dev.txt")
        return
    setup = _tree_setup()
    print(
        f"(b) demo LightGBM credit model ({len(setup['ensemble'].trees)} trees, read "
        f"from ONNX), {args.rows} applicants, exact interventional Shapley values:"
    )
    for found in tree_benchmark(setup, args.rows, args.repeats):
        print(
            f"    {found['references']:>3} reference row(s): tree_shap "
            f"{found['ours_per_s']:,.0f}/s, shap.TreeExplainer "
            f"{found['shap_per_s']:,.0f}/s: {found['ratio']:.2f}x (target >= 1x); "
            f"largest difference {found['max_difference']:.1e}"
        )
    found = kernel_benchmark(setup, args.kernel_rows, args.samples)
    print(
        f"(c) Kernel SHAP through onnxruntime, {found['rows']} applicants, "
        f"{found['samples']} coalition samples each, {found['players']} features "
        "(one-hot columns together) as players:"
    )
    print(
        f"    ours {found['ours_per_s']:,.1f}/s (mean |error| vs exact "
        f"{found['ours_error']:.2e}), shap.KernelExplainer {found['shap_per_s']:,.1f}/s "
        f"({found['shap_error']:.2e}): {found['ratio']:.1f}x (target >= 10x), "
        f"{'equal or better' if found['ours_error'] <= found['shap_error'] else 'worse'}"
        " error"
    )


if __name__ == "__main__":
    main()

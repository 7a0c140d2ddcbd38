"""The demo's third AI system (issue 18): Demo Bank's gradient-boosted credit model, a
LightGBM ensemble trained deterministically on the same German Credit rows and split as
the credit MLP, exported to ONNX with onnxmltools the way a bank's data scientists
would, and registered through the API (``demo.onnx_client``), not seeded.

``python -m demo.credit_trees --out DIR`` (a step of ``make demo``, after
``demo.train``) runs ``write_tree_model(out)``, which writes ``<out>/onnx/credit_trees.onnx`` and
``credit_trees.json`` (the organisation, the AI system, the model version with its
output declaration, twelve held-out sample decisions scored by onnxruntime, and the
methods the demo asks for).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

import explain
from demo import credit, train
from demo.training import split_indices, training_schema
from explain.onnx_check import session_new

NAME = "credit_trees"
MODEL_VERSION = "1.0.0"
# LightGBM: fixed seeds, one thread, row-wise histograms: the same bytes every run
PARAMETERS = {
    "n_estimators": 100,
    "num_leaves": 15,
    "learning_rate": 0.05,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "random_state": 20261203,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}
METHODS = ["tree_shap", "kernel_shap"]
ONNX_OPSET = 15
AI_SYSTEM = {
    **credit.AI_SYSTEM,
    "name": "Demo Bank consumer credit scoring (gradient boosting)",
    "provider": "Demo Bank risk analytics: LightGBM model exported to ONNX "
    "(fictional demo organisation)",
    "known_limitations": credit.AI_SYSTEM["known_limitations"]
    + " A gradient-boosted tree ensemble run by onnxruntime: explained by exact "
    "TreeSHAP and Kernel SHAP; gradient methods do not apply.",
    "default_explanation_methods": METHODS,
}


def train_tree_model() -> tuple[bytes, dict[str, Any], Any, list[dict[str, Any]]]:
    """The ONNX bytes, the metrics, the schema document and the rows (German Credit,
    the credit MLP's stratified split and schema)."""
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    rows, labels = credit.load_credit_rows()
    settings = credit.TRAINING
    # the credit MLP's split, schema, baseline and background (same rows, same seed)
    train, test, schema_data, schema = training_schema(
        rows, labels, credit.build_credit_schema, settings.split_seed
    )
    x = schema.encode(rows).numpy()
    y = np.array(labels)
    model = lightgbm.LGBMClassifier(**PARAMETERS).fit(x[train], y[train])
    onnx_model = convert_lightgbm(
        model,
        name="demo_bank_credit_trees",
        initial_types=[("x", FloatTensorType([None, schema.input_width]))],
        zipmap=False,
        target_opset=ONNX_OPSET,
    )
    # the converter lists the opsets from a set: in hash order, which changes with
    # every process (PYTHONHASHSEED); sorted, the bytes are the same every run
    imports = sorted(onnx_model.opset_import, key=lambda o: o.domain)
    copies = [(o.domain, o.version) for o in imports]
    del onnx_model.opset_import[:]
    for domain, version in copies:
        onnx_model.opset_import.add(domain=domain, version=version)
    data = onnx_model.SerializeToString()
    scores = _scores(data, x[test])
    predictions = (scores >= settings.decision_threshold).astype(int)
    metrics = {
        "accuracy": round(float(accuracy_score(y[test], predictions)), 4),
        "roc_auc": round(float(roc_auc_score(y[test], scores)), 4),
        "n_train": len(train),
        "n_test": len(test),
        "split_seed": settings.split_seed,
        "trees": PARAMETERS["n_estimators"],
        "leaves_per_tree": PARAMETERS["num_leaves"],
    }
    return data, metrics, schema_data, rows


def _scores(data: bytes, x: np.ndarray) -> np.ndarray:
    """P(bad) from onnxruntime (output 1, the [N, 2] probabilities)."""
    session = session_new(data)
    return np.asarray(session.run(None, {"x": x.astype(np.float32)})[1])[:, 1]


def tree_manifest(
    data: bytes, metrics: dict[str, Any], schema_data: Any, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """What ``demo.onnx_client`` registers and submits."""
    settings = credit.TRAINING
    threshold = settings.decision_threshold
    schema = explain.parse_feature_schema(schema_data)
    _, test = split_indices(credit.load_credit_rows()[1], settings.split_seed)
    test_scores = _scores(data, schema.encode([rows[i] for i in test]).numpy())
    indices = train.choose_sample_indices(test, test_scores.tolist(), threshold)
    sample_scores = _scores(data, schema.encode([rows[i] for i in indices]).numpy())
    decisions = []
    for number, (index, score) in enumerate(zip(indices, sample_scores, strict=True)):
        decisions.append(
            {
                "external_id": f"loan-gb-2026-{201 + number:06d}",
                "subject_ref": train.pseudonymous_subject_ref(credit.DEFINITION, index),
                "features": dict(rows[index]),
                "score": float(score),
                "outcome": credit.SCORED_CLASS
                if score >= threshold
                else credit.FAVOURABLE_CLASS,
                "decided_at": f"2026-11-21T{9 + number // 6:02d}:{(number % 6) * 9:02d}:00Z",
            }
        )
    return {
        "organization": credit.DEFINITION.organization,
        "ai_system": AI_SYSTEM,
        "model_version": {
            "version": MODEL_VERSION,
            "feature_schema": schema_data,
            "class_labels": list(credit.CLASS_LABELS),
            "favourable_class": credit.FAVOURABLE_CLASS,
            "decision_threshold": threshold,
            "output": {"kind": "probability", "index": 1},
            "training_data_summary": (
                "LightGBM gradient boosting "
                f"({PARAMETERS['n_estimators']} trees of at most "
                f"{PARAMETERS['num_leaves']} leaves, learning rate "
                f"{PARAMETERS['learning_rate']}) on the German Credit training split of "
                "the credit MLP (same rows, same seed), one-hot encoded as the feature "
                "schema says; exported to ONNX (ai.onnx.ml TreeEnsembleClassifier) with "
                "onnxmltools."
            ),
            "performance_metrics": metrics,
        },
        "onnx_file": f"{NAME}.onnx",
        "onnx_sha256": explain.sha256_hex(data),
        "methods": METHODS,
        "sample_decisions": decisions,
    }


def write_tree_model(out_dir: Path, *, force: bool = False) -> dict[str, Any]:
    """Train (unless the files are there and match) and write the ONNX model and its
    manifest under ``<out_dir>/onnx``."""
    folder = out_dir / "onnx"
    onnx_path, json_path = folder / f"{NAME}.onnx", folder / f"{NAME}.json"
    if not force and onnx_path.is_file() and json_path.is_file():
        manifest = json.loads(json_path.read_text(encoding="utf-8"))
        if manifest.get("onnx_sha256") == explain.sha256_hex(onnx_path.read_bytes()):
            print(f"{NAME}: up to date")
            return dict(manifest)
    folder.mkdir(parents=True, exist_ok=True)
    data, metrics, schema_data, rows = train_tree_model()
    manifest = tree_manifest(data, metrics, schema_data, rows)
    onnx_path.write_bytes(data)
    json_path.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{NAME}: {json.dumps(metrics)} -> {onnx_path} ({len(data):,} bytes)")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the demo's tree model.")
    parser.add_argument("--out", type=Path, default=Path(".data/demo_models"))
    parser.add_argument("--force", action="store_true")
    arguments = parser.parse_args(argv)
    write_tree_model(arguments.out, force=arguments.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An ONNX LightGBM model over the API (issue 18): registered like a client would,
run in onnxruntime with its trees read from the graph; explained by tree_shap (exact,
efficient), Kernel SHAP, Shapley value sampling and feature ablation; gradient methods
refused with a 400 naming why; its dossier and notice issued like any other."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import explain
from compliance.jobs import jobs_process
from compliance.models import Explanation, ModelVersion
from compliance.registry.loading import score_reproduce
from tests import factories
from tests.explain.test_onnx_torch import BACKGROUND
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

lgb = pytest.importorskip("lightgbm", reason="lightgbm is pinned in requirements.txt")
onnxmltools = pytest.importorskip("onnxmltools", reason="pinned in requirements.txt")

URL = "/api/v1/model-versions/"
SCHEMA = {**TINY_SCHEMA, "baseline": TINY_BASELINE, "background": BACKGROUND}
PERTURBATION = ["tree_shap", "kernel_shap", "shapley_sampling", "feature_ablation"]


@pytest.fixture(scope="module")
def tree_onnx() -> bytes:
    """A small LightGBM classifier on the test schema's encoded columns, as ONNX."""
    from onnxmltools.convert.common.data_types import FloatTensorType

    schema = explain.parse_feature_schema(SCHEMA)
    rng = np.random.default_rng(7)
    rows = [
        {
            "income": float(rng.uniform(500, 9000)),
            "age": int(rng.integers(18, 80)),
            "purpose": str(rng.choice(["car", "education", "other"])),
            "has_guarantor": bool(rng.random() < 0.4),
        }
        for _ in range(400)
    ]
    x = schema.encode(rows).numpy()
    y = ((x[:, 0] < 3500) ^ (x[:, 1] < 30) | (x[:, 3] > 0.5)).astype(int)
    model = lgb.LGBMClassifier(
        n_estimators=20,
        num_leaves=7,
        random_state=0,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
        verbose=-1,
    ).fit(x, y)
    converted = onnxmltools.convert_lightgbm(
        model,
        initial_types=[("x", FloatTensorType([None, schema.input_width]))],
        zipmap=False,
        target_opset=15,
    )
    return converted.SerializeToString()


def _explain(api_as: Any, mv: ModelVersion, methods: list[str]) -> tuple[int, Any]:
    features = {**VALID_FEATURES, "income": 1500.0, "age": 24, "purpose": "other"}
    score = score_reproduce(mv, features)
    assert score is not None
    client = api_as("client")
    decision = client.post(
        "/api/v1/decisions/",
        {
            **factories.decision_payload(mv, features=features),
            "score": score,
            "outcome": "bad" if score >= 0.5 else "good",
        },
        format="json",
    )
    assert decision.status_code == 201, decision.content
    assert decision.json()["prediction_consistent"] is True
    decision_id = decision.json()["id"]
    answer = client.post(
        f"/api/v1/decisions/{decision_id}/explanations/",
        {"methods": methods, "parameters": {"seed": 2}},
        format="json",
    )
    return decision_id, answer


def test_a_lightgbm_model_is_explained_exactly_and_refuses_gradients(
    world, api_as, tree_onnx
):
    response = api_as("admin").post(
        URL,
        {
            "ai_system": world.ai_system.pk,
            "version": "trees-1",
            "feature_schema": json.dumps(SCHEMA),
            "class_labels": json.dumps(["good", "bad"]),
            "favourable_class": "good",
            "decision_threshold": "0.5",
            "onnx": SimpleUploadedFile("trees.onnx", tree_onnx),
            "output": json.dumps({"kind": "probability", "index": 1}),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["execution"] == "onnx_runtime"
    assert body["onnx_plan"]["tree_ensemble"] is True
    assert body["onnx_plan"]["checks"]["trees_difference"] <= 1e-5
    assert body["available_methods"] == [
        "feature_ablation",
        "shapley_sampling",
        "kernel_shap",
        "tree_shap",
    ]
    mv = ModelVersion.objects.get(pk=body["id"])

    for gradient_method in ("integrated_gradients", "deeplift", "saliency"):
        _, refused = _explain(api_as, mv, [gradient_method])
        assert refused.status_code == 400, refused.content
        assert "need the model's gradients" in refused.json()["detail"]
        assert "tree_shap" in refused.json()["errors"]["methods"][0]

    decision_id, accepted = _explain(api_as, mv, PERTURBATION)
    assert accepted.status_code == 202, accepted.content
    while jobs_process(kind="explanation", worker="tree-test", limit=4):
        pass
    found = {
        e.method: e for e in Explanation.objects.filter(run__decision_id=decision_id)
    }
    assert set(found) == set(PERTURBATION)
    exact = found["tree_shap"]
    # efficiency, exactly: the attributions sum to f(x) - f(baseline) in logits
    assert sum(exact.attributions.values()) == pytest.approx(
        exact.output - exact.baseline_output, abs=1e-5
    )
    assert exact.manifest["execution"] == "onnx_runtime"
    # the sampled estimators of the same Shapley values agree with the exact ones
    for feature, value in exact.attributions.items():
        assert found["kernel_shap"].attributions[feature] == pytest.approx(
            value, abs=1e-3
        )

    # its dossier and its notice are issued like any other decision's
    client = api_as("client")
    issued = client.post(f"/api/v1/decisions/{decision_id}/dossiers/")
    assert issued.status_code == 202, issued.content
    while jobs_process(kind="dossier", worker="tree-test", limit=2):
        pass
    job = client.get(f"/api/v1/jobs/{issued.json()['id']}/").json()
    assert job["status"] == "done", job
    dossier = client.get(f"/api/v1/dossiers/{job['dossier']}/").json()
    text = " ".join(
        page.extract_text()
        for page in pypdf.PdfReader(
            io.BytesIO(client.get(f"/api/v1/dossiers/{dossier['id']}/pdf/").content)
        ).pages
    )
    text = " ".join(text.split())  # lines wrap anywhere
    assert "tree_shap" in text and "ONNX model" in text
    # exact: the dossier does not call it sampled
    assert "Method: TreeSHAP" in text and "sampled: each" not in text
    assert "onnxruntime" in text and "exact TreeSHAP read from its trees" in text
    notice = client.post(
        f"/api/v1/decisions/{decision_id}/notices/", {"lang": "en"}, format="json"
    )
    assert notice.status_code == 202, notice.content
    while jobs_process(kind="notice", worker="tree-test", limit=2):
        pass
    job = client.get(f"/api/v1/jobs/{notice.json()['id']}/").json()
    assert job["status"] == "done", job


def test_a_raw_input_tree_model_is_explained_per_feature(world, api_as):
    """A model trained on one column per feature (a category as its index), declared
    in the schema as model_input "raw": run in onnxruntime on the raw columns, its
    trees read and explained exactly, per feature."""
    from onnxmltools.convert.common.data_types import FloatTensorType

    schema_json = {**SCHEMA, "model_input": "raw"}
    schema = explain.parse_feature_schema(schema_json)
    rng = np.random.default_rng(3)
    x = np.stack(
        [
            rng.uniform(500, 9000, 400),
            rng.integers(18, 80, 400),
            rng.integers(0, 3, 400),  # purpose: car, education, other
            rng.integers(0, 2, 400),
        ],
        axis=1,
    ).astype(np.float32)
    y = ((x[:, 0] < 3500) ^ (x[:, 2] == 1)).astype(int)
    model = lgb.LGBMClassifier(
        n_estimators=15, num_leaves=7, random_state=0, deterministic=True, verbose=-1
    ).fit(x, y)
    data = onnxmltools.convert_lightgbm(
        model,
        initial_types=[("x", FloatTensorType([None, 4]))],
        zipmap=False,
        target_opset=15,
    ).SerializeToString()
    response = api_as("admin").post(
        URL,
        {
            "ai_system": world.ai_system.pk,
            "version": "raw-trees",
            "feature_schema": json.dumps(schema_json),
            "class_labels": json.dumps(["good", "bad"]),
            "favourable_class": "good",
            "decision_threshold": "0.5",
            "onnx": SimpleUploadedFile("raw.onnx", data),
            "output": json.dumps({"kind": "probability", "index": 1}),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["execution"] == "onnx_runtime" and "tree_shap" in body["available_methods"]
    )
    mv = ModelVersion.objects.get(pk=body["id"])
    features = {**VALID_FEATURES, "income": 1500.0, "purpose": "education"}
    raw = np.array([[1500.0, 35, 1, 0]], dtype=np.float32)
    expected = float(model.predict_proba(raw)[0, 1])
    assert score_reproduce(mv, features) == pytest.approx(expected, abs=1e-5)
    decision_id, accepted = _explain(api_as, mv, ["tree_shap", "kernel_shap"])
    assert accepted.status_code == 202, accepted.content
    while jobs_process(kind="explanation", worker="tree-test", limit=4):
        pass
    found = {
        e.method: e for e in Explanation.objects.filter(run__decision_id=decision_id)
    }
    assert set(found["tree_shap"].attributions) == set(schema.names)
    for feature, value in found["tree_shap"].attributions.items():
        assert found["kernel_shap"].attributions[feature] == pytest.approx(
            value, abs=1e-3
        )

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile

import explain
from compliance.models import AuditEvent, ModelVersion
from tests import factories

URL = "/api/v1/model-versions/"


def _body(world: Any, weights: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    body = {
        "ai_system": world.ai_system.pk,
        "version": "2.0.0",
        "architecture": "logistic_regression",
        "feature_schema": json.dumps(factories.TINY_SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.4",
        "performance_metrics": json.dumps({"roc_auc": 0.8}),
        "weights": SimpleUploadedFile(
            "m.safetensors", weights or factories.tiny_weights()
        ),
    }
    body.update(overrides)
    return body


def _post(api_as: Any, body: dict[str, Any]) -> Any:
    return api_as("admin").post(URL, body, format="multipart")


def test_an_admin_registers_a_version_with_its_weights_hash(world, api_as):
    weights = factories.tiny_weights(seed=3)
    response = _post(api_as, _body(world, weights))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["weights_sha256"] == explain.sha256_hex(weights)
    assert body["feature_schema"] == factories.TINY_SCHEMA
    assert (body["class_labels"], body["scored_class"]) == (["good", "bad"], "bad")
    mv = ModelVersion.objects.get(pk=body["id"])
    with mv.weights.open("rb") as fh:
        assert fh.read() == weights
    assert AuditEvent.objects.filter(
        action="model_version.registered", object_id=str(mv.pk)
    ).exists()
    detail = api_as("client").get(f"{URL}{mv.pk}/").json()
    assert detail["feature_schema"]["features"][0]["name"] == "income"


def _pickle_bytes() -> bytes:
    return pickle.dumps({"linear.weight": [[0.0]]})


def _torch_save_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"linear.weight": torch.zeros(1, 6)}, buffer)
    return buffer.getvalue()


def _wrong_shape_bytes() -> bytes:
    schema = explain.parse_feature_schema(factories.TINY_SCHEMA)
    return explain.model_to_safetensors(
        explain.build_model("mlp", schema, {"hidden": [4]})
    )


@pytest.mark.parametrize(
    ("weights", "needle"),
    [
        (_pickle_bytes, "pickle"),
        (_torch_save_bytes, "zip archive"),
        (_wrong_shape_bytes, "do not fit"),
        (lambda: b"\x00" * 64, "not a valid safetensors"),
    ],
    ids=["pickle", "torch-save", "wrong-architecture", "garbage"],
)
def test_unsafe_or_unfit_weights_are_refused(world, api_as, weights, needle):
    before = ModelVersion.objects.count()
    response = _post(api_as, _body(world, weights()))
    assert response.status_code == 400
    assert needle in response.json()["errors"]["weights"][0]
    assert ModelVersion.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        (
            {
                "feature_schema": json.dumps(
                    {"features": [{"name": "a", "kind": "text"}]}
                )
            },
            "feature_schema.features[0].kind",
        ),
        ({"feature_schema": "{not json"}, "feature_schema"),
        ({"class_labels": json.dumps(["only-one"])}, "class_labels"),
        ({"favourable_class": "excellent"}, "favourable_class"),
        ({"decision_threshold": "1.5"}, "decision_threshold"),
        ({"architecture": "transformer"}, "architecture"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_metadata_is_refused_with_a_field_path(world, api_as, overrides, path):
    before = ModelVersion.objects.count()
    response = _post(api_as, _body(world, **overrides))
    assert response.status_code == 400, response.content
    assert path in response.json()["errors"], response.json()
    assert ModelVersion.objects.count() == before


def test_an_existing_version_is_a_conflict_not_an_overwrite(world, api_as):
    response = _post(api_as, _body(world, version=world.model_version.version))
    assert response.status_code == 409
    assert "version" in response.json()["errors"]

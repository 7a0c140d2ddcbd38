"""A model version's declared size is bounded before anything is built: the
parameter count that the architecture, hyperparameters and schema width would
allocate is computed without allocating, and above ``explain.MAX_PARAMETERS`` the
request is a 400 on ``hyperparameters``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import explain
import explain.loading
import explain.models
from compliance.models import ModelVersion
from tests import factories

URL = "/api/v1/model-versions/"


def _body(world: Any, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "ai_system": world.ai_system.pk,
        "version": "9.0.0",
        "architecture": "mlp",
        "hyperparameters": json.dumps(hyperparameters),
        "feature_schema": json.dumps(factories.TINY_SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.4",
        "weights": SimpleUploadedFile("m.safetensors", factories.tiny_weights()),
    }


@pytest.fixture
def nothing_is_built(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was built for an oversized request")

    monkeypatch.setattr(explain.loading, "build_model", refuse)
    monkeypatch.setattr(explain.models, "MLP", refuse)


@pytest.mark.parametrize(
    ("hidden", "needle"),
    [
        ([4096] * 48, "1 to 16 layer sizes"),  # the 300-byte field that took 3 GB
        ([4096, 4096, 4096], "the limit is 4,000,000"),  # very wide, few layers
    ],
    ids=["48-layers", "very-wide"],
)
def test_an_oversized_mlp_is_a_400_on_hyperparameters_and_builds_nothing(
    world, api_as, nothing_is_built, hidden, needle
):
    before = ModelVersion.objects.count()
    response = api_as("admin").post(
        URL, _body(world, {"hidden": hidden}), format="multipart"
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert needle in errors["hyperparameters"][0]
    assert "weights" not in errors
    assert ModelVersion.objects.count() == before


def test_parameter_count_is_what_build_model_allocates():
    schema = explain.parse_feature_schema(factories.TINY_SCHEMA)
    for architecture, hyperparameters in [
        ("logistic_regression", {}),
        ("mlp", {}),
        ("mlp", {"hidden": [7, 5, 3]}),
    ]:
        model = explain.build_model(architecture, schema, hyperparameters)
        allocated = sum(p.numel() for p in model.parameters())
        assert (
            explain.parameter_count(architecture, schema.input_width, hyperparameters)
            == allocated
        )


def test_build_model_itself_refuses_above_the_limit(monkeypatch):
    schema = explain.parse_feature_schema(factories.TINY_SCHEMA)
    monkeypatch.setattr(explain.models, "MLP", None)  # calling it would fail
    with pytest.raises(explain.ModelTooLarge, match="the limit is"):
        explain.build_model("mlp", schema, {"hidden": [4096] * 4})

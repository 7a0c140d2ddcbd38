"""Registration refuses reason texts that name an input the model does not use."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.models import ModelVersion
from tests import factories

URL = "/api/v1/model-versions/"


def _body(world: Any, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "ai_system": world.ai_system.pk,
        "version": "2.0.0",
        "architecture": "logistic_regression",
        "feature_schema": json.dumps(schema),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.4",
        "weights": SimpleUploadedFile("m.safetensors", factories.tiny_weights()),
    }


def test_a_reason_naming_an_input_the_model_does_not_use_is_refused(world, api_as):
    schema = json.loads(json.dumps(factories.TINY_SCHEMA))
    # "purpose" is no income: the reason would misstate what the model weighed
    schema["features"][2]["reason"] = (
        "Income insufficient for amount of credit requested"
    )
    response = api_as("admin").post(URL, _body(world, schema), format="multipart")
    assert response.status_code == 400, response.content
    text = json.dumps(response.json())
    assert "feature_schema.features.2.reason" in text
    assert "'purpose'" in text and "'income'" in text
    assert not ModelVersion.objects.filter(version="2.0.0").exists()


def test_the_same_schema_with_an_honest_reason_registers(world, api_as):
    schema = json.loads(json.dumps(factories.TINY_SCHEMA))
    schema["features"][2]["reason"] = "Other: purpose of the credit"
    response = api_as("admin").post(URL, _body(world, schema), format="multipart")
    assert response.status_code == 201, response.content

"""Issue 13 item 4: an uploaded model is built and checked outside the web process, in
a child with its own memory and time limits; the web worker never builds it."""

from __future__ import annotations

import pytest

import explain
from compliance.errors import ValidationFailed
from compliance.models import ModelVersion
from compliance.principals import Principal
from compliance.registry import services as registry
from tests import factories


@pytest.fixture
def isolated(settings):
    settings.MODEL_CHECK_ISOLATED = True
    settings.MODEL_CHECK_TIMEOUT_SECONDS = 120
    settings.MODEL_CHECK_MEMORY_BYTES = 3 * 1024**3
    return settings


def _register(ai, weights: bytes, version: str = "2.0.0") -> ModelVersion:
    return registry.model_version_register(
        principal=Principal(organization=ai.organization, role="admin"),
        ai_system=ai,
        version=version,
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema={**factories.TINY_SCHEMA, "baseline": factories.TINY_BASELINE},
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=weights,
    )


def test_the_web_process_never_builds_the_uploaded_model(db, isolated, monkeypatch):
    def refuse(**_):
        raise AssertionError("the model was built in the web process")

    monkeypatch.setattr(explain, "load_model", refuse)
    ai = factories.make_ai_system(factories.make_org())
    mv = _register(ai, factories.tiny_weights())
    assert mv.pk and mv.weights_sha256 == explain.sha256_hex(factories.tiny_weights())


def test_weights_the_child_cannot_load_are_a_400_naming_weights(db, isolated):
    ai = factories.make_ai_system(factories.make_org())
    with pytest.raises(ValidationFailed) as refused:
        _register(ai, b"not a safetensors file")
    assert list(refused.value.errors) == ["weights"]
    assert "safetensors" in refused.value.errors["weights"][0].lower()
    assert not ModelVersion.objects.filter(ai_system=ai).exists()


def test_a_check_over_its_time_is_stopped_and_refused(db, isolated):
    isolated.MODEL_CHECK_TIMEOUT_SECONDS = 0.2  # not even torch imports that fast
    ai = factories.make_ai_system(factories.make_org())
    with pytest.raises(ValidationFailed) as refused:
        _register(ai, factories.tiny_weights())
    message = refused.value.errors["weights"][0]
    assert (
        "took longer than 0.2 s" in message and "MODEL_CHECK_TIMEOUT_SECONDS" in message
    )


def test_a_check_over_its_memory_is_refused_and_the_web_process_lives_on(db, isolated):
    isolated.MODEL_CHECK_MEMORY_BYTES = 64 * 1024**2  # torch alone needs far more
    ai = factories.make_ai_system(factories.make_org())
    with pytest.raises(ValidationFailed) as refused:
        _register(ai, factories.tiny_weights())
    message = refused.value.errors["weights"][0]
    assert "could not be built within the checker's limits" in message
    assert "0.0625 GiB" in message


def _register_onnx(ai, data: bytes, version: str = "onnx-1") -> ModelVersion:
    return registry.model_version_register(
        principal=Principal(organization=ai.organization, role="admin"),
        ai_system=ai,
        version=version,
        onnx=data,
        output={"kind": "probability"},
        feature_schema={**factories.TINY_SCHEMA, "baseline": factories.TINY_BASELINE},
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
    )


def test_an_onnx_model_is_checked_and_planned_in_the_child(db, isolated, monkeypatch):
    """The web process never runs the client's graph: the plan comes from the child,
    and a graph that loops forever is stopped there and refused by name."""
    from compliance.registry import model_check
    from tests.hostile_onnx import build as hostile

    def refuse(*_, **__):
        raise AssertionError("the ONNX model was run in the web process")

    monkeypatch.setattr(model_check, "onnx_plan_answer", refuse)
    isolated.ONNX_SMOKE_SECONDS = 1
    ai = factories.make_ai_system(factories.make_org())
    weights = hostile.WEIGHTS  # a well-formed logistic model of the same width
    from onnx import numpy_helper

    mv = _register_onnx(
        ai, hostile._matmul_sigmoid(numpy_helper.from_array(weights, "w"))
    )
    assert mv.execution == "onnx_torch" and mv.onnx_plan["checks"]["rows"] == 1
    with pytest.raises(ValidationFailed) as refused:
        _register_onnx(ai, hostile.loop_never_ends(), version="onnx-2")
    assert "(time_limit)" in refused.value.errors["onnx"][0]
    assert not ModelVersion.objects.filter(ai_system=ai, version="onnx-2").exists()
